from matching import industry


def test_tree_has_every_code_under_one_root():
    tree = industry.tree()
    assert tree.number_of_nodes() == 620  # 619 codes and the virtual root
    assert sorted(tree.successors(industry.ROOT)) == list("ABCDEFGHIJKLMNOPQRS")


def test_proximity_inside_the_named_branch_is_zero():
    assert industry.proximity("C", "0895") == 0
    assert industry.proximity("089", "0895") == 0
    assert industry.proximity("0895", "0895") == 0


def test_proximity_is_tree_distance_within_a_section():
    assert industry.proximity("0891", "0895") == 2  # siblings under 089
    assert industry.proximity("0811", "0895") == 4  # same 2-digit 08
    assert industry.proximity("0895", "089") == 1  # request broader than the interest


def test_proximity_across_sections_is_none():
    assert industry.proximity("A", "0895") is None


def test_labels_in_both_languages():
    assert industry.label("C") == ("C 製造業", "C Manufacturing")
    zh, en = industry.label("0895")
    assert zh == "0895 製茶業"
    assert "section C Manufacturing" in en


def test_proximity_table_equals_the_tree_walk():
    # The scorer's table of every pair (computed from ancestor chains) against the NetworkX
    # tree walk that explanations use, for every code against a spread of interests.
    from matching.scoring import _proximities

    table = _proximities()
    codes = industry.codes()
    for interest in codes[::7]:
        row = table[industry.code_index()[interest]]
        expected = [industry.proximity(interest, c) for c in codes]
        assert row.tolist() == [-1 if d is None else d for d in expected]
