"""Greedy pass@1 on all 164 HumanEval problems, int8 W8A8 against today's default, back to
back on this machine: each server started fresh, the same `agent bench` against each.

    .venv/bin/python benchmarks/int8_quality.py [--out-dir runs/int8_pair] [--rounds 0]
        [--out results/int8_quality.json]
    .venv/bin/python benchmarks/int8_quality.py --search-subset --out results/int8_quality_search.json

Target (issue: int8): pass@1 within 1.5 points of the default's.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.server_start import free_port  # noqa: E402
from agent.llm.serve import ServerConfig, cpu_choice, cpu_flags, start_server  # noqa: E402
from eval.environment import git_revision, machine  # noqa: E402


SEARCH = ["--dataset", str(ROOT / "results" / "datasets" / "humaneval_heldout_every3.jsonl"), "--policy", "search",
          "--candidates", "4", "--rounds", "12", "--token-budget", "6000", "--temperature", "0.8"]


def run(quant: str, out_dir: Path, rounds: int, search: bool) -> dict:
    server = start_server(ServerConfig(device="cpu", port=free_port(), quant=quant), say=print)
    name = f"{quant}_search_subset" if search else f"{quant}_greedy"
    try:
        started = time.monotonic()
        policy = SEARCH if search else ["--rounds", str(rounds), "--temperature", "0"]
        command = [sys.executable, "-m", "agent", "bench", "--n", "1", "--k", "1", *policy, "--concurrency", "64",
                   "--base-url", server.base_url, "--out", str(out_dir / name)]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=7200)
        seconds = time.monotonic() - started
    finally:
        server.stop()
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    summary = json.loads((out_dir / name / "summary.json").read_text())
    return {"quant": quant, "run": str(out_dir / name), "seconds": round(seconds, 1),
            "problems": summary["problems"], "tokens_per_problem": summary["tokens_by_round"].get(str(summary["rounds"])),
            "pass_at_1": {r: v["1"] for r, v in summary["pass_at_k"].items()},
            "completion_tokens": summary["cost"]["completion_tokens"],
            "tokens_per_second": summary["wall"]["completion_tokens_per_second"],
            "command": " ".join(["agent", *command[3:]])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=ROOT / "runs" / "int8_pair")
    parser.add_argument("--rounds", type=int, default=0)
    parser.add_argument("--search-subset", action="store_true", help="the search policy (search_b6000's settings) on "
                        "the committed 42-problem held-out subset instead of greedy on all 164")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "int8_quality.json")
    args = parser.parse_args()
    runs = [run(quant, args.out_dir, args.rounds, args.search_subset) for quant in ("none", "int8")]
    last = "12" if args.search_subset else str(args.rounds)
    result = {"command": "benchmarks/int8_quality.py " + " ".join(sys.argv[1:]), "machine": machine(),
              "cpu": cpu_choice(cpu_flags()).features, "revision": git_revision(),
              "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "runs": runs,
              "int8_minus_default_points": round(100 * (runs[1]["pass_at_1"][last] - runs[0]["pass_at_1"][last]), 2)}
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
