"""Seconds from `agent serve`'s start to a healthy server, first start (an empty compile
cache) against second start (the cache the first one wrote), and generation throughput
of each server on the same fixed load, so a faster start is not bought with a slower model.

    .venv/bin/python benchmarks/server_start.py [--out results/server_start.json]

Each start uses a fresh VLLM_CACHE_ROOT in a temporary folder (the first start fills it,
the second reads it) on a free port; the agent's other settings are its defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.llm.client import ClientConfig, LLMClient  # noqa: E402
from agent.llm.models import DEFAULT_MODEL  # noqa: E402
from agent.llm.serve import ServerConfig, start_server  # noqa: E402
from eval.environment import git_revision, machine  # noqa: E402
from eval.problems import load_problems  # noqa: E402


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def throughput(url: str, requests: int = 32, max_tokens: int = 128) -> float:
    """Generated tokens per second with `requests` in flight, each forced to `max_tokens`."""
    texts = [f"Complete the following Python function:\n```python\n{p.prompt}```" for p in load_problems().values()]
    llm = LLMClient(ClientConfig(base_urls=[url], model=DEFAULT_MODEL, timeout=600))
    try:
        await llm.chat([{"role": "user", "content": "warm up"}], max_tokens=4)
        started = time.perf_counter()
        replies = await asyncio.gather(*(llm.chat([{"role": "user", "content": texts[i]}], temperature=0.8,
                                                  max_tokens=max_tokens, extra_body={"ignore_eos": True})
                                         for i in range(requests)))
        return sum(r.completion_tokens for r in replies) / (time.perf_counter() - started)
    finally:
        await llm.close()


def one_start(cache_root: Path, label: str) -> dict:
    os.environ["VLLM_CACHE_ROOT"] = str(cache_root)
    config = ServerConfig(port=free_port())
    started = time.monotonic()
    server = start_server(config, say=lambda m: None)
    seconds = time.monotonic() - started
    try:
        log = server.log.read_text(errors="replace")
        tokens = asyncio.run(throughput(config.base_url))
    finally:
        server.stop()
    loaded = "Directly load AOT compilation" in log or "Directly load the compiled graph" in log
    failed = "Compiling model again due to a load failure" in log
    print(f"{label}: healthy after {seconds:.1f} s, compile cache {'loaded' if loaded else 'not loaded'}"
          f"{' (load failed)' if failed else ''}; {tokens:.1f} tokens/s at 32 in flight", flush=True)
    return {"start": label, "seconds_to_healthy": round(seconds, 1), "compile_cache_loaded": loaded,
            "compile_cache_load_failed": failed, "tokens_per_second_32_in_flight": round(tokens, 1),
            "log": str(server.log)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vllm-cache-") as cache:
        runs = [one_start(Path(cache), "first"), one_start(Path(cache), "second")]
    result = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "machine": machine(),
              "revision": git_revision(), "command": "python benchmarks/server_start.py", "starts": runs}
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
