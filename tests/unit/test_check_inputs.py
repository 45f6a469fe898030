"""`agent check` refuses bad input with one clear line and exit code 2 (before any sandbox starts)."""

import json

import pytest
from typer.testing import CliRunner

from agent.cli import app
from eval.passk import pass_at_k
from eval.problems import Problem, hidden_job, harness_imports

runner = CliRunner()


def run(*args):
    result = runner.invoke(app, ["check", *map(str, args)])
    return result.exit_code, result.output


@pytest.mark.parametrize("content, message", [
    ('{"task_id": "HumanEval/0", "completion": "x"}\nnot json\n', "line 2 is not valid JSON"),
    ('[1, 2]\n', "line 1 is not a JSON object"),
    ('{"task_id": "HumanEval/0"}\n', "line 1: completion: Field required"),
    ('{"task_id": "Nope/1", "completion": ""}\n', "unknown task_id 'Nope/1'"),
    ('\n\n', "holds no samples"),
])
def test_bad_samples(tmp_path, content, message):
    path = tmp_path / "s.jsonl"
    path.write_text(content)
    code, output = run(path)
    assert code == 2 and message in output and "Traceback" not in output


def test_missing_file_and_bad_options(tmp_path):
    assert run(tmp_path / "absent.jsonl")[0] == 2
    path = tmp_path / "s.jsonl"
    path.write_bytes(b"\xff\xfe\n")
    code, output = run(path)
    assert code == 2 and "not UTF-8" in output
    path.write_text(json.dumps({"task_id": "HumanEval/0", "completion": ""}))
    assert run(path, "--sandbox", "vm")[0] == 2
    assert run(path, "--timeout", "0")[0] == 2
    problems = tmp_path / "p.jsonl"
    problems.write_text('{"task_id": "a", "prompt": "def g():\\n    pass\\n", "entry_point": "f"}\n')
    code, output = run(path, "--problems", problems)
    assert code == 2 and "defines no function named 'f'" in output


def test_problem_contract():
    with pytest.raises(ValueError, match="does not compile"):
        Problem(prompt="def f():\n    '''doc'''\n", entry_point="f", test="def check(:")
    with pytest.raises(ValueError, match="identifier"):
        Problem(prompt="def f():\n    pass\n", entry_point="f-g")
    problem = Problem(prompt="def f():\n", entry_point="f", test="import math\ndef check(candidate):\n    pass\n")
    job = hidden_job(problem, "    return 1\n")
    assert job.program == "def f():\n    return 1\n" and job.setup == "import math"
    assert job.trusted_prelude.endswith("pass\n")
    assert harness_imports("from x import (a,\n b)\ndef check(c):\n    import y\n") == "from x import a, b"


def test_pass_at_k_matches_the_estimator():
    outcomes = [("a", True), ("a", False), ("b", False), ("b", False)]
    assert pass_at_k(outcomes) == {"pass@1": 0.25}
    assert pass_at_k(outcomes, ks=(1, 2)) == {"pass@1": 0.25, "pass@2": 0.5}


def test_samples_are_judged_one_task_at_a_time_in_turn():
    from eval.check import interleaved

    samples = [{"task_id": t} for t in ["a", "a", "a", "b", "c", "c"]]
    assert interleaved(samples) == [0, 3, 4, 1, 5, 2]
    assert sorted(interleaved(samples)) == list(range(6))


def test_worker_counts_are_clamped_with_a_message(capsys):
    from agent.cli import clamp_workers as _clamp_workers

    assert _clamp_workers(100) == 64 and "using 64" in capsys.readouterr().err
    assert _clamp_workers(3) == 3 and capsys.readouterr().err == ""
