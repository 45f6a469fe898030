"""What Ray adds per sample to a bench, with the fake model (a scripted server that answers
at once) and the real Docker sandbox, on this machine.

    .venv/bin/python benchmarks/ray_overhead.py [--problems 164] [--n 1] [--out results/ray_overhead.json]

Two measurements, each local against Ray in the same run:
1. Round trips: a shard's results (real round records and trace events of a finished
   sample, `--payload-run`) sent back from an actor on another node of a two-node cluster,
   against pickling them in this process: the driver's cost per sample.
2. The whole bench: `agent bench` local against `agent bench --ray` on a one-node cluster
   (the same cores, so the difference is orchestration), on half the problems and on all:
   the slope (seconds per extra sample) is the cost per sample; what is left is Ray's
   fixed cost (connecting, its node's actor starting with its imports and sandbox pool).
Target (issue: Ray): Ray adds at most 5 ms per sample.
"""

from __future__ import annotations

import argparse
import gzip
import json
import pickle
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ray  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy  # noqa: E402

from eval.environment import git_revision, machine  # noqa: E402
from tests.unit.scripted_server import ScriptedServer  # noqa: E402


def payloads(run: Path, count: int) -> list[bytes]:
    """Pickled shards of one finished sample each: its round records and trace events."""
    from agent.cluster.worker import FinishedSample
    from agent.trace_events import parse_event
    from eval.records import RoundRecord

    raw = (run / "attempts.jsonl").read_bytes() if (run / "attempts.jsonl").exists() else \
        gzip.decompress((run / "attempts.jsonl.gz").read_bytes())
    lines = [RoundRecord.model_validate_json(x) for x in raw.splitlines() if x.strip()]
    trace: dict = {}
    if (run / "trace.jsonl").exists():
        for chunk in (run / "trace.jsonl").read_bytes().splitlines():
            event = parse_event(json.loads(chunk))
            trace.setdefault((event.task, event.sample), []).append(event)
    by_sample: dict = {}
    for line in lines:
        by_sample.setdefault((line.task_id, line.sample), []).append(line)
    keys = sorted(by_sample)[:count]
    return [pickle.dumps([FinishedSample(lines=by_sample[k], trace=trace.get(k, []))]) for k in keys]


def driver_writes(shards: list[bytes]) -> dict:
    """The driver's own work per sample besides Ray: writing it durably (trace, then
    attempts, each fsynced) to a run directory on this machine's disk."""
    from eval.run_dir import RunDir

    with tempfile.TemporaryDirectory() as scratch:
        run_dir = RunDir(Path(scratch))
        samples = [pickle.loads(shard)[0] for shard in shards]
        started = time.perf_counter()
        for sample in samples:
            run_dir.append_sample(sample.lines, sample.trace)
        seconds = time.perf_counter() - started
    return {"samples": len(samples), "ms_per_sample": round(1000 * seconds / len(samples), 3)}


@ray.remote(num_cpus=0)
class Echo:
    def back(self, payload: bytes):
        return pickle.loads(payload)


def round_trips(address: str, worker_node: str, shards: list[bytes]) -> dict:
    ray.init(address=address, logging_level="ERROR", log_to_driver=False)
    try:
        echo = Echo.options(scheduling_strategy=NodeAffinitySchedulingStrategy(worker_node, soft=False)).remote()
        ray.get(echo.back.remote(shards[0]))  # warm
        remote, local = [], []
        for shard in shards:
            started = time.perf_counter()
            ref = echo.back.remote(shard)
            done, _ = ray.wait([ref], timeout=30)
            ray.get(done[0])
            remote.append(time.perf_counter() - started)
            started = time.perf_counter()
            pickle.loads(shard)
            local.append(time.perf_counter() - started)
    finally:
        ray.shutdown()
    return {"shards": len(shards), "bytes_median": int(statistics.median(len(s) for s in shards)),
            "ray_ms_median": round(1000 * statistics.median(remote), 3),
            "ray_ms_p90": round(1000 * sorted(remote)[int(0.9 * len(remote))], 3),
            "local_ms_median": round(1000 * statistics.median(local), 3),
            "added_ms_per_sample": round(1000 * (statistics.median(remote) - statistics.median(local)), 3)}


def bench(base_url: str, out: Path, problems: int, n: int, ray_address: str | None) -> tuple[float, str]:
    command = [sys.executable, "-m", "agent", "bench", "--out", str(out), "--base-url", base_url, "--limit",
               str(problems), "--n", str(n), "--k", "1", "--rounds", "0", "--sandbox", "docker"]
    if ray_address:
        command += ["--ray", ray_address, "--ray-samples-per-node", "64"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    return wall, done.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=164, help="the larger run's problems; the smaller has half")
    parser.add_argument("--n", type=int, default=1, help="samples per problem (more than one: each of a task's "
                        "samples needs a fresh executor, whose start then dominates)")
    parser.add_argument("--payload-run", type=Path, default=ROOT / "results" / "bench" / "search_b6000")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "ray_overhead.json")
    args = parser.parse_args()

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    worker = cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    try:
        shards = payloads(args.payload_run, 164)
        trips = round_trips(cluster.address, worker.node_id, shards)
    finally:
        cluster.shutdown()

    sizes = [args.problems // 2, args.problems]  # problems, one sample each
    walls: dict[str, list[float]] = {"local": [], "ray": []}
    ready: list[float | None] = []
    with ScriptedServer([], default="```python\ndef f():\n    return 0\n```") as model, \
            tempfile.TemporaryDirectory() as scratch:
        for size in sizes:
            walls["local"].append(bench(model.base_url, Path(scratch) / f"local{size}", size, args.n, None)[0])
            one = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
            try:
                wall, err = bench(model.base_url, Path(scratch) / f"ray{size}", size, args.n, one.address)
            finally:
                one.shutdown()
            walls["ray"].append(wall)
            found = re.search(r"takes work \(ready in ([0-9.]+) s\)", err)
            ready.append(float(found.group(1)) if found else None)
    extra = args.n * (sizes[1] - sizes[0])
    slope = {k: (v[1] - v[0]) / extra for k, v in walls.items()}
    result = {
        "command": "benchmarks/ray_overhead.py " + " ".join(sys.argv[1:]), "machine": machine(),
        "revision": git_revision(), "ray": ray.__version__, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "round_trips": trips, "driver_writes": driver_writes(shards),
        "bench": {"problems": sizes, "n": args.n, "samples": [args.n * size for size in sizes], "rounds": 0,
                  "local_seconds": [round(x, 2) for x in walls["local"]],
                  "ray_seconds": [round(x, 2) for x in walls["ray"]], "ray_node_ready_seconds": ready,
                  "local_ms_per_extra_sample": round(1000 * slope["local"], 2),
                  "ray_ms_per_extra_sample": round(1000 * slope["ray"], 2),
                  "ray_added_ms_per_sample": round(1000 * (slope["ray"] - slope["local"]), 2),
                  "ray_fixed_seconds": round(walls["ray"][0] - walls["local"][0]
                                             - args.n * sizes[0] * (slope["ray"] - slope["local"]), 2)},
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
