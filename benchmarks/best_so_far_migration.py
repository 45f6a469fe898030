"""Rewrites a bench run's attempts.jsonl recorded before revision "bench: the current
candidate is the best so far" so that each round's line holds the sample's current
candidate, as the controller keeps it, instead of that round's own attempt.

Exact, with no new judging: the controller keeps round r's candidate unless it passes
fewer feedback tests than the best so far, and the best so far is always an earlier
round's candidate, whose line (code, visible and hidden verdicts, error kind) is in the
file. Tokens, seconds and the action stay the round's own. Lines that already carry
`kept_previous` are left alone; the original file is kept beside it as
attempts.before-best-so-far.jsonl.

    .venv/bin/python benchmarks/best_so_far_migration.py runs/a_greedy_visible
"""

from __future__ import annotations

import json
import shutil
import sys
from collections import defaultdict
from pathlib import Path

CANDIDATE_FIELDS = ("code", "completion", "visible_passed", "feedback_passed", "feedback_total", "hidden_passed",
                    "hidden_result", "error_kind")


def migrate(lines: list[dict]) -> tuple[list[dict], int]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for line in lines:
        groups[(line["task_id"], line["sample"])].append(line)
    changed = 0
    for group in groups.values():
        if all("kept_previous" in line for line in group):
            continue
        best = None
        for line in sorted(group, key=lambda x: x["round"]):
            kept = best is not None and line["feedback_passed"] < best["feedback_passed"]
            if not kept:
                best = dict(line)
            else:
                changed += 1
                line.update({k: best[k] for k in CANDIDATE_FIELDS})
            line["kept_previous"] = kept
    return lines, changed


def main() -> None:
    run_dir = Path(sys.argv[1])
    path = run_dir / "attempts.jsonl"
    lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    backup = run_dir / "attempts.before-best-so-far.jsonl"
    if not backup.exists():
        shutil.copy(path, backup)
    lines, changed = migrate(lines)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(json.dumps(line) + "\n" for line in lines))
    tmp.replace(path)
    print(f"{run_dir}: {len(lines)} lines, {changed} rounds now hold the best so far")


if __name__ == "__main__":
    main()
