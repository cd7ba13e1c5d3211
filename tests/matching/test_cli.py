import json

from click.testing import CliRunner

from matching.cli import match
from matching.instance import instance_to_json
from matching.synthetic import generate
from tests.matching.conftest import ZHUSHAN


def write(tmp_path, data, name="instance.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_solve_end_to_end(tmp_path):
    inst = generate(12, 40, 5)
    src = write(tmp_path, instance_to_json(inst))
    out = tmp_path / "result.json"
    result = CliRunner().invoke(match, ["solve", "--input", str(src), "--output", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["format"] == "placefund.match.result/1"
    assert data["summary"]["proposals"] == len(data["assignment"]) > 0
    assert data["summary"]["total_score"] == sum(a["score"] for a in data["assignment"])
    summary = data["summary"]
    assert summary["total_score"] <= summary["bound"] <= summary["lp_bound"]
    first = data["assignment"][0]
    assert [c["name"] for c in first["components"]][:2] == ["kind", "industry"]
    assert first["components"][0]["reason"]["zh"].startswith("合作類型相符")
    selected = {(c["offer"], c["request"]) for c in data["candidates"] if c["selected"]}
    assert selected == {(a["offer"], a["request"]) for a in data["assignment"]}
    for cand in data["candidates"]:
        assert cand["score"] == sum(cand["points"])
    assert "proposals, total score" in result.output


def test_designation_csv_option(tmp_path):
    data = {
        "offers": [{"id": "o1", "kinds": ["sponsorship"], "budget": 100000}],
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
    src = write(tmp_path, data)
    csv = tmp_path / "designations.csv"
    csv.write_text(f"town_code,type\n{ZHUSHAN},intermediate\n", encoding="utf-8")
    out = tmp_path / "result.json"
    args = ["solve", "--input", str(src), "--output", str(out), "--designations", str(csv)]
    result = CliRunner().invoke(match, args)
    assert result.exit_code == 0, result.output
    (a,) = json.loads(out.read_text(encoding="utf-8"))["assignment"]
    assert a["components"][-1]["points"] == 100


def test_bad_input_names_the_field_and_writes_nothing(tmp_path):
    src = write(tmp_path, {"offers": [{"id": "o1", "kinds": [], "budget": "lots"}], "requests": []})
    out = tmp_path / "result.json"
    result = CliRunner().invoke(match, ["solve", "--input", str(src), "--output", str(out)])
    assert result.exit_code == 2
    assert "offers[0].budget" in result.output
    assert "offers[0].kinds" in result.output
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [src]


def test_bad_designation_line_is_reported(tmp_path):
    src = write(tmp_path, {"offers": [], "requests": []})
    csv = tmp_path / "d.csv"
    csv.write_text("town_code,type\n12345678,agricultural\n", encoding="utf-8")
    out = tmp_path / "r.json"
    args = ["solve", "--input", str(src), "--output", str(out), "--designations", str(csv)]
    result = CliRunner().invoke(match, args)
    assert result.exit_code == 2
    assert "line 2: unknown town code 12345678" in result.output
    assert not out.exists()


def test_infeasible_exits_3_and_writes_nothing(tmp_path):
    data = {
        "offers": [{"id": "o1", "kinds": ["sponsorship"], "budget": 100000, "capacity": 1}],
        "requests": [
            {
                "id": f"r{i}",
                "kind": "sponsorship",
                "amount": 50000,
                "industry": "0895",
                "town_code": ZHUSHAN,
            }
            for i in (1, 2)
        ],
        "fixed": [{"offer": "o1", "request": "r1"}, {"offer": "o1", "request": "r2"}],
    }
    src = write(tmp_path, data)
    out = tmp_path / "result.json"
    result = CliRunner().invoke(match, ["solve", "--input", str(src), "--output", str(out)])
    assert result.exit_code == 3
    assert "infeasible (capacity): offer o1" in result.output
    assert not out.exists()


def test_missing_input_file(tmp_path):
    out = tmp_path / "r.json"
    result = CliRunner().invoke(
        match, ["solve", "--input", str(tmp_path / "nope.json"), "--output", str(out)]
    )
    assert result.exit_code == 2
    assert "no such file" in result.output


def test_no_progress_when_stderr_is_not_a_terminal(tmp_path):
    # The README promises progress bars on a terminal only; click would still print each
    # stage's label to a pipe.
    src = write(tmp_path, instance_to_json(generate(6, 20, 1)))
    out = tmp_path / "result.json"
    result = CliRunner().invoke(match, ["solve", "--input", str(src), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert "Scoring" not in result.output


def test_progress_bars_on_a_terminal(monkeypatch):
    from matching import cli

    monkeypatch.setattr(cli, "_is_terminal", lambda stream: True)
    bars = cli._StageBars(enabled=True)
    assert bars.enabled
    assert not cli._StageBars(enabled=False).enabled
    monkeypatch.setattr(cli, "_is_terminal", lambda stream: False)
    assert not cli._StageBars(enabled=True).enabled
