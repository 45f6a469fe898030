"""How good a traced search run's pool was: every candidate it drew, judged on the hidden
tests, for the problems asked (by default /0–39, where tuning is allowed). Prints, per
run: candidates drawn per problem, the share of each problem's candidates that pass
(averaged over problems, and over all candidates), problems whose first candidate
passes, problems where the judge chose a passing one, and problems with any passing
candidate (within reach).

    .venv/bin/python benchmarks/candidate_accuracy.py RUN_DIR [RUN_DIR ...] [--tasks 0-39] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from agent.trace_events import SelectionMade, read_trace
from eval.bench import dataset_path
from eval.datasets import read_dataset
from eval.problems import hidden_job
from eval.run_dir import RunDir
from sandbox import SandboxConfig, open_sandbox


def task_range(text: str) -> range:
    first, _, last = text.partition("-")
    return range(int(first), int(last or first) + 1)


def measure(run: Path, tasks: range, box) -> dict[str, float | int | str]:
    info = RunDir(run).run_info()
    problems = {p.task_id: p for p in read_dataset(dataset_path(info.experiment.dataset)).problems}
    pools: dict[str, list[str]] = {}
    chosen: dict[str, int] = {}
    for event in read_trace(run / "trace.jsonl"):  # the last selection of a problem holds its whole pool
        if isinstance(event, SelectionMade) and int(event.task.rsplit("/", 1)[-1]) in tasks:
            pools[event.task] = [c["completion"] for c in event.candidates]
            chosen[event.task] = event.chosen
    with ThreadPoolExecutor(4) as threads:
        judged = dict(threads.map(lambda t: (t, [box.run(hidden_job(problems[t], c)).passed for c in pools[t]]),
                                  sorted(pools)))
    drawn = sum(len(v) for v in judged.values())
    return {"run": str(run), "problems": len(judged), "drawn per problem": round(drawn / len(judged), 2),
            "candidates right, per problem": round(sum(sum(v) / len(v) for v in judged.values()) / len(judged), 3),
            "candidates right, all": round(sum(sum(v) for v in judged.values()) / drawn, 3),
            "first candidate right": sum(v[0] for v in judged.values()),
            "chosen right": sum(v[chosen[t]] for t, v in judged.items()),
            "within reach": sum(any(v) for v in judged.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--tasks", type=task_range, default=task_range("0-39"), help="task numbers, e.g. 0-39")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with open_sandbox(SandboxConfig(backend="process"), say=lambda message: None) as box:
        rows = [measure(run, args.tasks, box) for run in args.runs]
    for row in rows:
        print(json.dumps(row))
    if args.out:
        result = {"date": time.strftime("%Y-%m-%d"), "tasks": f"{args.tasks.start}-{args.tasks.stop - 1}",
                  "runs": rows, "command": "python benchmarks/candidate_accuracy.py "
                  + " ".join(str(r) for r in args.runs)}
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
