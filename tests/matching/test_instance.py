import json

import pytest

from matching.errors import InvalidInstance
from matching.instance import instance_to_json, load_instance, parse_instance
from matching.synthetic import generate
from tests.matching.conftest import ZHUSHAN


def minimal():
    return {
        "offers": [{"id": "o1", "kinds": ["sponsorship"], "budget": 100000, "capacity": 1}],
        "requests": [
            {
                "id": "r1",
                "kind": "sponsorship",
                "amount": 50000,
                "industry": "0895",
                "town_code": ZHUSHAN,
            }
        ],
    }


def problems(data):
    with pytest.raises(InvalidInstance) as info:
        parse_instance(data)
    return dict(info.value.problems)


def test_round_trip():
    inst = generate(5, 9, 3)
    assert parse_instance(json.loads(json.dumps(instance_to_json(inst)))) == inst


def test_minimal_instance_gets_defaults():
    inst = parse_instance(minimal())
    assert inst.params.k == 20
    assert inst.offers[0].regions == ()


def test_errors_name_the_offending_field():
    data = minimal()
    data["offers"][0].update(budget=12.5, kinds=["gift"], industries=["9999"], capcity=2)
    data["requests"][0].update(amount=50050, town_code="00000000", kind=True)
    found = problems(data)
    assert "must be an integer amount in minor units" in found["offers[0].budget"]
    assert "unknown value 'gift'" in found["offers[0].kinds[0]"]
    assert "unknown DGBAS industry code '9999'" in found["offers[0].industries[0]"]
    assert found["offers[0].capcity"] == "unknown field"
    assert "whole dollars" in found["requests[0].amount"]
    assert "unknown township code" in found["requests[0].town_code"]
    assert "non-empty string" in found["requests[0].kind"]


def test_references_must_exist_and_not_contradict():
    data = minimal()
    data["related_parties"] = [{"a": "o1", "b": "typo"}]
    data["declined"] = [{"offer": "o1", "request": "r1"}]
    data["fixed"] = [{"offer": "o1", "request": "r1"}, {"offer": "o9", "request": "r1"}]
    data["offers"].append(dict(data["offers"][0]))
    found = problems(data)
    assert "no offer, request or organisation" in found["related_parties[0].b"]
    assert "also declined" in found["fixed[0]"]
    assert "unknown offer 'o9'" in found["fixed[1].offer"]
    assert "duplicate id 'o1'" in found["offers[1].id"]


def test_fixed_conflict_is_rejected():
    data = minimal()
    data["related_parties"] = [{"a": "o1", "b": "r1"}]
    data["fixed"] = [{"offer": "o1", "request": "r1"}]
    assert "conflict of interest" in problems(data)["fixed[0]"]


def test_params_and_share():
    data = minimal()
    data["params"] = {"min_priority_share": "30%", "k": 0, "weights": {"industry": -1}}
    found = problems(data)
    assert "at least 1" in found["params.k"]
    assert "at least 0" in found["params.weights.industry"]
    data["params"] = {"min_priority_share": "1/3"}
    assert str(parse_instance(data).params.min_priority_share) == "1/3"
    data["params"] = {"min_priority_share": 0.3}
    assert "must be a string" in problems(data)["params.min_priority_share"]


def test_designations_in_the_instance():
    data = minimal()
    data["designations"] = [{"town_code": ZHUSHAN, "type": "intermediate"}]
    assert parse_instance(data).requests[0].priority_type == "intermediate"


def test_load_reports_bad_json(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{\n  "offers": [,]\n}')
    with pytest.raises(InvalidInstance, match=r"not valid JSON.*line 2"):
        load_instance(path)


@pytest.mark.parametrize("written", ["0.000000001", "0.000000001%", "99.999999999%", "1/3"])
def test_mip_gap_written_back_reads_again(written):
    data = minimal()
    data["params"] = {"mip_gap": written}
    first = parse_instance(data)
    again = parse_instance(json.loads(json.dumps(instance_to_json(first))))
    assert again.params.mip_gap == first.params.mip_gap
