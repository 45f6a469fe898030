"""Evalplus expected outputs at a real dataset's scale: a HumanEval+-shaped file made from
HumanEval (its prompts and canonical solutions; its inputs: the search policy's inputs of
each prompt, kept where the canonical solution answers them within 2 s in the sandbox), its outputs
computed once (cold cache) and read back (warm), then the canonical solutions and a wrong
answer judged by the tests that hold them.

    .venv/bin/python benchmarks/expected_outputs.py --sandbox docker

Writes results/expected_outputs.json; the made file goes to runs/expected_outputs/ (it is
HumanEval's content, rebuilt by this script, so it is not committed).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.inputs import gather_inputs, literal_calls  # noqa: E402
from eval.datasets import read_dataset  # noqa: E402
from eval.environment import git_revision, machine  # noqa: E402
from eval.expected import EvalplusReference, ExpectedCache, complete_expected  # noqa: E402
from eval.judging import base_problem  # noqa: E402
from eval.problems import hidden_job, load_problems  # noqa: E402
from sandbox import SandboxConfig, open_sandbox  # noqa: E402
from tools.visible_tests import visible_tests_of  # noqa: E402

WRONG = "    return None\n"


def json_faithful(values: tuple) -> bool:
    """Arguments that a JSON file carries unchanged (no tuples, sets or non-string keys)."""
    try:
        return json.loads(json.dumps(list(values))) == list(values) and \
            repr(json.loads(json.dumps(list(values)))) == repr(list(values))
    except (TypeError, ValueError):
        return False


def candidate_inputs(problem) -> list[list]:
    examples = visible_tests_of(problem.prompt, problem.entry_point, None)
    made = gather_inputs(problem.prompt, problem.entry_point, examples, [], 16)
    inputs = []
    for item in made:
        calls = literal_calls(item.call, problem.entry_point)
        if calls and json_faithful(calls[0][0]) and list(calls[0][0]) not in inputs:
            inputs.append(list(calls[0][0]))
    return inputs


def make_dataset(box, target: Path) -> int:
    """The HumanEval+-shaped file; the inputs the canonical solution answers in the sandbox."""
    records = []
    for problem in load_problems().values():
        inputs = candidate_inputs(problem)
        if not inputs:
            continue
        probe = EvalplusReference(program=problem.prompt + problem.canonical_solution, entry_point=problem.entry_point,
                                  inputs=inputs, base_count=1)
        # in the inputs' order; an input the canonical solution needs over 2 s for is left out
        results = [result for job in probe.jobs(2.0) for result in box.run(job).tests]
        answered = [args for args, result in zip(inputs, results) if result.passed]
        if len(answered) < 2:
            continue
        half = max(1, len(answered) // 2)
        records.append({"task_id": problem.task_id.replace("HumanEval", "HumanEvalLike"),
                        "entry_point": problem.entry_point, "prompt": problem.prompt,
                        "canonical_solution": problem.canonical_solution, "base_input": answered[:half],
                        "plus_input": answered[half:], "atol": 1e-6})
    target.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(target, "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in records)
    return len(records)


def judge_all(box, problems, completion: str, workers: int) -> tuple[int, int, float]:
    """(plus passes, base passes, seconds) of one completion on every problem."""
    started = time.monotonic()
    with ThreadPoolExecutor(workers) as pool:
        plus = list(pool.map(lambda p: box.run(hidden_job(p, completion, 10.0)).passed, problems))
        base = list(pool.map(lambda p: box.run(hidden_job(base_problem(p), completion, 10.0)).passed, problems))
    return sum(plus), sum(base), time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sandbox", default="docker", choices=["docker", "process"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "expected_outputs.json")
    args = parser.parse_args()
    config = SandboxConfig(backend=args.sandbox, workers=args.workers)
    dataset_file = ROOT / "runs" / "expected_outputs" / "humaneval_like_plus.jsonl.gz"
    with open_sandbox(config, say=lambda m: None) as box:
        made = make_dataset(box, dataset_file)
        problems = read_dataset(dataset_file).problems
        inputs = sum(len(p.model_extra["evalplus_reference"]["inputs"]) for p in problems)
        with tempfile.TemporaryDirectory() as folder:
            cache = ExpectedCache(Path(folder))
            started = time.monotonic()
            completed, skipped = complete_expected(problems, cache, lambda: contextlib.nullcontext(box),
                                                   workers=args.workers, skip_bad=True, say=lambda m: None)
            cold = time.monotonic() - started
            started = time.monotonic()
            again, _ = complete_expected(problems, cache, lambda: contextlib.nullcontext(None), say=lambda m: None)
            warm = time.monotonic() - started
            assert [p.test for p in again] == [p.test for p in completed]
        canonical = {p.task_id: p.model_extra["evalplus_reference"] for p in completed}
        right_plus, right_base, right_seconds = 0, 0, 0.0
        for problem in completed:  # each canonical solution as its own problem's completion
            program = canonical[problem.task_id]["program"]
            completion = program[len(problem.prompt):]
            plus, base, seconds = judge_all(box, [problem], completion, 1)
            right_plus, right_base, right_seconds = right_plus + plus, right_base + base, right_seconds + seconds
        wrong_plus, wrong_base, wrong_seconds = judge_all(box, completed, WRONG, args.workers)
    report = {
        "what": "evalplus expected outputs computed once in the sandbox, on a HumanEval+-shaped file made from "
                "HumanEval (inputs: the search policy's, where the canonical solution answers them)",
        "machine": machine(), "revision": git_revision(), "sandbox": args.sandbox, "workers": args.workers,
        "problems": made, "inputs": inputs, "left_out": skipped,
        "cold_seconds": round(cold, 1), "cold_seconds_per_problem": round(cold / max(1, made), 3),
        "warm_seconds": round(warm, 2),
        "canonical_passes": {"plus": right_plus, "base": right_base, "of": len(completed),
                             "seconds": round(right_seconds, 1)},
        "return_none_passes": {"plus": wrong_plus, "base": wrong_base, "of": len(completed),
                               "seconds": round(wrong_seconds, 1)},
        "command": "python benchmarks/expected_outputs.py " + " ".join(sys.argv[1:]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
