"""How well the honest judge picks among a run's stored samples, without the model.

For each problem of a run directory with several samples per problem, the samples'
completions after round R are the candidates; each runs on the problem's inputs
(examples and their mutations: the model is not asked here) in the sandbox, and
`agent.consensus.select` picks one. Reported beside it: a random sample's pass@1, a
random sample passing the examples, and the share of problems where any sample passes
(the ceiling). Hidden verdicts come from the run's own records.

    python benchmarks/selection_offline.py results/bench/d_n10_visible --tasks 0-39 --round 0
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import time
from collections import defaultdict
from pathlib import Path

from agent.consensus import behaviour_of, select
from agent.inputs import gather_inputs
from eval.problems import harness_imports, load_problems, trusted_prelude
from sandbox import SandboxConfig, open_sandbox
from tools.calls import observation_job
from tools.visible_tests import extract_visible_tests


def records(run: Path) -> list[dict]:
    path = run / "attempts.jsonl"
    opener = (lambda: gzip.open(run / "attempts.jsonl.gz", "rt")) if not path.exists() else (lambda: open(path))
    with opener() as lines:
        return [json.loads(line) for line in lines if line.strip()]


def task_range(text: str) -> set[int]:
    low, _, high = text.partition("-")
    return set(range(int(low), int(high or low) + 1))


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path)
    parser.add_argument("--tasks", default="0-39")
    parser.add_argument("--round", type=int, default=0, help="the samples' answers after this round (-1: final)")
    parser.add_argument("--inputs", type=int, default=16, help="mutations per problem")
    parser.add_argument("--margin", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    wanted = task_range(args.tasks)
    problems = load_problems()
    by_task: dict[str, dict[int, dict]] = defaultdict(dict)
    for record in records(args.run):
        number = int(record["task_id"].split("/")[-1])
        if number not in wanted:
            continue
        if args.round < 0 and record.get("final") or record["round"] == args.round or (
                record["round"] < args.round and record.get("final")):
            by_task[record["task_id"]][record["sample"]] = record
    sandbox = open_sandbox(SandboxConfig(), say=lambda m: None)
    rows, sandbox_seconds = [], 0.0
    for task_id in sorted(by_task, key=lambda t: int(t.split("/")[-1])):
        problem, samples = problems[task_id], by_task[task_id]
        examples = extract_visible_tests(problem.prompt, problem.entry_point)
        inputs = gather_inputs(problem.prompt, problem.entry_point, examples, [], args.inputs)
        completions = [samples[s]["completion"] for s in sorted(samples)]
        hidden = [bool(samples[s]["hidden_passed"]) for s in sorted(samples)]
        started = time.monotonic()
        jobs = [observation_job(problem.prompt, problem.entry_point, c, [i.test for i in inputs],
                                trusted_prelude(problem.prompt), 1.0, harness_imports(problem.test or ""))
                for c in completions]
        verdicts = await asyncio.gather(*(asyncio.to_thread(sandbox.run, job) for job in jobs))
        sandbox_seconds += time.monotonic() - started
        behaviours = [behaviour_of(v) for v in verdicts]
        selection = select(inputs, behaviours, args.margin) if inputs else None
        example_pass = [all(b.passed[i] for i, t in enumerate(inputs) if t.source == "example") for b in behaviours]
        filtered = [h for h, e in zip(hidden, example_pass) if e] if examples else hidden
        rows.append({
            "task_id": task_id, "samples": len(completions), "plain": sum(hidden) / len(hidden),
            "filter": (sum(filtered) / len(filtered)) if filtered else sum(hidden) / len(hidden),
            "selected": hidden[selection.chosen] if selection else hidden[0], "any": any(hidden),
            "reason": selection.reason if selection else "no inputs", "clusters": len(selection.clusters) if selection else 0,
            "inputs": len(inputs)})
    sandbox.close()
    count = len(rows)
    summary = {key: round(100 * sum(r[key] for r in rows) / count, 1) for key in ("plain", "filter", "selected", "any")}
    summary.update(problems=count, round=args.round, run=str(args.run), sandbox_seconds=round(sandbox_seconds, 1),
                   inputs_per_problem=round(sum(r["inputs"] for r in rows) / count, 1))
    print(json.dumps(summary, indent=1))
    if args.out:
        args.out.write_text(json.dumps({"summary": summary, "problems": rows}, indent=1) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
