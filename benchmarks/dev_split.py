"""The agent on the development split (HumanEval/0 to /39): pass@1 on the hidden tests
after round 0 and after the last round, tokens and seconds per problem.

Tuning happens on this split only; the bench reports the rest as held out.

    .venv/bin/python benchmarks/dev_split.py --base-url http://127.0.0.1:8000/v1 [--candidates 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.config import SolverConfig  # noqa: E402
from agent.llm.client import ClientConfig, LLMClient  # noqa: E402
from agent.solver import Solver  # noqa: E402
from eval.environment import machine  # noqa: E402
from eval.problems import load_problems  # noqa: E402
from sandbox import SandboxConfig, open_sandbox  # noqa: E402


async def main_async(args: argparse.Namespace) -> dict:
    problems = [p for tid, p in load_problems().items() if int(tid.split("/")[1]) < args.split]
    config = SolverConfig(rounds=args.rounds, candidates=args.candidates, temperature=args.temperature,
                          feedback=args.feedback)
    llm = LLMClient(ClientConfig(base_urls=[args.base_url], timeout=1800))
    gate = asyncio.Semaphore(args.concurrency)
    started = time.monotonic()
    with open_sandbox(SandboxConfig(workers=2), say=print) as box:
        solver = Solver(llm, box, config, llm.config.model)

        async def one(problem):
            async with gate:
                result = await solver.solve(problem)
                print(f"{problem.task_id}: rounds {result.rounds} solved {result.solved} "
                      f"{[r.hidden_passed for r in result.round_verdicts]}", flush=True)
                return result

        results = await asyncio.gather(*(one(p) for p in problems))
    await llm.close()
    wall = time.monotonic() - started
    last_round = args.rounds

    def passed_at(result, r):
        verdicts = result.round_verdicts
        return bool(verdicts[min(r, len(verdicts) - 1)].hidden_passed) if verdicts else False

    tokens = sum(r.usage["completion_tokens"] for r in results)
    solved = sum(r.solved for r in results)
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "split": f"HumanEval/0 to HumanEval/{args.split - 1}",
        "config": config.model_dump(),
        "problems": len(results),
        "pass_at_1_by_round": {str(r): round(sum(passed_at(x, r) for x in results) / len(results), 4)
                               for r in range(last_round + 1)},
        "solved": solved,
        "generated_tokens_per_problem": round(tokens / len(results), 1),
        "seconds_per_problem_wall": round(wall / len(results), 2),
        "wall_seconds": round(wall, 1),
        "concurrency": args.concurrency,
        "command": " ".join(["python benchmarks/dev_split.py", *sys.argv[1:]]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000/v1")
    parser.add_argument("--split", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--candidates", type=int, default=1)
    parser.add_argument("--temperature", type=float, default=0.0)
    parser.add_argument("--feedback", default="visible")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    report = asyncio.run(main_async(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
