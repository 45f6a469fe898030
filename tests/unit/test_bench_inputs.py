"""`agent bench` and `agent report` refuse bad input with one clear line and exit code 2,
before any server or sandbox starts; `agent report` compares several runs."""

from __future__ import annotations

import asyncio
import json

import pytest
from typer.testing import CliRunner

from agent.cli import app
from tests.unit.test_bench import FakeSolver, bench

runner = CliRunner()


def invoke(*args):
    result = runner.invoke(app, [*map(str, args)])
    return result.exit_code, result.output


@pytest.mark.parametrize("options, message", [
    (["--k", "0,1"], "--k must be comma-separated positive integers"),
    (["--k", "a"], "--k must be comma-separated positive integers"),
    (["--n", "0"], "invalid option --n"),
    (["--rounds", "-1"], "invalid option --rounds"),
    (["--policy", "guess"], "Invalid value for '--policy'"),
    (["--feedback", "peek"], "Invalid value for '--feedback'"),
    (["--react-protocol", "smoke"], "Invalid value for '--react-protocol'"),
    (["--max-tokens", "3"], "invalid option --max-tokens"),
    (["--search-temperature", "0"], "invalid option --search-temperature"),
    (["--token-budget", "0"], "invalid option --token-budget"),
    (["--time-budget", "-1"], "invalid option --time-budget"),
    (["--dataset", "/nonexistent.jsonl"], "does not exist"),
    (["--sandbox", "vm"], "Invalid value for '--sandbox'"),
    (["--concurrency", "0"], "Invalid value for '--concurrency'"),
])
def test_bad_bench_options(tmp_path, options, message):
    code, output = invoke("bench", "--out", tmp_path / "run", *options)
    assert code == 2 and message in output and "Traceback" not in output
    assert not (tmp_path / "run").exists()


def test_a_dataset_without_hidden_tests_is_refused(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"task_id": "t/1", "prompt": "def f():\n    pass\n", "entry_point": "f"}) + "\n")
    code, output = invoke("bench", "--out", tmp_path / "run", "--dataset", path)
    assert code == 2 and "t/1 has no `test`" in output


def test_report_refuses_a_folder_that_is_not_a_run(tmp_path):
    code, output = invoke("report", tmp_path)
    assert code == 2 and "not a bench run directory" in output


def test_report_compares_honest_and_oracle_runs(tmp_path):
    from sandbox import SandboxConfig, open_sandbox

    with open_sandbox(SandboxConfig(backend="process", workers=2), say=lambda m: None) as box:
        honest, honest_dir = bench(tmp_path / "honest", box, FakeSolver(), count=2, n=2)
        asyncio.run(honest.run())
        oracle, oracle_dir = bench(tmp_path / "oracle", box, FakeSolver(), count=2, n=2, feedback="hidden")
        asyncio.run(oracle.run())
    code, output = invoke("report", honest_dir.path, oracle_dir.path, "--out", tmp_path / "both")
    assert code == 0, output
    report = (tmp_path / "both" / "report.md").read_text()
    rows = [line for line in report.splitlines() if line.startswith("| run") is False and "repair/" in line]
    assert any("[ORACLE]" in r for r in rows) and any("[ORACLE]" not in r for r in rows)
    assert (tmp_path / "both" / "plots" / "pass_at_k_by_round.png").exists()
    assert json.loads((oracle_dir.path / "summary.json").read_text())["oracle"] is True
