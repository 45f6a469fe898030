"""The model server's throughput levers side by side, on one fixed workload replayed from a
bench run's trace: its first `--requests` model calls in the order the bench made them
(round-0 prompts with n candidates, repair prompts that share the task's prefix), each
forced to the length its recorded replies had (vLLM's ignore_eos, so every lever does the
same work), with the bench's own sequence gate (`agent.llm.gate.GatedLLM`) keeping
`--concurrency` sequences in flight.

Each lever is one `agent serve` start with its own vLLM arguments and environment (the
project's defaults otherwise); levers combine with `+` (`defaults+c64`). The first lever
runs again at the end, so drift on this noisy machine shows. Reported per lever: seconds to
healthy, generated tokens per second over the replay, prompt tokens, and the start's
failure if it did not start.

    .venv/bin/python benchmarks/server_levers.py runs/a_greedy_visible_v2/trace.jsonl \\
        --levers bf16,defaults,defaults+c64,batched4096 --requests 96
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
from agent.llm.gate import GatedLLM  # noqa: E402
from agent.llm.models import DEFAULT_MODEL  # noqa: E402
from agent.llm.serve import ServeError, ServerConfig, start_server  # noqa: E402
from agent.llm.server_env import env_dir  # noqa: E402
from benchmarks.server_start import free_port  # noqa: E402
from eval.environment import git_revision, machine  # noqa: E402

NGRAM = '{"method":"ngram","num_speculative_tokens":4,"prompt_lookup_max":4,"prompt_lookup_min":2}'
TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"
LEVERS: dict[str, dict] = {
    "defaults": {},
    "bf16": {"args": "--dtype bfloat16"},  # the CPU default before fp32 won here
    "fp32": {"args": "--dtype float32"},
    "ngram": {"args": f"--speculative-config {NGRAM}"},
    "batched1024": {"args": "--max-num-batched-tokens 1024"},
    "batched4096": {"args": "--max-num-batched-tokens 4096"},
    "seqs64": {"args": "--max-num-seqs 64"},
    "no-prefix-cache": {"args": "--no-enable-prefix-caching"},
    "kv4": {"env": {"VLLM_CPU_KVCACHE_SPACE": "4"}},
    "no-split-kv": {"env": {"VLLM_CPU_ATTN_SPLIT_KV": "0"}},
    "tcmalloc": {"env": {"LD_PRELOAD": TCMALLOC}},
    "iomp": {"env": {"LD_PRELOAD": str(env_dir("cpu") / "lib" / "libiomp5.so")}},
    # the client's side: sequences the bench keeps in flight (`agent bench --concurrency`)
    "c16": {"concurrency": 16},
    "c48": {"concurrency": 48},
    "c64": {"concurrency": 64},
}
LEVERS["baseline"] = LEVERS["defaults"]  # the name the first committed run used


def lever(name: str, concurrency: int) -> dict:
    """A lever or a `+` combination of them: vLLM arguments joined, environments merged."""
    parts = [LEVERS[part] for part in name.split("+")]
    return {"args": " ".join(p["args"] for p in parts if p.get("args")),
            "env": {k: v for p in parts for k, v in p.get("env", {}).items()},
            "concurrency": max([p["concurrency"] for p in parts if "concurrency" in p], default=concurrency)}


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
    llm = GatedLLM(LLMClient(ClientConfig(base_urls=[url], model=DEFAULT_MODEL, timeout=1800)), concurrency)
    completion = prompt = 0

    async def one(call: dict) -> None:
        nonlocal completion, prompt
        reply = await llm.chat(call["messages"], n=call["n"], temperature=call["temperature"],
                               max_tokens=call["max_tokens"], extra_body={"ignore_eos": True}, site="bench")
        completion += reply.completion_tokens
        prompt += reply.prompt_tokens

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
    chosen = lever(name, concurrency)
    saved = {k: os.environ.get(k) for k in ["REPAIR_AGENT_VLLM_ARGS", *chosen["env"]]}
    os.environ["REPAIR_AGENT_VLLM_ARGS"] = chosen["args"]
    os.environ.update(chosen["env"])
    row = {"lever": name, "vllm_args": chosen["args"], "env": chosen["env"], "concurrency": chosen["concurrency"]}
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
        row.update(asyncio.run(replay(server.base_url, calls, chosen["concurrency"])))
    except Exception as exc:  # noqa: BLE001 - a lever that breaks generation is a result too
        row["failed"] = f"{type(exc).__name__}: {exc}"
    finally:
        server.stop()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("trace", type=Path, help="a bench run's trace.jsonl")
    parser.add_argument("--levers", default="bf16,defaults,defaults+c64,batched4096")
    parser.add_argument("--requests", type=int, default=24)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "server_levers.json")
    args = parser.parse_args()
    names = [n for n in args.levers.split(",") if n]
    unknown = [part for n in names for part in n.split("+") if part not in LEVERS]
    if unknown:
        raise SystemExit(f"unknown levers {unknown}; known: {', '.join(LEVERS)}")
    if len(names) > 1 and names[-1] != names[0]:
        names.append(names[0])
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
