"""Where the model server's time goes under the bench's workload, against this CPU's ceiling.

Starts `agent serve` (its defaults, plus `REPAIR_AGENT_VLLM_ARGS` if set), replays a bench
trace as `server_levers.py` does, and in a window of the replay's steady part records:

- each server process's CPU time (`/proc/<pid>/stat`): how the two cores are shared
  between the model worker, the engine's scheduler and the API server;
- vLLM's own counters (`/metrics`): generated, prompt and cached prompt tokens, engine
  steps, hence tokens per step and the FLOPs per second the model really did (prompt
  tokens counted, cached prefix tokens not), set against `cpu_ceiling.json`'s matrix
  multiply ceiling at the same tokens per step;
- a py-spy profile of the model worker's main thread, each sample put in a category by
  the innermost line that says what runs (the compiled model's generated code names the
  kernel it called: oneDNN matmul, attention, KV cache write, fused elementwise kernels);
  the stacks are kept beside the report (`.collapsed.txt.gz`, py-spy's raw format).

    .venv/bin/python benchmarks/server_profile.py runs/a_greedy_visible_v2/trace.jsonl \\
        --requests 96 --out results/server_profile.json

Needs `py-spy` (`pip install py-spy`; a profiler for this benchmark only, not a dependency
of the project) and permission to trace the server's processes (root, or ptrace allowed).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
import urllib.request
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.llm.serve import ServerConfig, start_server, vllm_environment  # noqa: E402
from agent.llm.server_env import env_dir  # noqa: E402
from benchmarks.server_levers import replay, workload  # noqa: E402
from benchmarks.server_start import free_port  # noqa: E402
from eval.environment import git_revision, machine  # noqa: E402

FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*):(?P<line>\d+)\)$")
# First match wins: (category, pattern over "function file: source line").
CATEGORIES = [
    ("waiting for the scheduler", r"shm_broadcast|dequeue|acquire_read|\bwait\b|select|poll|sleep"),
    ("matmul (oneDNN)", r"onednn_mm|extern_kernels\.(mm|addmm|bmm)|\bF\.linear|_linear|aten\.mm"),
    ("attention", r"unified_attention|attention|attn"),
    ("KV cache write", r"kv_cache_update|reshape_and_cache"),
    ("fused elementwise (norm, rotary, activation)", r"cpp_fused|rms_norm|rotary|silu"),
    ("logits (LM head)", r"compute_logits|logits_processor|lm_head"),
    ("sampling", r"/v1/sample/|sampler"),
    ("inputs and bookkeeping", r"model_runner|input_batch|block_table|_prepare|_update_states|bookkeeping"),
]
PROCESS = re.compile(r'^process (\d+):"(.*)"$')


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()[:80]
    except OSError:
        return "?"


def descendants(pid: int) -> list[int]:
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int(Path(entry, "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def metrics(base_url: str) -> dict[str, float]:
    """vLLM's counters summed over labels; `step_tokens_le_<bound>` holds the cumulative
    histogram of tokens per engine step."""
    root = base_url.rstrip("/").removesuffix("/v1")
    with urllib.request.urlopen(f"{root}/metrics", timeout=10) as response:
        text = response.read().decode()
    wanted = {"vllm:generation_tokens_total", "vllm:prompt_tokens_total", "vllm:prompt_tokens_cached_total",
              "vllm:iteration_tokens_total_count", "vllm:iteration_tokens_total_sum", "vllm:num_preemptions_total"}
    totals: dict[str, float] = defaultdict(float)
    for line in text.splitlines():
        if not line.startswith("vllm:"):
            continue
        name = line.split("{", 1)[0].split(" ", 1)[0]
        value = float(line.rsplit(" ", 1)[1])
        if name in wanted:
            totals[name] += value
        elif name == "vllm:iteration_tokens_total_bucket":
            bound = re.search(r'le="([^"]+)"', line)
            if bound:
                totals[f"step_tokens_le_{bound.group(1)}"] += value
    return dict(totals)


def step_histogram(delta: dict[str, float]) -> list[tuple[float, float]]:
    """(estimated tokens per step, steps) per histogram bucket, the estimates scaled so that
    they add up to the histogram's own sum of tokens."""
    bounds = sorted((float(k.removeprefix("step_tokens_le_")), v) for k, v in delta.items()
                    if k.startswith("step_tokens_le_"))
    rows, previous_bound, previous_count = [], 0.0, 0.0
    for bound, cumulative in bounds:
        steps = cumulative - previous_count
        upper = bound if bound != float("inf") else max(previous_bound * 2, 1.0)
        if steps > 0:
            rows.append((max(1.0, (max(previous_bound, 1.0) * upper) ** 0.5), steps))
        previous_bound, previous_count = upper, cumulative
    estimated = sum(t * n for t, n in rows)
    scale = delta.get("vllm:iteration_tokens_total_sum", estimated) / estimated if estimated else 1.0
    return [(t * scale, n) for t, n in rows]


def vllm_cache() -> str:
    return vllm_environment("cpu", ServerConfig())["VLLM_CACHE_ROOT"]


def resolve(file: str) -> Path | None:
    """py-spy names a file by its path inside site-packages, or by its bare name for code
    generated at run time (the compiled model, under vLLM's cache)."""
    path = Path(file)
    if path.is_absolute():
        return path
    site = next((env_dir("cpu") / "lib").glob("python3*/site-packages"), None)
    if site is not None and (site / path).is_file():
        return site / path
    if "/" not in file:
        return next(iter(sorted(Path(vllm_cache()).rglob(file))), None)
    return None


def source_line(file: str, line: int, cache: dict[str, list[str]]) -> str:
    if file not in cache:
        path = resolve(file)
        try:
            cache[file] = path.read_text(errors="replace").splitlines() if path else []
        except OSError:
            cache[file] = []
    lines = cache[file]
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def categorise(raw: Path) -> dict:
    """The model worker's main thread (the thread with the most samples under execute_model),
    each sample by the innermost of its frames that matches a category."""
    threads: dict[tuple[str, str], Counter] = defaultdict(Counter)
    in_model: Counter = Counter()
    sources: dict[str, list[str]] = {}
    for row in raw.read_text(errors="replace").splitlines():
        stack, _, count = row.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        process = next((f for f in reversed(frames) if PROCESS.match(f)), "process ?")  # the innermost
        thread = next((f for f in frames if f.startswith("thread ")), "thread ?")
        python = [FRAME.match(f) for f in frames if FRAME.match(f)]
        if not python:
            continue
        # from the innermost frame outwards, the first that says what runs: torch's own
        # dispatch frames say nothing, the compiled model's line names the kernel it called
        category = None
        for frame in reversed(python):
            text = f"{frame['func']} {frame['file']}: {source_line(frame['file'], int(frame['line']), sources)}"
            category = next((name for name, pattern in CATEGORIES if re.search(pattern, text)), None)
            if category:
                break
        if category is None:
            category = f"other: {python[-1]['func']} ({Path(python[-1]['file']).name})"
        threads[(process, thread)][category] += int(count)
        if any("execute_model" in f for f in frames):
            in_model[(process, thread)] += int(count)
    if not in_model:
        return {"error": "no samples under execute_model: the worker was not found"}
    main = in_model.most_common(1)[0][0]
    counts = threads[main]
    total = sum(counts.values())
    named = {k: v for k, v in counts.items() if not k.startswith("other: ")}
    others = Counter({k: v for k, v in counts.items() if k.startswith("other: ")})
    shares = {k: round(v / total, 3) for k, v in sorted(named.items(), key=lambda kv: -kv[1])}
    shares["other"] = round(sum(others.values()) / total, 3)
    return {"process": main[0], "samples": total, "shares": shares,
            "largest_other": {k.removeprefix("other: "): round(v / total, 3) for k, v in others.most_common(8)}}


def matmul_seconds(steps: list[tuple[float, float]]) -> dict | None:
    """Seconds the model's matrix multiplies alone would take for these engine steps at the
    rates `cpu_ceiling.json` measured on this CPU (interpolated in log batch size, flat beyond
    the measured sizes): the ceiling the server's time is set against."""
    path = ROOT / "results" / "cpu_ceiling.json"
    if not path.is_file() or not steps:
        return None
    ceiling = json.loads(path.read_text())
    rows = sorted((r["batch_tokens"], r["gflops_per_second"]) for r in ceiling["rows"] if r["dtype"] == "float32")

    def gflops(tokens: float) -> float:
        if tokens <= rows[0][0]:
            return rows[0][1]
        for (b0, g0), (b1, g1) in zip(rows, rows[1:]):
            if tokens <= b1:
                return g0 + (math.log(tokens) - math.log(b0)) / (math.log(b1) - math.log(b0)) * (g1 - g0)
        return rows[-1][1]

    seconds = sum(n * t * ceiling["flops_per_token"] / (gflops(t) * 1e9) for t, n in steps)
    return {"seconds": round(seconds, 1), "dtype": "float32", "flops_per_token": ceiling["flops_per_token"],
            "rates_gflops_per_second": dict(rows)}


async def profile(server, calls: list[dict], concurrency: int, delay: float, seconds: float, rate: int,
                  raw: Path) -> dict:
    work = asyncio.create_task(replay(server.base_url, calls, concurrency))
    await asyncio.sleep(delay)
    pids = descendants(server.process.pid)
    names = {pid: proc_name(pid) for pid in pids}
    before_cpu = {pid: proc_cpu_seconds(pid) for pid in pids}
    before = metrics(server.base_url)
    started = time.monotonic()
    spy = await asyncio.create_subprocess_exec(
        shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(server.process.pid),
        "--subprocesses", "--threads", "--idle", "--full-filenames", "--rate", str(rate), "--duration", str(int(seconds)),
        "--format", "raw", "--output", str(raw), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, spy_err = await spy.communicate()
    window = time.monotonic() - started
    after = metrics(server.base_url)
    cpu = {}
    for pid in pids:
        try:
            cpu[pid] = proc_cpu_seconds(pid) - before_cpu[pid]
        except OSError:
            continue
    replayed = await work
    delta = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
    if spy.returncode != 0:
        raise SystemExit(f"py-spy failed: {spy_err.decode(errors='replace').strip()[-300:]}")
    return {"window_seconds": round(window, 1), "replay": replayed, "metrics_delta": delta,
            "cpu_cores_used": {f"{pid} {names[pid]}": round(used / window, 2) for pid, used in
                               sorted(cpu.items(), key=lambda kv: -kv[1]) if used > 0.01 * window}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("trace", type=Path, help="a bench run's trace.jsonl")
    parser.add_argument("--requests", type=int, default=96)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--delay", type=float, default=30.0, help="seconds of replay before the window opens")
    parser.add_argument("--seconds", type=float, default=60.0, help="the window's length")
    parser.add_argument("--rate", type=int, default=25, help="py-spy samples per second")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "server_profile.json")
    parser.add_argument("--recategorise", action="store_true",
                        help="only sort the samples of --out's stored profile into categories again")
    args = parser.parse_args()
    stacks = args.out.with_suffix(".collapsed.txt.gz")
    if args.recategorise:
        report = json.loads(args.out.read_text())
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "profile.txt"
            raw.write_bytes(gzip.decompress(stacks.read_bytes()))
            report["worker_profile"] = categorise(raw)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(json.dumps(report["worker_profile"], indent=2))
        return
    if not (shutil.which("py-spy") or (Path(sys.executable).parent / "py-spy").exists()):
        raise SystemExit("py-spy is not installed: pip install py-spy")
    calls = workload(args.trace, args.requests)
    server = start_server(ServerConfig(device="cpu", port=free_port(), startup_timeout=900), say=lambda m: None)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "profile.txt"
            result = asyncio.run(profile(server, calls, args.concurrency, args.delay, args.seconds, args.rate, raw))
            result["worker_profile"] = categorise(raw)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            stacks.write_bytes(gzip.compress(raw.read_bytes()))
    finally:
        server.stop()
    delta = result["metrics_delta"]
    window = result["window_seconds"]
    steps = delta.get("vllm:iteration_tokens_total_count", 0.0)
    computed = delta.get("vllm:iteration_tokens_total_sum", 0.0)
    histogram = step_histogram(delta)
    ceiling = matmul_seconds(histogram)
    achieved = {"generated_tokens_per_second": round(delta.get("vllm:generation_tokens_total", 0.0) / window, 1),
                "computed_tokens_per_second": round(computed / window, 1),
                "engine_steps_per_second": round(steps / window, 2),
                "mean_tokens_per_step": round(computed / steps, 1) if steps else None,
                "steps_by_tokens": [[round(t, 1), int(n)] for t, n in histogram]}
    if ceiling:
        achieved["model_gflops_per_second"] = round(computed * ceiling["flops_per_token"] / window / 1e9, 1)
        achieved["matmul_only_seconds_for_these_steps"] = ceiling["seconds"]
        achieved["share_of_ceiling"] = round(ceiling["seconds"] / window, 3)
    report = {"what": __doc__.split("\n\n")[0].replace("\n", " "),
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
              "revision": git_revision(), "trace": str(args.trace), "requests": len(calls),
              "concurrency": args.concurrency, "vllm_args": os.environ.get("REPAIR_AGENT_VLLM_ARGS", ""),
              "achieved": achieved, "ceiling": ceiling, **result,
              "command": " ".join(["python benchmarks/server_profile.py", *sys.argv[1:]])}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({"achieved": achieved, "cpu_cores_used": result["cpu_cores_used"],
                      "worker": result["worker_profile"].get("shares")}, indent=2))


if __name__ == "__main__":
    main()
