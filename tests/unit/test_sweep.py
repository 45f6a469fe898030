"""`agent sweep`: grid parsing and naming, and a small sweep run in-process with a scripted
model server and the real process sandbox (points are run directories, a rerun resumes,
the comparison is written)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from agent.cli import app
from eval.sweep import SweepError, parse_grid, point_name, points_of
from tests.unit.scripted_server import ScriptedServer

KNOWN = {"temperature", "feedback", "rounds", "concurrency", "n"}


def test_grid_points_are_the_cartesian_product_named_by_their_settings():
    grid = parse_grid(["temperature=0,0.4", "--feedback=visible, none"], KNOWN, {"concurrency"})
    assert grid == {"temperature": ["0", "0.4"], "feedback": ["visible", "none"]}
    assert [p.name for p in points_of(grid)] == ["temperature-0_feedback-visible", "temperature-0_feedback-none",
                                                 "temperature-0.4_feedback-visible", "temperature-0.4_feedback-none"]
    assert point_name({"dataset": "data/my set.jsonl"}) == "dataset-datamyset.jsonl"  # a folder name, never a path


@pytest.mark.parametrize("spec, message", [
    ("temperature", "OPTION=VALUE"), ("colour=red", "no option --colour"), ("concurrency=1,2", "cannot vary"),
    ("temperature=0,0", "repeats a value"),
])
def test_bad_grids_are_one_sentence(spec, message):
    with pytest.raises(SweepError, match=message):
        parse_grid([spec], KNOWN, {"concurrency"})


def test_a_small_sweep_runs_each_point_as_a_run_and_resumes(tmp_path):
    dataset = tmp_path / "data.jsonl"
    with open(dataset, "w") as handle:
        for i in range(3):
            handle.write(json.dumps({"task_id": f"t/{i}", "entry_point": "add",
                                     "prompt": 'def add(a, b):\n    """Adds.\n    >>> add(1, 2)\n    3\n    """\n',
                                     "test": "def check(c):\n    assert c(2, 2) == 4\n"}) + "\n")
    good = "```python\ndef add(a, b):\n    return a + b\n```"
    out = tmp_path / "sweep"
    command = ["sweep", "--out", str(out), "--grid", "temperature=0,0.4", "--", "--n", "2", "--k", "1,2",
               "--rounds", "1", "--dataset", str(dataset), "--sandbox", "process"]
    with ScriptedServer([], default=good) as server:
        result = CliRunner().invoke(app, [*command, "--base-url", server.base_url])
        assert result.exit_code == 0, result.output
        first = len(server.requests)
        again = CliRunner().invoke(app, [*command, "--base-url", server.base_url])
        assert again.exit_code == 0, again.output
        assert len(server.requests) == first, "a rerun of a finished sweep asks the model nothing"
    for name in ("temperature-0", "temperature-0.4"):
        summary = json.loads((out / name / "summary.json").read_text())
        assert summary["pass_at_k"]["0"]["1"] == 1.0 and summary["problems"] == 3
        assert len((out / name / "attempts.jsonl").read_text().splitlines()) == 6
    temperatures = {json.loads((out / name / "run.json").read_text())["experiment"]["solver"]["temperature"]
                    for name in ("temperature-0", "temperature-0.4")}
    assert temperatures == {0.0, 0.4}
    report = (out / "report.md").read_text()
    assert "| temperature | problems | round | pass@1 | pass@2 | tokens per problem |" in report
    assert (out / "plots" / "pass_at_k_by_temperature.png").stat().st_size > 1000
    assert (out / "plots" / "pass1_against_tokens.png").exists()
    rewritten = CliRunner().invoke(app, ["report", str(out)])
    assert rewritten.exit_code == 0 and "report:" in rewritten.output


def test_a_sweep_folder_with_another_grid_is_refused(tmp_path):
    from eval.sweep import SweepManifest, write_manifest

    write_manifest(tmp_path / "s", SweepManifest(grid={"temperature": ["0"]}, points=[], command="x"))
    with pytest.raises(SweepError, match="another grid"):
        write_manifest(tmp_path / "s", SweepManifest(grid={"temperature": ["1"]}, points=[], command="x"))
