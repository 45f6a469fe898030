"""Two bench runs of the same problems compared per problem and per round: pass@1 of
each, the problems only one of them solves, and generated tokens per second.

    .venv/bin/python benchmarks/paired_runs.py BEFORE_DIR AFTER_DIR [--out results/X.json]

Each run directory holds attempts.jsonl (or attempts.jsonl.gz, as committed under
results/bench/), run.json and sessions.jsonl. Only samples complete in both runs count.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

from eval.records import RoundRecord
from eval.report import candidates_by_round
from eval.run_dir import RunDir


def load(run_dir: Path) -> tuple[list[RoundRecord], dict, list[dict]]:
    directory = RunDir(run_dir)
    return directory.load_attempts(repair=False), directory.run_info().model_dump(), directory.sessions()


def per_problem(lines: list[RoundRecord], rounds: int) -> dict[str, list[float]]:
    """task -> the share of its samples passing at each round."""
    outcome: dict[str, list[list[bool]]] = defaultdict(list)
    for (task, _), rows in candidates_by_round(lines, rounds).items():
        outcome[task].append([bool(r.hidden_passed) for r in rows])
    return {task: [sum(s[r] for s in samples) / len(samples) for r in range(rounds + 1)]
            for task, samples in outcome.items()}


def throughput(sessions: list[dict]) -> dict:
    wall = sum(s["wall_seconds"] for s in sessions)
    tokens = sum(s["completion_tokens"] for s in sessions)
    return {"wall_seconds": round(wall, 1), "completion_tokens": tokens,
            "tokens_per_second": round(tokens / wall, 2) if wall else None, "sessions": len(sessions)}


def compare(before_dir: Path, after_dir: Path) -> dict:
    before, before_info, before_sessions = load(before_dir)
    after, after_info, after_sessions = load(after_dir)
    rounds = min(RunDir(before_dir).run_info().rounds, RunDir(after_dir).run_info().rounds)
    a, b = per_problem(before, rounds), per_problem(after, rounds)
    tasks = sorted(set(a) & set(b), key=lambda t: (t.split("/")[0], int(t.split("/")[-1]) if t.split("/")[-1].isdigit() else t))
    table = []
    for r in range(rounds + 1):
        only_before = [t for t in tasks if a[t][r] > b[t][r]]
        only_after = [t for t in tasks if b[t][r] > a[t][r]]
        table.append({"round": r, "pass@1_before": round(sum(a[t][r] for t in tasks) / len(tasks), 4),
                      "pass@1_after": round(sum(b[t][r] for t in tasks) / len(tasks), 4),
                      "better_after": only_after, "better_before": only_before})
    return {"date": time.strftime("%Y-%m-%d"), "problems": len(tasks),
            "before": {"dir": str(before_dir), "revision": before_info.get("revision"),
                       "machine": before_info.get("machine"), "command": before_info.get("command"),
                       **throughput(before_sessions)},
            "after": {"dir": str(after_dir), "revision": after_info.get("revision"),
                      "machine": after_info.get("machine"), "command": after_info.get("command"),
                      **throughput(after_sessions)},
            "by_round": table}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = compare(args.before, args.after)
    for row in result["by_round"]:
        print(f"round {row['round']}: pass@1 {100 * row['pass@1_before']:.1f}% -> {100 * row['pass@1_after']:.1f}%  "
              f"better after: {len(row['better_after'])} {row['better_after']}  "
              f"better before: {len(row['better_before'])} {row['better_before']}")
    print(f"tokens/s {result['before']['tokens_per_second']} -> {result['after']['tokens_per_second']}; "
          f"wall {result['before']['wall_seconds']} s -> {result['after']['wall_seconds']} s")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
