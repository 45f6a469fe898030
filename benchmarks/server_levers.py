"""The model server's throughput levers side by side, on one fixed workload replayed from a
bench run's trace: its first `--requests` model calls in the order the bench made them
(round-0 prompts with n candidates, repair prompts that share the task's prefix), each
forced to the length its recorded replies had (vLLM's ignore_eos, so every lever does the
same work), at most `--concurrency` sequences in flight as the bench's gate allows.

Each lever is one `agent serve` start with its own vLLM arguments and environment (the
project's defaults otherwise); the baseline runs first and last, so drift on this noisy
machine shows. Reported per lever: seconds to healthy, generated tokens per second over
the replay, prompt tokens, and the start's failure if it did not start.

    .venv/bin/python benchmarks/server_levers.py runs/c_candidates5_visible_v2/trace.jsonl \\
        --levers baseline,fp32,ngram,batched4096,tcmalloc,iomp --requests 24
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.llm.client import ClientConfig, LLMClient  # noqa: E402
from agent.llm.models import DEFAULT_MODEL  # noqa: E402
from agent.llm.serve import ServeError, ServerConfig, start_server  # noqa: E402
from agent.llm.server_env import env_dir  # noqa: E402
from benchmarks.server_start import free_port  # noqa: E402
from eval.environment import git_revision, machine  # noqa: E402

NGRAM = '{"method":"ngram","num_speculative_tokens":4,"prompt_lookup_max":4,"prompt_lookup_min":2}'
TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"
LEVERS: dict[str, dict] = {
    "baseline": {"args": "", "env": {}},
    "fp32": {"args": "--dtype float32", "env": {}},
    "ngram": {"args": f"--speculative-config {NGRAM}", "env": {}},
    "batched4096": {"args": "--max-num-batched-tokens 4096", "env": {}},
    "seqs64": {"args": "--max-num-seqs 64", "env": {}},
    "no-prefix-cache": {"args": "--no-enable-prefix-caching", "env": {}},
    "kv4": {"args": "", "env": {"VLLM_CPU_KVCACHE_SPACE": "4"}},
    "tcmalloc": {"args": "", "env": {"LD_PRELOAD": TCMALLOC}},
    "iomp": {"args": "", "env": {"LD_PRELOAD": str(env_dir("cpu") / "lib" / "libiomp5.so")}},
}


def workload(trace: Path, requests: int) -> list[dict]:
    """Half round-0 calls, half repair calls (round > 0), each half in trace order, interleaved."""
    first, repairs = [], []
    with open(trace) as handle:
        for line in handle:
            event = json.loads(line)
            if event.get("kind") != "llm" or not event.get("messages"):
                continue
            n = int((event.get("options") or {}).get("n", 1))
            call = {"messages": event["messages"], "n": n, "round": event.get("round", 0),
                    "temperature": float((event.get("options") or {}).get("temperature", 0.8)),
                    "max_tokens": max(1, math.ceil(int(event["tokens"]["completion"]) / n))}
            (first if call["round"] == 0 else repairs).append(call)
    repairs = repairs[:requests // 2]
    first = first[:requests - len(repairs)]
    return [c for pair in zip(first, repairs) for c in pair] + first[len(repairs):]


async def replay(url: str, calls: list[dict], concurrency: int) -> dict:
    llm = LLMClient(ClientConfig(base_urls=[url], model=DEFAULT_MODEL, timeout=1800))
    free = concurrency
    condition = asyncio.Condition()
    completion = prompt = 0

    async def one(call: dict) -> None:
        nonlocal free, completion, prompt
        need = min(call["n"], concurrency)
        async with condition:
            await condition.wait_for(lambda: free >= need)
            free -= need
        try:
            reply = await llm.chat(call["messages"], n=call["n"], temperature=call["temperature"],
                                   max_tokens=call["max_tokens"], extra_body={"ignore_eos": True}, site="bench")
            completion += reply.completion_tokens
            prompt += reply.prompt_tokens
        finally:
            async with condition:
                free += need
                condition.notify_all()

    try:
        await llm.chat([{"role": "user", "content": "Say hi."}], max_tokens=4, site="bench")  # warm-up
        started = time.perf_counter()
        await asyncio.gather(*(one(call) for call in calls))
        seconds = time.perf_counter() - started
    finally:
        await llm.close()
    return {"seconds": round(seconds, 1), "completion_tokens": completion, "prompt_tokens": prompt,
            "tokens_per_s": round(completion / seconds, 1)}


def run_lever(name: str, calls: list[dict], concurrency: int) -> dict:
    lever = LEVERS[name]
    saved = {k: os.environ.get(k) for k in ["REPAIR_AGENT_VLLM_ARGS", *lever["env"]]}
    os.environ["REPAIR_AGENT_VLLM_ARGS"] = lever["args"]
    os.environ.update(lever["env"])
    row = {"lever": name, "vllm_args": lever["args"], "env": lever["env"]}
    started = time.monotonic()
    try:
        server = start_server(ServerConfig(device="cpu", port=free_port(), startup_timeout=900), say=lambda m: None)
    except ServeError as exc:
        row["failed"] = str(exc)
        return row
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    row["start_seconds"] = round(time.monotonic() - started, 1)
    try:
        row.update(asyncio.run(replay(server.base_url, calls, concurrency)))
    except Exception as exc:  # noqa: BLE001 - a lever that breaks generation is a result too
        row["failed"] = f"{type(exc).__name__}: {exc}"
    finally:
        server.stop()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("trace", type=Path, help="a bench run's trace.jsonl")
    parser.add_argument("--levers", default="baseline,fp32,ngram,batched4096,tcmalloc,iomp")
    parser.add_argument("--requests", type=int, default=24)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "server_levers.json")
    args = parser.parse_args()
    names = [n for n in args.levers.split(",") if n]
    unknown = [n for n in names if n not in LEVERS]
    if unknown:
        raise SystemExit(f"unknown levers {unknown}; known: {', '.join(LEVERS)}")
    if names[0] == "baseline" and names[-1] != "baseline" and len(names) > 1:
        names.append("baseline")
    calls = workload(args.trace, args.requests)
    rows = []
    for name in names:
        rows.append(run_lever(name, calls, args.concurrency))
        print(json.dumps(rows[-1]), flush=True)
    report = {
        "what": __doc__.split("\n\n")[0].replace("\n", " "),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
        "revision": git_revision(), "model": DEFAULT_MODEL, "trace": str(args.trace), "requests": len(calls),
        "sequences": sum(c["n"] for c in calls), "concurrency": args.concurrency, "rows": rows,
        "command": " ".join(["python benchmarks/server_levers.py", *sys.argv[1:]]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
