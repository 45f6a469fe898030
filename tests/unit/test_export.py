"""`agent export` on a run made in-process (the real Solver and bench with a scripted
model, the real process sandbox): strict schema, filters, and no hidden test text."""

from __future__ import annotations

import asyncio
import json

import pytest

from agent.config import SolverConfig
from agent.export import ExportError, ExportOptions, PreferenceExample, SFTExample, export_runs
from agent.solver import Solver
from eval.bench import Bench, BenchConfig, experiment_of, load_dataset
from eval.run_dir import RunDir
from sandbox import SandboxConfig, open_sandbox
from tests.unit.test_controller import BAD, GOOD, PROMPT, TEST, FakeLLM


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """Sample 0 passes at round 0; sample 1 fails its examples, then a repair passes."""
    folder = tmp_path_factory.mktemp("export")
    dataset = folder / "data.jsonl"
    dataset.write_text(json.dumps({"task_id": "demo/median", "entry_point": "median", "prompt": PROMPT,
                                   "test": TEST}) + "\n")
    config = BenchConfig(dataset=str(dataset), n=2, ks=[1], solver=SolverConfig(temperature=0.8, rounds=2))
    problems, digest, *_ = load_dataset(config)
    with open_sandbox(SandboxConfig(backend="process", workers=2), say=lambda m: None) as box:
        solver = Solver(FakeLLM([[GOOD, BAD], [GOOD]]), box, config.solver, "qwen2.5-coder", run_name="r")
        directory = RunDir(folder / "run")
        directory.prepare(experiment_of(config, digest, solver.describe()), {"ks": [1], "problems_total": 1})
        asyncio.run(Bench(config, problems, solver, box, directory).run())
    return directory.path


def export(run_dir, tmp_path, **options):
    target = tmp_path / "out.jsonl"
    summary = export_runs([run_dir], ExportOptions(**options), target)
    return summary, [json.loads(line) for line in target.read_text().splitlines()]


def hidden_asserts() -> list[str]:
    return [line.strip() for line in TEST.splitlines() if line.strip().startswith("assert")]


def test_sft_holds_the_conversation_that_produced_each_passing_answer(run_dir, tmp_path):
    summary, lines = export(run_dir, tmp_path, dedupe=False)
    examples = [SFTExample.model_validate(line, strict=True) for line in lines]
    assert summary.examples == 2 and summary.samples == 2
    by_sample = {e.metadata.sample: e for e in examples}
    first, repaired = by_sample[0], by_sample[1]
    assert [m.role for m in first.messages] == ["system", "user", "assistant"] and first.messages[-1].content == GOOD
    assert [m.role for m in repaired.messages] == ["system", "user", "assistant", "user", "assistant"]
    assert repaired.messages[2].content == BAD and "expected 2.5" in repaired.messages[3].content
    assert repaired.messages[-1].content == GOOD and repaired.metadata.round == 1
    assert all(e.metadata.verified_by == "hidden" for e in examples)


def test_filters_dedupe_and_min_round(run_dir, tmp_path):
    summary, lines = export(run_dir, tmp_path)
    assert summary.examples == 1 and summary.duplicates_dropped == 1  # the same code twice
    _, lines = export(run_dir, tmp_path, min_round=1)
    assert [line["metadata"]["round"] for line in lines] == [1]
    with pytest.raises(ExportError, match="declares no development split"):
        export(run_dir, tmp_path, split="dev")


def test_preference_pairs_a_passing_and_a_failing_reply_to_one_prompt(run_dir, tmp_path):
    summary, lines = export(run_dir, tmp_path, format="preference", dedupe=False)
    pairs = [PreferenceExample.model_validate(line, strict=True) for line in lines]
    assert sorted(p.metadata.source for p in pairs) == ["repair", "same_prompt"]
    assert export(run_dir, tmp_path, format="preference")[0].examples == 1  # the two pairs read the same
    for pair in pairs:
        assert pair.chosen[0].content == GOOD and pair.rejected[0].content == BAD
        assert [m.role for m in pair.prompt] == ["system", "user"]


def test_a_strict_parser_refuses_what_the_schema_does_not_name(run_dir, tmp_path):
    _, lines = export(run_dir, tmp_path)
    with pytest.raises(ValueError):
        SFTExample.model_validate({**lines[0], "extra": 1}, strict=True)


@pytest.mark.parametrize("fmt", ["sft", "preference"])
def test_no_hidden_test_text_reaches_the_messages_of_an_honest_run(run_dir, tmp_path, fmt):
    _, lines = export(run_dir, tmp_path, format=fmt, dedupe=False)
    text = json.dumps([line.get("messages", []) + line.get("prompt", []) + line.get("chosen", []) +
                       line.get("rejected", []) for line in lines])
    assert lines and "candidate(" not in text
    assert not [a for a in hidden_asserts() if a in text]


def test_a_split_never_leaks_the_other_part(run_dir, tmp_path):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    RunDir(copy).update_info(dev_split=["demo/median"])
    everything = export(copy, tmp_path, dedupe=False)[1]
    assert export(copy, tmp_path, split="dev", dedupe=False)[1] == everything
    summary, held_out = export(copy, tmp_path, split="held-out", dedupe=False)
    assert held_out == [] and summary.samples == 0


@pytest.mark.parametrize("prefilled", [False, True])
def test_a_search_run_exports_the_reply_that_drew_its_answer(tmp_path, prefilled):
    """A search round's candidates come from a fresh request and, when the answer fails an
    example, a repair: the exported turn is the request and reply that drew the answer. An
    answer begun for the model (prefill) is exported whole, as the assistant's turn."""
    from tests.unit.test_search import BODY_BAD, BODY_GOOD, TESTS

    dataset = tmp_path / "data.jsonl"
    dataset.write_text(json.dumps({"task_id": "demo/median", "entry_point": "median", "prompt": PROMPT,
                                   "test": TEST}) + "\n")
    config = BenchConfig(dataset=str(dataset), n=1, ks=[1], solver=SolverConfig(policy="search", candidates=3,
                                                                                 rounds=2, prefill=prefilled))
    problems, digest, *_ = load_dataset(config)
    bad, good = (BODY_BAD, BODY_GOOD) if prefilled else (BAD, GOOD)
    script = [[TESTS], [bad, bad, bad], [bad, good, good], [bad]]
    with open_sandbox(SandboxConfig(backend="process", workers=2), say=lambda m: None) as box:
        solver = Solver(FakeLLM(script), box, config.solver, "qwen2.5-coder", run_name="s")
        directory = RunDir(tmp_path / "run")
        directory.prepare(experiment_of(config, digest, solver.describe()), {"ks": [1], "problems_total": 1})
        asyncio.run(Bench(config, problems, solver, box, directory).run())
    records = directory.load_attempts(repair=False)
    assert [r.drawn_passed for r in records] == [0, 2] and records[-1].hidden_passed
    summary, lines = export(directory.path, tmp_path)
    (example,) = [SFTExample.model_validate(line, strict=True) for line in lines]
    whole = "```python\n" + PROMPT + BODY_GOOD if prefilled else GOOD
    assert example.messages[-1].content == whole and [m.role for m in example.messages] == ["system", "user",
                                                                                              "assistant"]
    assert example.metadata.round == 1
    assert export(directory.path, tmp_path, format="preference")[0].examples == 0  # no per-reply verdicts


def bench_run(tmp_path, solver_config: SolverConfig, script, name: str = "run") -> RunDir:
    """One sample of the median problem, benched in-process with a scripted model."""
    dataset = tmp_path / "data.jsonl"
    dataset.write_text(json.dumps({"task_id": "demo/median", "entry_point": "median", "prompt": PROMPT,
                                   "test": TEST}) + "\n")
    config = BenchConfig(dataset=str(dataset), n=1, ks=[1], solver=solver_config)
    problems, digest, *_ = load_dataset(config)
    with open_sandbox(SandboxConfig(backend="process", workers=2), say=lambda m: None) as box:
        solver = Solver(FakeLLM(script), box, config.solver, "qwen2.5-coder", run_name=name)
        directory = RunDir(tmp_path / name)
        directory.prepare(experiment_of(config, digest, solver.describe()), {"ks": [1], "problems_total": 1})
        asyncio.run(Bench(config, problems, solver, box, directory).run())
    return directory


def test_a_react_step_whose_first_call_was_malformed_exports_the_corrected_reply(tmp_path):
    """The step's answer came from the call after the correction: that call's request (with
    the malformed reply and the correction) and its reply are exported, not the first."""
    malformed = "Thought: I am not sure yet."
    corrected = f"Thought: even lengths average the middle two.\n{GOOD}"
    config = SolverConfig(policy="react", react_protocol="text", react_constrained=False, rounds=3)
    directory = bench_run(tmp_path, config, [[BAD], [malformed], [corrected]])
    records = directory.load_attempts(repair=False)
    assert [r.tool for r in records] == ["run_tests", "run_tests"] and records[-1].hidden_passed
    _, lines = export(directory.path, tmp_path)
    (example,) = [SFTExample.model_validate(line, strict=True) for line in lines]
    assert example.messages[-1].content == corrected and example.metadata.round == 1
    assert example.messages[-3].content == malformed  # the request shows what was corrected


def test_a_run_python_step_keeps_the_answer_and_is_not_its_producer(tmp_path):
    """A step that only runs code judges no candidate: its record keeps the answer it had
    (`kept_previous`), and export credits the step that wrote the answer."""
    probe = "Thought: look at it.\nAction: run_python\n```python\nprint(sorted([4, 1, 2, 3]))\n```"
    config = SolverConfig(policy="react", react_protocol="text", react_constrained=False, rounds=1, feedback="none")
    directory = bench_run(tmp_path, config, [[GOOD], [probe]])
    records = directory.load_attempts(repair=False)
    assert [r.tool for r in records] == ["run_tests", "run_python"] and records[-1].hidden_passed
    assert [r.kept_previous for r in records] == [False, True]
    _, lines = export(directory.path, tmp_path)
    (example,) = [SFTExample.model_validate(line, strict=True) for line in lines]
    assert example.metadata.round == 0 and "(s[n // 2 - 1] + s[n // 2]) / 2" in example.messages[-1].content
