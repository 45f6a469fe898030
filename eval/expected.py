"""Expected outputs of an evalplus problem: its canonical solution's, computed once in the
sandbox and cached by content.

An evalplus record gives inputs and a canonical solution, not outputs. The canonical
solution is a dataset's code, untrusted like its tests: it runs as a candidate does, on the
candidate side of the sandbox, called once per input by a test that records what it
returned (`Job.values`). The values come back in the sandbox's codec (`encode`), are kept
under the sha256 of what decides them (program, entry point, inputs), and are written into
the problem's tests as literals: judging a candidate then runs no reference code at all.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel, Field

from eval.problems import Problem, ProblemError
from sandbox.executor import CodecError, decode
from sandbox.verdict import Job, TestCase

VERSION = 1  # of the cached files and of what decides them
REFERENCE_TIMEOUT = 20.0  # seconds per input for the canonical solution, start-up included
INPUTS_PER_JOB = 100  # a job's reply stays far below the channel's frame limit


class EvalplusReference(BaseModel):
    """What an evalplus problem's expected outputs come from."""

    program: str = Field(description="the canonical solution as it runs (with the prompt for HumanEval+)")
    entry_point: str
    inputs: list[list[Any]] = Field(description="base inputs, then extra ones; each the call's arguments")
    base_count: int = Field(ge=1, description="how many of `inputs` are base inputs")
    atol: float = Field(0.0, ge=0)

    def key(self) -> str:
        digest = hashlib.sha256()
        for part in (str(VERSION), self.program, self.entry_point, json.dumps(self.inputs, sort_keys=True)):
            digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
        return digest.hexdigest()

    def jobs(self, timeout: float = REFERENCE_TIMEOUT) -> list[Job]:
        """The canonical solution called once per input, each call's value recorded."""
        tests = [TestCase(name=f"input {i}", source=f"import json\ncandidate(*json.loads({json.dumps(args)!r}))\n")
                 for i, args in enumerate(self.inputs)]
        return [Job(program=self.program, entry_point=self.entry_point, tests=tests[i:i + INPUTS_PER_JOB],
                    timeout=timeout, values=True) for i in range(0, len(tests), INPUTS_PER_JOB)]

    def tests(self, expected: list[Any]) -> tuple[str, str]:
        """The problem's hidden test (base and extra inputs) and its base test, holding the
        expected outputs (encoded) as literals."""
        def test(count: int) -> str:
            return _CHECK.format(inputs=json.dumps(self.inputs[:count]), expected=json.dumps(expected[:count]),
                                 atol=self.atol)
        return test(len(self.inputs)), test(self.base_count)


_CHECK = '''import json as _json, math as _math


def _close(got, expected, atol):
    if isinstance(expected, bool) or isinstance(got, bool):
        return type(got) is type(expected) and got == expected
    if isinstance(expected, float) or (isinstance(got, float) and isinstance(expected, int)):
        if not isinstance(got, (int, float)):
            return False
        if _math.isnan(expected):
            return _math.isnan(got)
        return abs(got - expected) <= max(atol, 1e-6) + 1e-7 * abs(expected)
    if isinstance(expected, (list, tuple)) and isinstance(got, (list, tuple)):
        return type(got) is type(expected) and len(got) == len(expected) and all(
            _close(g, e, atol) for g, e in zip(got, expected))
    return got == expected


def check(candidate):
    from sandbox.executor import decode
    inputs = _json.loads({inputs!r})
    expected = [decode(value) for value in _json.loads({expected!r})]
    for args, want in zip(inputs, expected):
        assert _close(candidate(*args), want, {atol!r})
'''


def reference_of(problem: Problem) -> EvalplusReference | None:
    data = (problem.model_extra or {}).get("evalplus_reference")
    return None if data is None else EvalplusReference.model_validate(data)


def with_expected(problem: Problem, expected: list[Any]) -> Problem:
    """The problem with its hidden test (base and extra inputs) and its base test."""
    reference = reference_of(problem)
    assert reference is not None
    test, base_test = reference.tests(expected)
    return problem.model_copy(update={"test": test, "base_test": base_test})


class ExpectedCache:
    """Expected outputs under `folder`, one file per reference key."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, reference: EvalplusReference) -> Path:
        return self.folder / f"{reference.key()}.json"

    def get(self, reference: EvalplusReference) -> list[Any] | None:
        try:
            data = json.loads(self.path(reference).read_text())
            values = data["values"]
            if data.get("version") != VERSION or len(values) != len(reference.inputs):
                return None
            for value in values:
                decode(value)
            return values
        except (OSError, ValueError, KeyError, TypeError, CodecError):
            return None  # missing or damaged: computed again

    def put(self, reference: EvalplusReference, values: list[Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.path(reference)
        partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
        partial.write_text(json.dumps({"version": VERSION, "values": values}))
        partial.replace(target)


def compute_expected(reference: EvalplusReference, run: Callable[[Job], Any]) -> list[Any]:
    """The canonical solution's value on each input; ValueError (one sentence) where it
    fails, times out or returns what cannot cross the sandbox."""
    values: list[Any] = []
    for job in reference.jobs():
        verdict = run(job)
        for result in verdict.tests:
            if not result.passed:
                raise ValueError(f"the canonical solution fails on {result.name} ({result.message})")
            values.append(result.value)
    if len(values) != len(reference.inputs):
        raise ValueError("the sandbox returned fewer outputs than inputs")
    return values


def complete_expected(problems: list[Problem], cache: ExpectedCache, open_runner: Callable[[], Any],
                      workers: int = 4, skip_bad: bool = False, say: Callable[[str], None] = print,
                      progress: Callable[[int], Callable[[], None]] | None = None
                      ) -> tuple[list[Problem], list[str]]:
    """The problems with their tests, evalplus ones with their expected outputs (from the
    cache, else computed with the sandbox `open_runner()` opens: a context manager that
    gives an object with `run(job)`), and one sentence for each problem left out (only with
    `skip_bad`; otherwise the first failure raises ProblemError)."""
    done: dict[int, list[Any]] = {}
    todo: list[tuple[int, EvalplusReference]] = []
    for index, problem in enumerate(problems):
        reference = reference_of(problem)
        if reference is None or problem.test is not None:
            continue
        cached = cache.get(reference)
        if cached is not None:
            done[index] = cached
        else:
            todo.append((index, reference))
    failures: dict[int, str] = {}
    if todo:
        say(f"computing the expected outputs of {len(todo)} evalplus problem{'s' * (len(todo) != 1)} "
            f"in the sandbox (once; cached in {cache.folder})")
        advance = progress(len(todo)) if progress else (lambda: None)
        with open_runner() as box, ThreadPoolExecutor(max(1, workers)) as pool:
            futures = {pool.submit(compute_expected, reference, box.run): (index, reference)
                       for index, reference in todo}
            for future in as_completed(futures):
                index, reference = futures[future]
                try:
                    values = future.result()
                except ValueError as exc:
                    failures[index] = f"{problems[index].task_id}: {exc}"
                else:
                    cache.put(reference, values)
                    done[index] = values
                advance()
    if failures and not skip_bad:
        first = failures[min(failures)]
        raise ProblemError(f"{first} (--skip-bad leaves such problems out)")
    completed = [with_expected(p, done[i]) if i in done else p for i, p in enumerate(problems) if i not in failures]
    return completed, [failures[i] for i in sorted(failures)]
