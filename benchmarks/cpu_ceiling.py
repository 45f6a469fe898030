"""How many tokens per second this CPU could generate with the bundled model if every
matrix multiply ran at the machine's measured peak: the ceiling the server is judged by.

Runs in the model server's own environment (its torch, all cores): times the matrix
multiplies of one Qwen2.5-Coder-0.5B forward pass (per layer: q/k/v, o, gate/up, down;
then the 151,936-word head) at decode batch sizes, in fp32 and, where the CPU has
AVX512-BF16 or AMX, bf16. FLOPs per token count every weight once (2 per parameter).

    ~/.cache/repair-agent/server-cpu/bin/python benchmarks/cpu_ceiling.py [--out results/cpu_ceiling.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

HIDDEN, INTERMEDIATE, LAYERS, VOCAB, HEADS, KV_HEADS = 896, 4864, 24, 151936, 14, 2
HEAD_DIM = HIDDEN // HEADS
SHAPES = [(HIDDEN, HIDDEN + 2 * KV_HEADS * HEAD_DIM), (HIDDEN, HIDDEN), (HIDDEN, 2 * INTERMEDIATE),
          (INTERMEDIATE, HIDDEN)]  # (in, out) per layer: qkv, o, gate+up, down


def flops_per_token() -> int:
    per_layer = sum(2 * a * b for a, b in SHAPES)
    return LAYERS * per_layer + 2 * HIDDEN * VOCAB


def time_forward(batch: int, dtype: torch.dtype, repeats: int) -> float:
    """Seconds for the matmuls of one forward pass of `batch` tokens (best of `repeats`)."""
    weights = [torch.randn(a, b, dtype=dtype) for a, b in SHAPES]
    head = torch.randn(HIDDEN, VOCAB, dtype=dtype)
    x = torch.randn(batch, HIDDEN, dtype=dtype)
    wide = torch.randn(batch, INTERMEDIATE, dtype=dtype)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(LAYERS):
            torch.matmul(x, weights[0])
            torch.matmul(x, weights[1])
            torch.matmul(x, weights[2])
            torch.matmul(wide, weights[3])
        torch.matmul(x, head)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--batches", default="1,8,32,64,256")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    flags = Path("/proc/cpuinfo").read_text()
    model = re.search(r"model name\s*:\s*(.+)", flags)
    has_bf16 = bool(re.search(r"\b(avx512_bf16|amx_bf16)\b", flags))
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    per_token = flops_per_token()
    rows = []
    for dtype in [torch.float32] + ([torch.bfloat16] if has_bf16 else []):
        for batch in (int(b) for b in args.batches.split(",")):
            time_forward(batch, dtype, 1)  # warm up
            seconds = time_forward(batch, dtype, args.repeats)
            rows.append({"dtype": str(dtype).removeprefix("torch."), "batch_tokens": batch,
                         "seconds_per_forward": round(seconds, 5),
                         "gflops_per_second": round(per_token * batch / seconds / 1e9, 1),
                         "ceiling_tokens_per_second": round(batch / seconds, 1)})
            print(f"{rows[-1]['dtype']:>8} batch {batch:>4}: {rows[-1]['gflops_per_second']:8.1f} GFLOP/s, "
                  f"ceiling {rows[-1]['ceiling_tokens_per_second']:8.1f} tokens/s", flush=True)
    result = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "cpu": model.group(1).strip() if model else platform.processor(), "threads": torch.get_num_threads(),
              "bf16_native": has_bf16, "torch": torch.__version__, "flops_per_token": per_token,
              "command": "~/.cache/repair-agent/server-cpu/bin/python benchmarks/cpu_ceiling.py", "rows": rows}
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
