"""Evalplus expected outputs are the canonical solution's, computed once in the sandbox on
either backend: the values keep their types (tuple, set, float, big int, None, dict), the
tests judge by them, and the cache answers the next time."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app

PROMPT = 'def shapes(n):\n    """Values of many kinds.\n    >>> shapes(1)[0]\n    (1, 2)\n    """\n'
CANONICAL = ("    return [(n, n + 1), {n, 2 * n}, n / 3, 2 ** (64 + n), None, {'k': [n, 'x']}, 'é' * n, True]\n")
RECORD = {"task_id": "Plus/0", "entry_point": "shapes", "prompt": PROMPT, "canonical_solution": CANONICAL,
          "base_input": [[1], [2]], "plus_input": [[3], [40]], "atol": 0}
SAMPLES = [
    CANONICAL,
    "    return [(n, n + 1), {n, 2 * n}, n / 3 + 1e-9, 2 ** (64 + n), None, {'k': [n, 'x']}, 'é' * n, True]\n",
    "    return [[n, n + 1], {n, 2 * n}, n / 3, 2 ** (64 + n), None, {'k': [n, 'x']}, 'é' * n, True]\n",  # list
    "    return [(n, n + 1), {n, 2 * n}, n / 3, 2 ** (64 + n), None, {'k': [n, 'x']}, 'é' * n, 1]\n",  # 1 for True
    "    return [(n, n + 1), {n, 2 * n}, n / 3, 2 ** (64 + n) if n < 3 else 0, None, {'k': [n, 'x']}, 'é' * n, True]\n",
]


@pytest.mark.parametrize("backend", ["docker", "process"])
def test_expected_outputs_are_computed_in_the_sandbox_and_cached(docker_image, backend, tmp_path):
    from eval.datasets import read_dataset
    from eval.expected import reference_of
    from sandbox.cache import cache_dir

    # a canonical solution of its own (the cache is keyed by content): computed by this test
    record = dict(RECORD, canonical_solution=CANONICAL + f"    # {uuid.uuid4()}\n")
    problems = tmp_path / "plus.jsonl"
    problems.write_text(json.dumps(record) + "\n")
    cached = cache_dir() / "expected" / f"{reference_of(read_dataset(problems).problems[0]).key()}.json"
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps({"task_id": "Plus/0", "completion": c}) + "\n" for c in SAMPLES))

    def check(out: Path) -> tuple[list[bool], str]:
        result = CliRunner().invoke(app, ["check", str(samples), "--problems", str(problems), "--out", str(out),
                                          "--sandbox", backend, "--workers", "2"])
        assert result.exit_code == 0 and "Traceback" not in result.output, result.output
        return [json.loads(line)["passed"] for line in out.read_text().splitlines()], result.output

    first, said = check(tmp_path / "first.jsonl")
    # the canonical solution passes; a float within 1e-6 passes; a list for a tuple, 1 for
    # True, a wrong big int on an extra input fail
    assert first == [True, True, False, False, False]
    assert "computing the expected outputs of 1 evalplus problem" in said
    assert cached.is_file()
    again, said = check(tmp_path / "again.jsonl")
    assert again == first and "computing the expected outputs" not in said
