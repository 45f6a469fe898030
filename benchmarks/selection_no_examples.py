"""Choice rules on a search run's own pools, without the model: what each would have
picked, against the hidden tests. For a run on a dataset without examples it shows what
the judge leaves on the table, and which rule to try next (tune on /0–39 only).

For every problem, the candidates the run drew (its last `selection` event) run again on
the run's inputs (its `inputs` event: signature values and the model's asserts) in the
sandbox, and each is judged on the hidden tests. Rules:
- `select`: today's choice (`agent.consensus.select`, recomputed);
- `plurality`: the largest behaviour cluster, claims ignored;
- `codet`: clusters scored by size times the model's claims they satisfy, each claim
  weighted by how many candidates satisfy it (CodeT's dual agreement, weighted);
- `first batch`: today's choice among the first batch's candidates only;
- `ceiling`: some candidate passes.

    .venv/bin/python benchmarks/selection_no_examples.py RUN_DIR [--out results/X.json]
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from agent.consensus import Behaviour, behaviour_of, failed, select
from agent.inputs import TestInput
from agent.trace_events import InputsChosen, SelectionMade, read_trace
from eval.bench import dataset_path
from eval.datasets import read_dataset
from eval.problems import hidden_job, trusted_prelude
from eval.run_dir import RunDir
from sandbox import SandboxConfig, open_sandbox
from tools.calls import observation_job

RULES = ("select", "plurality", "codet", "first batch", "ceiling")


def codet(inputs: list[TestInput], behaviours: list[Behaviour]) -> int:
    claims = [i for i, test in enumerate(inputs) if test.claimed is not None]
    weight = {i: sum(b.passed[i] for b in behaviours) for i in claims}
    kept = [i for i in range(len(inputs)) if any(not failed(b.outcomes[i]) for b in behaviours)]
    groups: dict[tuple, list[int]] = {}
    for index, behaviour in enumerate(behaviours):
        groups.setdefault(tuple(behaviour.outcomes[i] for i in kept), []).append(index)
    def score(members: list[int]) -> tuple:
        first = behaviours[members[0]]
        broken = all(failed(first.outcomes[i]) for i in kept) if kept else True
        return (not broken, len(members) * (1 + sum(weight[i] for i in claims if first.passed[i])), len(members))
    return max(groups.values(), key=score)[0]


def plurality(inputs: list[TestInput], behaviours: list[Behaviour]) -> int:
    groups: dict[tuple, list[int]] = {}
    for index, behaviour in enumerate(behaviours):
        groups.setdefault(tuple(behaviour.outcomes), []).append(index)
    return max(groups.values(), key=lambda m: (not all(failed(o) for o in behaviours[m[0]].outcomes), len(m)))[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    info = RunDir(args.run_dir).run_info()
    problems = {p.task_id: p for p in read_dataset(dataset_path(info.experiment.dataset)).problems}
    inputs: dict[str, list[TestInput]] = {}
    pools: dict[str, list[str]] = {}
    first_batch: dict[str, int] = {}
    for event in read_trace(args.run_dir / "trace.jsonl"):
        if isinstance(event, InputsChosen):
            inputs[event.task] = [TestInput(**i) for i in event.inputs]
        elif isinstance(event, SelectionMade):
            pools[event.task] = [c["completion"] for c in event.candidates]
            first_batch.setdefault(event.task, event.new)
    started = time.monotonic()
    timeout = info.experiment.solver.input_timeout
    with open_sandbox(SandboxConfig(backend="process"), say=print) as box, ThreadPoolExecutor(4) as threads:
        def judge(task: str) -> tuple[str, list[Behaviour], list[bool]]:
            problem, pool = problems[task], pools[task]
            tests = [i.test for i in inputs[task]]
            observed = [behaviour_of(box.run(observation_job(problem.prompt, problem.entry_point, c, tests,
                                                              trusted_prelude(problem.prompt), timeout)))
                        for c in pool]
            return task, observed, [box.run(hidden_job(problem, c)).passed for c in pool]
        judged = list(threads.map(judge, sorted(pools)))
    rows = {}
    for task, behaviours, passed in judged:
        made = inputs[task]
        rows[task] = {
            "select": passed[select(made, behaviours).chosen], "plurality": passed[plurality(made, behaviours)],
            "codet": passed[codet(made, behaviours)],
            "first batch": passed[select(made, behaviours[: first_batch[task]]).chosen],
            "ceiling": any(passed), "candidates": len(passed)}
    def share(tasks: list[str]) -> dict[str, int]:
        return {rule: sum(rows[t][rule] for t in tasks) for rule in RULES} | {"problems": len(tasks)}
    dev = [t for t in rows if int(t.split("/")[-1]) < 40]
    held = [t for t in rows if int(t.split("/")[-1]) >= 40]
    result = {"run": str(args.run_dir), "date": time.strftime("%Y-%m-%d"), "seconds": round(time.monotonic() - started),
              "all": share(list(rows)), "dev /0-39": share(dev), "held out /40-163": share(held),
              "command": f"python benchmarks/selection_no_examples.py {args.run_dir}"}
    print(json.dumps({k: v for k, v in result.items() if isinstance(v, dict)}, indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
