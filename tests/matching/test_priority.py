import pytest

from matching.errors import DesignationError, InvalidInstance
from matching.priority import apply_designations, parse_designations, read_designations
from tests.matching.conftest import DONGGANG, ZHUSHAN, request


def test_parses_types_in_english_and_chinese_with_comments_and_extra_columns():
    text = (
        "\ufeff# ILLUSTRATIVE designations, not the official list\n"
        "town_code,town_name,type\n"
        f"{ZHUSHAN},竹山鎮,intermediate\n"
        "\n"
        f"{DONGGANG},東港鎮,農山漁村\n"
    )
    assert parse_designations(text) == {ZHUSHAN: "intermediate", DONGGANG: "agricultural"}


def test_every_bad_line_is_reported_with_its_line_number():
    text = (
        "town_code,type\n"
        f"{ZHUSHAN},intermediate\n"
        "9007010,agricultural\n"  # a leading zero lost
        "99999999,agricultural\n"
        f"{DONGGANG},suburban\n"
        f"{ZHUSHAN},indigenous\n"
        "too,many,fields\n"
    )
    with pytest.raises(DesignationError) as info:
        parse_designations(text)
    problems = dict(info.value.problems)
    assert sorted(problems) == [3, 4, 5, 6, 7]
    assert "leading zero" in problems[3]
    assert "unknown town code 99999999" in problems[4]
    assert "unknown type 'suburban'" in problems[5]
    assert "first on line 2" in problems[6]
    assert "line 3" in str(info.value)


def test_header_must_name_the_columns():
    with pytest.raises(DesignationError, match="lacks type"):
        parse_designations("town_code,kind\n10008040,agricultural\n")
    with pytest.raises(DesignationError, match="empty"):
        parse_designations("# nothing\n")


def test_read_rejects_non_utf8(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes("town_code,type\n10008040,中介城鎮\n".encode("big5"))
    with pytest.raises(DesignationError, match="UTF-8"):
        read_designations(path)


def test_designations_set_request_types_and_catch_disagreement():
    (r,) = apply_designations((request(),), {ZHUSHAN: "intermediate"})
    assert r.priority_type == "intermediate"
    with pytest.raises(InvalidInstance, match="is not designated"):
        apply_designations((request(priority_type="agricultural"),), {})
    with pytest.raises(InvalidInstance, match=r"requests\[0\].priority_type"):
        apply_designations((request(priority_type="agricultural"),), {ZHUSHAN: "indigenous"})
