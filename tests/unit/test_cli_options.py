"""The solver's options are declared once: `agent solve` and `agent bench` list the same
flags, each flag reaches the configuration, an option the chosen policy does not read is
refused, and no function of the CLI is longer than 40 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import agent.cli.solve
from agent.cli import app
from agent.config import SolverConfig

pytestmark = pytest.mark.unit
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CLI = Path(agent.cli.__file__).parent


def options_of(command: str) -> dict[str, str]:
    params = typer.main.get_command(app).commands[command].params  # type: ignore[attr-defined]
    return {p.name: p.help for p in params if p.name in SolverConfig.model_fields}


def test_solve_and_bench_list_the_same_solver_options():
    solve, bench = options_of("solve"), options_of("bench")
    assert set(solve) == set(SolverConfig.model_fields) == set(bench)
    assert solve == bench
    for flag in ("--timeout", "--input-timeout", "--family"):
        assert flag in CliRunner().invoke(app, ["solve", "--help"], terminal_width=200).output


@pytest.fixture
def configured(monkeypatch):
    """The configuration `agent solve` builds, captured before any service is needed."""
    seen = []

    async def capture(problem, config, client, boxes, target):
        seen.append(config)
        raise typer.Exit(0)

    monkeypatch.setattr(agent.cli.solve, "_solve", capture)
    return seen


def run_solve(tmp_path, *options: str):
    return CliRunner().invoke(app, ["solve", str(EXAMPLES / "is_even.json"), "--out", str(tmp_path),
                                    "--base-url", "http://127.0.0.1:9/v1", *options])


@pytest.mark.parametrize("options, expected", [
    (["--timeout", "5"], {"timeout": 5.0}),
    (["--family", "generic"], {"family": "generic"}),
    (["--policy", "search", "--input-timeout", "2.5", "--inputs", "4", "--no-propose-tests"],
     {"policy": "search", "input_timeout": 2.5, "inputs": 4, "propose_tests": False}),
    (["--policy", "react", "--react-protocol", "tools", "--no-react-constrained"],
     {"policy": "react", "react_protocol": "tools", "react_constrained": False}),
    (["--policy", "best-of-n", "--candidates", "3", "--rounds", "1"], {"policy": "best-of-n", "candidates": 3}),
])
def test_each_flag_reaches_the_configuration(tmp_path, configured, options, expected):
    result = run_solve(tmp_path, *options)
    assert result.exit_code == 0, result.output
    (config,) = configured
    assert {k: getattr(config, k) for k in expected} == expected


@pytest.mark.parametrize("options, flag", [
    (["--policy", "search", "--feedback", "self"], "--feedback"),
    (["--policy", "best-of-n", "--inputs", "3"], "--inputs"),
    (["--policy", "repair", "--react-protocol", "tools"], "--react-protocol"),
    (["--policy", "react", "--candidates", "4"], "--candidates"),
])
def test_an_option_the_policy_does_not_read_is_refused(tmp_path, configured, options, flag):
    result = run_solve(tmp_path, *options)
    assert result.exit_code == 2 and not configured
    line = result.output.strip()
    assert len(line.splitlines()) == 1 and flag in line and "does not read" in line


def test_the_bench_refuses_it_too(tmp_path):
    result = CliRunner().invoke(app, ["bench", "--out", str(tmp_path / "run"), "--policy", "search",
                                      "--feedback", "visible", "--limit", "1"])
    assert result.exit_code == 2 and "the search policy does not read --feedback" in result.output
    assert not (tmp_path / "run").exists()


def test_no_function_of_the_cli_is_longer_than_40_lines():
    long = []
    for path in sorted(CLI.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > 40:
                    long.append(f"{path.name}:{node.name} ({length} lines)")
    assert not long
