"""Dataset files in their own formats: MBPP's records (original and sanitized) become
problems whose reference solution passes the hidden tests; the format is detected or
forced; a bad record is one sentence naming its file and line, or is left out with
--skip-bad; the bench runs such a file as it is; `agent inspect` shows what the agent sees."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from eval.datasets import read_dataset
from eval.expected import ExpectedCache, complete_expected
from eval.problems import ProblemError, hidden_job
from tools.visible_tests import extract_visible_tests
from sandbox import SandboxConfig, open_sandbox

pytestmark = pytest.mark.unit

ORIGINAL = {"task_id": 2, "text": "Write a function to find the shared elements from the given two lists.",
            "code": "def similar_elements(test_tup1, test_tup2):\r\n  res = tuple(set(test_tup1) & set(test_tup2))\r\n"
                    "  return (res) ",
            "test_list": ["assert set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))",
                          "assert set(similar_elements((1, 2, 3, 4),(5, 4, 3, 7))) == set((3, 4))"],
            "test_setup_code": "", "challenge_test_list": ["assert similar_elements((1,), (2,)) == ()"]}
SANITIZED = {"task_id": 3, "prompt": "Write a python function to identify non-prime numbers.",
             "code": "import math\ndef is_not_prime(n):\n    result = False\n    for i in range(2, int(math.sqrt(n)) + 1):\n"
                     "        if n % i == 0:\n            result = True\n    return result",
             "test_imports": ["import math"],
             "test_list": ["assert is_not_prime(2) == False", "assert is_not_prime(10) == True",
                           "assert is_not_prime(35) == True"]}
WRONG_PRIME = "\ndef is_not_prime(n):\n    return n % 2 == 0\n"


def write(path: Path, *records) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


@pytest.fixture(scope="module")
def sandbox():
    with open_sandbox(SandboxConfig(backend="process", workers=2), say=lambda m: None) as box:
        yield box


def test_mbpp_records_become_problems_the_reference_passes(tmp_path, sandbox):
    dataset = read_dataset(write(tmp_path / "mbpp.jsonl", ORIGINAL, SANITIZED))
    assert dataset.format == "mbpp" and [p.task_id for p in dataset.problems] == ["MBPP/2", "MBPP/3"]
    first, second = dataset.problems
    assert first.entry_point == "similar_elements" and "def similar_elements(test_tup1, test_tup2):" in first.prompt
    assert ORIGINAL["text"] in first.prompt and first.visible_tests == [ORIGINAL["test_list"][0]]
    assert ORIGINAL["test_list"][1] not in first.prompt  # the rest of the tests stay hidden
    assert second.test.startswith("import math") and second.test.count("assert") == 3
    for problem, record in ((first, ORIGINAL), (second, SANITIZED)):
        assert sandbox.run(hidden_job(problem, "\n" + record["code"] + "\n")).passed
    assert not sandbox.run(hidden_job(second, WRONG_PRIME)).passed  # the hidden tests can fail


def test_the_challenge_tests_join_under_a_flag(tmp_path):
    path = write(tmp_path / "mbpp.jsonl", ORIGINAL)
    assert read_dataset(path).problems[0].test.count("assert") == 2
    assert read_dataset(path, challenge=True).problems[0].test.count("assert") == 3


def test_a_bad_record_names_its_file_and_line_or_is_skipped(tmp_path):
    broken = {k: v for k, v in SANITIZED.items() if k != "test_list"}
    no_function = {**SANITIZED, "task_id": 4, "test_list": ["assert max(1, 2) == 2"]}
    path = write(tmp_path / "mbpp.jsonl", ORIGINAL, broken, "[1, 2]", no_function)
    with pytest.raises(ProblemError, match=r"mbpp.jsonl line 2: test_list: Field required \(--skip-bad"):
        read_dataset(path)
    dataset = read_dataset(path, skip_bad=True)
    assert [p.task_id for p in dataset.problems] == ["MBPP/2"] and len(dataset.skipped) == 3
    assert "line 4: the first test calls no function that the reference code defines" in dataset.skipped[2]


def test_the_format_is_detected_or_forced(tmp_path):
    human = {"task_id": "t/0", "prompt": 'def f(x):\n    """Twice x.\n    >>> f(2)\n    4\n    """\n',
             "entry_point": "f", "test": "def check(c):\n    assert c(3) == 6\n"}
    assert read_dataset(write(tmp_path / "h.jsonl", human)).format == "human-eval"
    with pytest.raises(ProblemError, match="line 1: code: Field required"):
        read_dataset(tmp_path / "h.jsonl", format="mbpp")
    with pytest.raises(ProblemError, match="match no known format"):
        read_dataset(write(tmp_path / "x.jsonl", {"question": "?"}))


def test_the_bench_runs_an_mbpp_file_as_it_is(tmp_path):
    from tests.unit.scripted_server import ScriptedServer

    path = write(tmp_path / "mbpp.jsonl", SANITIZED)
    reply = f"```python\n{SANITIZED['code']}\n```"
    with ScriptedServer([], default=reply) as server:
        result = CliRunner().invoke(app, ["bench", "--dataset", str(path), "--n", "1", "--k", "1", "--rounds", "0",
                                          "--sandbox", "process", "--base-url", server.base_url,
                                          "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["experiment"]["dataset_format"] == "mbpp" and run["problems_total"] == 1
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["pass_at_k"]["0"]["1"] == 1.0


def test_inspect_shows_what_the_agent_sees(tmp_path):
    path = write(tmp_path / "mbpp.jsonl", ORIGINAL, SANITIZED)
    result = CliRunner().invoke(app, ["inspect", str(path), "--task", "MBPP/3", "--json"])
    assert result.exit_code == 0, result.output
    seen = json.loads(result.output)
    assert seen["visible_tests"] == ["assert is_not_prime(2) == False"] and seen["visible_from"] == "given"
    assert seen["inputs"][0] == {"source": "example", "test": "assert is_not_prime(2) == False",
                                 "call": "is_not_prime(2)"}
    assert {i["source"] for i in seen["inputs"][1:]} == {"mutation"}
    assert seen["harness"]["imports"] == "import math"
    missing = CliRunner().invoke(app, ["inspect", str(path), "--task", "MBPP/9"])
    assert missing.exit_code == 2 and "holds no task 'MBPP/9'" in missing.output


HUMANEVAL_PLUS = {"task_id": "HumanEval/2", "entry_point": "truncate_number",
                  "prompt": 'def truncate_number(number: float) -> float:\n    """ The decimal part of a positive '
                            'number.\n    >>> truncate_number(3.5)\n    0.5\n    """\n',
                  "canonical_solution": "    return number % 1.0\n", "base_input": [[3.5], [1.25]],
                  "plus_input": [[123.456], [0.0001]], "atol": 1e-06}
MBPP_PLUS = {"task_id": "Mbpp/3", "entry_point": "is_not_prime",
             "prompt": '"""\nWrite a python function to identify non-prime numbers.\nassert is_not_prime(2) == False\n"""\n',
             "canonical_solution": "import math\ndef is_not_prime(n):\n    if n < 2:\n        return True\n"
                                   "    return any(n % i == 0 for i in range(2, int(math.sqrt(n)) + 1))\n",
             "base_input": [[2], [10]], "plus_input": [[1], [0]], "atol": 0}


def completed(problems, sandbox, cache_folder, skip_bad=False):
    """The problems with their expected outputs, computed with `sandbox` where not cached."""
    return complete_expected(problems, ExpectedCache(cache_folder), lambda: contextlib.nullcontext(sandbox),
                             skip_bad=skip_bad, say=lambda m: None)


def test_evalplus_records_are_judged_on_base_and_on_plus(tmp_path, sandbox):
    from eval.judging import base_problem

    dataset = read_dataset(write(tmp_path / "plus.jsonl", HUMANEVAL_PLUS, MBPP_PLUS))
    assert dataset.format == "evalplus"
    assert all(p.test is None for p in dataset.problems)  # until the expected outputs are known
    problems, skipped = completed(dataset.problems, sandbox, tmp_path / "expected")
    assert skipped == [] and len(list((tmp_path / "expected").glob("*.json"))) == 2
    decimal, prime = problems
    # the tests hold the outputs: judging a candidate runs no reference code
    assert "% 1.0" not in decimal.test and "math.sqrt" not in prime.test
    assert "def is_not_prime(n):" in prime.prompt and "assert is_not_prime(2) == False" in prime.prompt
    assert extract_visible_tests(prime.prompt, "is_not_prime") == ["assert is_not_prime(2) == False"]
    judge = lambda problem, completion: sandbox.run(hidden_job(problem, completion)).passed  # noqa: E731
    right, rounded = "    return number - int(number)\n", "    return round(number % 1.0, 2)\n"
    assert judge(decimal, right) and judge(base_problem(decimal), right)
    # right on the base inputs, wrong on an extra one (0.0001 rounds to 0.0): base passes, plus fails
    assert judge(base_problem(decimal), rounded) and not judge(decimal, rounded)
    naive = "\ndef is_not_prime(n):\n    return any(n % i == 0 for i in range(2, n))\n"  # 0 and 1 wrong
    assert judge(base_problem(prime), naive) and not judge(prime, naive)
    assert judge(prime, "\n" + MBPP_PLUS["canonical_solution"])


class NoSandbox:
    def __enter__(self):
        raise AssertionError("the cache should have answered")

    def __exit__(self, *exc):
        return False


def test_expected_outputs_are_computed_once_and_cached_by_content(tmp_path, sandbox):
    problems = read_dataset(write(tmp_path / "plus.jsonl", HUMANEVAL_PLUS, MBPP_PLUS)).problems
    first, _ = completed(problems, sandbox, tmp_path / "expected")
    again, _ = complete_expected(problems, ExpectedCache(tmp_path / "expected"), NoSandbox, say=lambda m: None)
    assert [p.test for p in again] == [p.test for p in first]
    # another input is another key: computed, not read from the old entry
    changed = dict(MBPP_PLUS, plus_input=[[1], [4]])
    other = read_dataset(write(tmp_path / "changed.jsonl", changed)).problems
    with pytest.raises(AssertionError, match="cache should have answered"):
        complete_expected(other, ExpectedCache(tmp_path / "expected"), NoSandbox, say=lambda m: None)
    # a damaged entry is computed again
    for path in (tmp_path / "expected").glob("*.json"):
        path.write_text('{"version": 1, "values": [["f", "nonsense"]]}')
    fresh, _ = complete_expected(problems, ExpectedCache(tmp_path / "expected"),
                                 lambda: contextlib.nullcontext(sandbox), say=lambda m: None)
    assert [p.test for p in fresh] == [p.test for p in first]


def test_a_canonical_solution_that_fails_stops_the_load_or_is_left_out(tmp_path, sandbox):
    broken = dict(MBPP_PLUS, task_id="Mbpp/bad", plus_input=[[1], ["x"]])  # "x" < 2 raises TypeError
    problems = read_dataset(write(tmp_path / "plus.jsonl", HUMANEVAL_PLUS, broken)).problems
    with pytest.raises(ProblemError, match=r"Mbpp/bad: the canonical solution fails on input 3 \(failed: .* not supported"):
        completed(problems, sandbox, tmp_path / "expected")
    kept, skipped = completed(problems, sandbox, tmp_path / "expected", skip_bad=True)
    assert [p.task_id for p in kept] == ["HumanEval/2"] and len(skipped) == 1 and "Mbpp/bad" in skipped[0]


def test_an_evalplus_bench_reports_base_and_plus(tmp_path):
    from tests.unit.scripted_server import ScriptedServer

    path = write(tmp_path / "plus.jsonl", HUMANEVAL_PLUS)
    with ScriptedServer([], default="```python\ndef truncate_number(number):\n    return round(number % 1.0, 2)\n```"
                        ) as server:
        result = CliRunner().invoke(app, ["bench", "--dataset", str(path), "--n", "1", "--k", "1", "--rounds", "0",
                                          "--sandbox", "process", "--base-url", server.base_url,
                                          "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["pass_at_k_base"]["0"]["1"] == 1.0 and summary["pass_at_k"]["0"]["1"] == 0.0
    assert "## evalplus: base and plus" in (tmp_path / "run" / "report.md").read_text()


def test_inspect_says_where_evalplus_outputs_come_from(tmp_path):
    path = write(tmp_path / "plus.jsonl", HUMANEVAL_PLUS)
    result = CliRunner().invoke(app, ["inspect", str(path), "--json"])
    assert result.exit_code == 0, result.output
    harness = json.loads(result.output)["harness"]
    assert harness["test"] is None and "outputs on 4 inputs (2 base)" in harness["expected_outputs"]
    assert harness["imports"] == "import json as _json, math as _math"
