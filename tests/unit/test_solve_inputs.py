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
