"""Which sweep schedule keeps the model server busiest: the same small grid run as a
sweep twice against one server, one point after another (`--schedule sequential`) and
all points at once (`--schedule interleaved`), in alternating order over `--repeats`.
Reports each sweep's wall time, generated tokens and tokens per second (the server's
useful work per second of the sweep); the schedules draw different samples, so tokens
per second, not wall time alone, is the comparison.

    .venv/bin/python benchmarks/sweep_schedule.py --base-url http://127.0.0.1:8001/v1 \\
        --grid temperature=0.4,0.8 -- --limit 10 --n 4 --rounds 1 --k 1
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eval.environment import git_revision, machine  # noqa: E402
from eval.run_dir import RunDir  # noqa: E402


def run_sweep(out: Path, schedule: str, grid: list[str], bench_args: list[str], base_url: str) -> dict:
    command = [str(ROOT / ".venv" / "bin" / "agent"), "sweep", "--out", str(out), "--schedule", schedule,
               *[item for g in grid for item in ("--grid", g)], "--", *bench_args, "--base-url", base_url]
    started = time.monotonic()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"{schedule} sweep failed: {done.stderr.strip().splitlines()[-1:]}")
    tokens, points = 0, []
    for point in sorted(p for p in out.iterdir() if (p / "run.json").exists()):
        sessions = RunDir(point).sessions()
        point_tokens = sum(s["completion_tokens"] for s in sessions)
        summary = json.loads((point / "summary.json").read_text())
        tokens += point_tokens
        points.append({"point": point.name, "completion_tokens": point_tokens,
                       "wall_seconds": round(sum(s["wall_seconds"] for s in sessions), 1),
                       "pass_at_1": summary["pass_at_k"]})
    return {"schedule": schedule, "wall_seconds": round(wall, 1), "completion_tokens": tokens,
            "tokens_per_s": round(tokens / wall, 1), "points": points}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--grid", action="append", required=True)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--first", choices=["sequential", "interleaved"], default="sequential",
                        help="the schedule run first in the first repeat (then the order alternates)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "sweep_schedule.json")
    parser.add_argument("bench_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    bench_args = [a for a in args.bench_args if a != "--"]
    rows = []
    with tempfile.TemporaryDirectory(prefix="sweep-schedule-") as work:
        for repeat in range(args.repeats):
            order = ["sequential", "interleaved"] if args.first == "sequential" else ["interleaved", "sequential"]
            order = order if repeat % 2 == 0 else order[::-1]
            for schedule in order:
                out = Path(work) / f"{schedule}-{repeat}"
                row = run_sweep(out, schedule, args.grid, bench_args, args.base_url)
                row["repeat"] = repeat
                rows.append(row)
                print(json.dumps({k: row[k] for k in ("schedule", "repeat", "wall_seconds", "completion_tokens",
                                                      "tokens_per_s")}), flush=True)
                shutil.rmtree(out)

    def mean(schedule: str, key: str) -> float:
        values = [r[key] for r in rows if r["schedule"] == schedule]
        return round(sum(values) / len(values), 1)

    report = {
        "what": __doc__.split("\n\n")[0].replace("\n", " "),
        "command": " ".join(["python benchmarks/sweep_schedule.py", *sys.argv[1:]]),
        "machine": machine(), "revision": git_revision(), "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "rows": rows,
        "mean_tokens_per_s": {s: mean(s, "tokens_per_s") for s in ("sequential", "interleaved")},
        "mean_wall_seconds": {s: mean(s, "wall_seconds") for s in ("sequential", "interleaved")},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: report[k] for k in ("mean_tokens_per_s", "mean_wall_seconds")}))


if __name__ == "__main__":
    main()
