"""A bench run replayed through today's code: every model request is answered with the
reply the recorded run got for the same messages (from its trace), so the agent's logic
alone decides. The rounds it records are compared with the recorded run's, field by
field: a refactor of the controller that changes no decision gives the same rounds.

    .venv/bin/python benchmarks/replay_run.py RUN_DIR [--out results/X.json]

RUN_DIR holds run.json, attempts.jsonl and trace.jsonl (any trace schema version). The
dataset is the run's own (`run.json`), judged in the bubblewrap sandbox. Sandbox verdicts
are deterministic but for time limits: a candidate near its limit may time out in one
run and not the other, which the comparison lists.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from collections import defaultdict, deque
from pathlib import Path
from typing import Any

from agent.config import SolverConfig
from agent.llm.client import Choice, Completion
from agent.solver import Solver
from agent.trace_events import ModelCall, read_trace
from eval.bench import Bench, BenchConfig, experiment_of, load_dataset
from eval.run_dir import RunDir
from sandbox import SandboxConfig, open_sandbox

COMPARED = ("completion", "action", "candidates", "selected_by", "cluster_size", "clusters", "drawn",
            "feedback_passed", "feedback_total", "visible_passed", "hidden_passed", "stop_reason", "kept_previous")


class ReplayLLM:
    """Answers each request with the next recorded reply to the same messages and options."""

    def __init__(self, calls: list[ModelCall]) -> None:
        self.recorded: dict[str, deque[ModelCall]] = defaultdict(deque)
        for call in calls:
            self.recorded[self.key(call.messages, call.options.get("n", 1))].append(call)
        self.missing = 0

    @staticmethod
    def key(messages: list[dict[str, Any]], n: int) -> str:
        return json.dumps([messages, n], sort_keys=True)

    async def chat(self, messages: list[dict[str, Any]], **options: Any) -> Completion:
        queue = self.recorded.get(self.key(messages, options.get("n", 1)))
        if not queue:
            self.missing += 1
            return Completion(choices=[Choice(text="") for _ in range(options.get("n", 1))])
        call = queue.popleft()
        return Completion(choices=[Choice(text=t) for t in call.replies], prompt_tokens=call.tokens.prompt,
                          completion_tokens=call.tokens.completion)


def replay(run_dir: Path) -> dict[str, Any]:
    recorded = RunDir(run_dir)
    info = recorded.run_info()
    solver = info.experiment.solver
    config = BenchConfig(dataset=info.experiment.dataset, format=info.experiment.dataset_format,
                         limit=info.experiment.limit, n=info.experiment.n, ks=[1],
                         solver=SolverConfig(**solver.model_dump(include=set(SolverConfig.model_fields))))
    problems, digest, fmt, _ = load_dataset(config)
    llm = ReplayLLM([e for e in read_trace(run_dir / "trace.jsonl") if isinstance(e, ModelCall)])
    with tempfile.TemporaryDirectory() as folder, open_sandbox(SandboxConfig(backend="process"), say=print) as box:
        again = RunDir(Path(folder) / "replay")
        agent = Solver(llm, box, config.solver, solver.model, run_name="replay")
        again.prepare(experiment_of(config, digest, agent.describe(), fmt), {"ks": [1]})
        asyncio.run(Bench(config, problems, agent, box, again).run())
        replayed = {(r.task_id, r.sample, r.round): r for r in again.load_attempts(repair=False)}
    before = {(r.task_id, r.sample, r.round): r for r in recorded.load_attempts(repair=False)}
    differences = [f"{key[0]}/{key[1]} round {key[2]} {field}: {getattr(before.get(key), field, None)!r:.60} -> "
                   f"{getattr(replayed.get(key), field, None)!r:.60}"
                   for key in sorted(set(before) | set(replayed)) for field in COMPARED
                   if getattr(before.get(key), field, None) != getattr(replayed.get(key), field, None)]
    tasks = sorted({k[0] for k in before})
    return {"run": str(run_dir), "problems": len(tasks), "rounds_recorded": len(before),
            "rounds_replayed": len(replayed), "requests_not_in_the_trace": llm.missing,
            "compared_fields": list(COMPARED), "differences": differences,
            "tasks_with_a_difference": sorted({d.split(" round")[0].rsplit("/", 1)[0] for d in differences})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = replay(args.run_dir)
    print(f"{result['problems']} problems, {result['rounds_recorded']} rounds recorded, "
          f"{result['rounds_replayed']} replayed; {result['requests_not_in_the_trace']} requests not in the trace; "
          f"{len(result['differences'])} differences in {len(result['tasks_with_a_difference'])} tasks")
    for line in result["differences"][:40]:
        print(" ", line)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
