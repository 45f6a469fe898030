"""What a private runtime per executor costs: the time from spawn to the executor's greeting,
the memory of an idle executor, and the per-job overhead of a warm pool, on each backend.

    .venv/bin/python benchmarks/executor_start.py --starts 6 --jobs 200 --out results/executor_start.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox import SandboxConfig  # noqa: E402
from sandbox.docker_backend import DockerBackend  # noqa: E402
from sandbox.process_backend import BubblewrapBackend  # noqa: E402
from sandbox.runtime import runtime_size  # noqa: E402
from sandbox.sandbox import PooledSandbox  # noqa: E402
from sandbox.verdict import Job, TestCase  # noqa: E402


def starts(backend, count: int) -> dict:
    times, memory = [], []
    for _ in range(count):
        started = time.perf_counter()
        executor = backend.spawn()
        times.append(time.perf_counter() - started)
        if isinstance(backend, DockerBackend):
            stats = backend.client.api.stats(executor.container_id, stream=False)
            memory.append(stats["memory_stats"].get("usage", 0) / 2**20)
        executor.destroy()
    result = {"spawn_s_median": round(statistics.median(times), 3), "spawn_s": [round(t, 3) for t in times]}
    if memory:
        result["container_memory_mib_median"] = round(statistics.median(memory), 1)
    return result


def per_job(backend, jobs: int) -> dict:
    box = PooledSandbox(backend, 2)
    try:
        box.pool.release(box.pool.acquire(60), True)
        job = Job(program="def f():\n    return 1\n", entry_point="f", secret=False,
                  tests=[TestCase(name="t", source="assert f() == 1")])
        times = []
        for _ in range(jobs):
            started = time.perf_counter()
            assert box.run(job).passed
            times.append((time.perf_counter() - started) * 1000)
        cuts = statistics.quantiles(times, n=100)
        return {"job_ms_p50": round(cuts[49], 2), "job_ms_p95": round(cuts[94], 2)}
    finally:
        box.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=6)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    config = SandboxConfig(workers=1)
    report = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
              "runtime_mb": round(runtime_size() / 1e6, 1),
              "command": "python benchmarks/executor_start.py " + " ".join(sys.argv[1:])}
    for name, make in (("docker", lambda: DockerBackend(config)), ("process", lambda: BubblewrapBackend(config))):
        backend = make()
        report[name] = {**starts(backend, args.starts), **per_job(backend, args.jobs)}
        backend.close()
        print(name, report[name], flush=True)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
