"""The bench's own efficiency: generated tokens per second over a bench run's wall time,
against what `benchmarks/llm_throughput.py` measured for the same server at the same
number of sequences in flight (run it just before or after, on the same machine).

    .venv/bin/python benchmarks/bench_efficiency.py runs/a_greedy_visible results/llm_throughput_steady32.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eval.run_dir import RunDir  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("throughput", type=Path, help="llm_throughput.py's JSON")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "bench_efficiency.json")
    args = parser.parse_args()
    run = RunDir(args.run_dir)
    info = run.run_info()
    sessions = run.sessions()
    wall = sum(s["wall_seconds"] for s in sessions)
    tokens = sum(s["completion_tokens"] for s in sessions)
    concurrency = info["concurrency"]
    reference = json.loads(args.throughput.read_text())
    rows = [r for r in reference["rows"] if r["in_flight"] == concurrency and r["n"] == 1]
    if not rows:
        raise SystemExit(f"{args.throughput} has no row at {concurrency} in flight")
    server = rows[-1]["tokens_per_s"]
    bench = tokens / wall
    report = {
        "run": str(args.run_dir), "command": info.get("command"), "sessions": len(sessions),
        "bench_wall_seconds": round(wall, 1), "bench_completion_tokens": tokens,
        "bench_tokens_per_s": round(bench, 1), "concurrency": concurrency,
        "server_tokens_per_s_at_same_concurrency": server, "reference": rows[-1],
        "reference_command": reference.get("command"), "efficiency": round(bench / server, 3),
        "machine": reference.get("machine"),
        "command_of_this_figure": " ".join(["python benchmarks/bench_efficiency.py", *sys.argv[1:]]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
