"""`agent solve` refuses bad input and an unreachable server with one sentence and exit
code 2, in-process (no model server or sandbox is started for them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BAD_INPUTS = {
    "missing": None,
    "empty": b"",
    "not_utf8": b"\xff\xfe{}",
    "malformed": b'{"prompt": "def f():\\n"',
    "wrong_type": json.dumps({"prompt": 3, "entry_point": "f"}).encode(),
    "entry_point_absent": json.dumps({"prompt": "def g():\n    pass\n", "entry_point": "f"}).encode(),
    "test_does_not_compile": json.dumps({"prompt": "def f():\n    pass\n", "entry_point": "f",
                                         "test": "def check(:"}).encode(),
}


def solve(*args: str):
    result = CliRunner().invoke(app, ["solve", *args])
    return result.exit_code, result.output, result.exception


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_sentence_and_exit_2(tmp_path, case):
    path = tmp_path / "problem.json"
    if BAD_INPUTS[case] is not None:
        path.write_bytes(BAD_INPUTS[case])
    code, output, exception = solve(str(path), "--out", str(tmp_path / "out"))
    assert code == 2 and isinstance(exception, SystemExit), exception
    assert "Traceback" not in output and output.strip().startswith("error:")
    assert len(output.strip().splitlines()) == 1, output


def test_unreachable_server_is_one_sentence_and_exit_2(tmp_path):
    code, output, exception = solve(str(EXAMPLES / "is_even.json"), "--out", str(tmp_path),
                                    "--base-url", "http://127.0.0.1:9/v1")
    assert code == 2 and isinstance(exception, SystemExit), exception
    assert "127.0.0.1:9" in output and "Traceback" not in output


@pytest.mark.parametrize("options, message", [
    (["--max-tokens", "3"], "invalid option --max-tokens"),
    (["--search-temperature", "0"], "invalid option --search-temperature"),
    (["--token-budget", "0"], "invalid option --token-budget"),
    (["--time-budget", "0"], "invalid option --time-budget"),
    (["--react-protocol", "smoke"], "Invalid value for '--react-protocol'"),
    (["--policy", "guess"], "Invalid value for '--policy'"),
])
def test_every_solver_flag_reaches_the_configuration(tmp_path, options, message):
    code, output, _ = solve(str(EXAMPLES / "is_even.json"), "--out", str(tmp_path), *options)
    assert code == 2 and message in output and "Traceback" not in output


def test_solve_in_process_with_a_scripted_model(tmp_path):
    """The CLI's wiring end to end in one process: problem file, client, controller, the real
    bubblewrap sandbox, result.json, trace and the printed report."""
    from tests.unit.scripted_server import ScriptedServer

    bad = "```python\ndef median(xs):\n    return sorted(xs)[len(xs) // 2]\n```"
    good = ("```python\ndef median(xs):\n    s = sorted(xs)\n    n = len(s)\n"
            "    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2\n```")
    problem = tmp_path / "median.json"
    problem.write_text(json.dumps({
        "task_id": "demo/median", "entry_point": "median",
        "prompt": 'def median(xs: list) -> float:\n    """Median of xs.\n    >>> median([3, 1, 2])\n    2\n'
                  '    >>> median([4, 1, 2, 3])\n    2.5\n    """\n',
        "test": "def check(candidate):\n    assert candidate([3, 1, 2]) == 2\n    assert candidate([5, 1, 2, 3]) == 2.5\n"}))
    with ScriptedServer([bad, good]) as server:
        code, output, _ = solve(str(problem), "--base-url", server.base_url, "--sandbox", "process",
                                "--out", str(tmp_path / "out"), "--rounds", "2")
    assert code == 0, output
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["solved"] and [r["hidden_passed"] for r in result["rounds"]] == [False, True]
    assert [r["action"] for r in result["rounds"]] == ["generate", "repair"]
    assert "expected 2.5" in server.requests[1]["messages"][-1]["content"]
    assert "SOLVED" in output and "2 rounds, 20 tokens" in output and output.count("def median(") == 1
    trace = [json.loads(line) for line in (tmp_path / "out" / "trace.jsonl").read_text().splitlines()]
    assert [e["node"] for e in trace if e["kind"] == "model_call"] == ["generate", "generate"]
