"""int8 W8A8 against today's default (bf16 with AMX, fp32 otherwise), back to back on this
machine: generated tokens/s at 1, 8, 32 and 64 sequences in flight, each server started
fresh on its own port, and the int8 kernel vLLM chose (from its log).

    .venv/bin/python benchmarks/int8_throughput.py [--levels 1,8,32,64] [--max-tokens 64] [--repeats 2]
        [--out results/int8_throughput.json]

The int8 checkpoint is `agent model quantize`'s (made first if missing). Target (issue: int8):
at least 1.5x tokens/s at 64 in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.server_start import free_port  # noqa: E402
from agent.llm.serve import ServerConfig, cpu_choice, cpu_flags, start_server  # noqa: E402
from benchmarks.llm_throughput import measure  # noqa: E402
from eval.environment import git_revision, machine  # noqa: E402


def run(quant: str, levels: list[int], max_tokens: int, repeats: int) -> dict:
    started = time.monotonic()
    server = start_server(ServerConfig(device="cpu", port=free_port(), quant=quant), say=print)
    ready = time.monotonic() - started
    try:
        rows = asyncio.run(measure(server.base_url, levels, max_tokens, 0, repeats))
    finally:
        server.stop()
    log = Path(server.log).read_text(errors="replace")
    kernels = sorted(set(re.findall(r"Selected (\w+) for (\w+)", log)))
    return {"quant": quant, "choice": cpu_choice(cpu_flags(), quant=quant).line, "start_seconds": round(ready, 1),
            "kernels": [f"{k} for {layer}" for k, layer in kernels], "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="1,8,32,64")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "int8_throughput.json")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    runs = [run(quant, levels, args.max_tokens, args.repeats) for quant in ("none", "int8")]
    by_level = {quant: {row["in_flight"]: row["tokens_per_s"] for row in r["rows"]} for quant, r in
                zip(("none", "int8"), runs)}
    ratios = {str(level): round(by_level["int8"][level] / by_level["none"][level], 2) for level in levels}
    result = {"command": "benchmarks/int8_throughput.py " + " ".join(sys.argv[1:]), "machine": machine(),
              "cpu": cpu_choice(cpu_flags()).features, "revision": git_revision(),
              "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "max_tokens": args.max_tokens,
              "repeats": args.repeats, "runs": runs, "int8_over_default": ratios}
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"int8_over_default": ratios, "kernels": runs[1]["kernels"]}, indent=2))


if __name__ == "__main__":
    main()
