"""The data `agent view`'s page is built from, and the page's text: runs made in-process
(the real Solver and bench with a scripted model, the real process sandbox), a committed
run, a solve's folder and a sweep. The page itself is driven in a real browser in
tests/integration/test_view_browser.py."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from agent.config import SolverConfig
from agent.solver import Solver
from agent.trace import Tracer
from eval.bench import Bench, BenchConfig, experiment_of, load_dataset
from eval.problems import Problem
from eval.report import write_summary
from eval.run_dir import RunDir
from eval.sweep import SweepManifest, SweepPoint
from agent.view import ViewError, page_data, render_page
from agent.view.page import unpacked_data
from agent.view.data import _covered, natural_key
from sandbox import SandboxConfig, open_sandbox
from tests.unit.test_controller import BAD, GOOD, PROMPT, TEST, FakeLLM

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "results" / "bench" / "search_b6000"
# A candidate's code is hostile: this one tries to end the page's data script and load an image.
HOSTILE = ("```python\ndef median(xs):\n    # </script><img src=http://198.51.100.7/x.png onerror=alert(1)>\u2028\n"
           "    return sorted(xs)[len(xs) // 2]\n```")


@pytest.fixture(scope="module")
def sandbox():
    with open_sandbox(SandboxConfig(backend="process", workers=2), say=lambda m: None) as box:
        yield box


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, sandbox):
    return make_run(tmp_path_factory.mktemp("view"), sandbox)


def make_run(folder: Path, sandbox) -> Path:
    """Two tasks. demo/10: sample 0 passes at round 0; sample 1 answers with the hostile
    code, fails, and a repair passes. demo/9: both samples fail every round."""
    dataset = folder / "data.jsonl"
    records = [{"task_id": "demo/10", "entry_point": "median", "prompt": PROMPT, "test": TEST},
               {"task_id": "demo/9", "entry_point": "median", "prompt": PROMPT, "test": TEST + "    assert False\n"}]
    dataset.write_text("".join(json.dumps(r) + "\n" for r in records))
    config = BenchConfig(dataset=str(dataset), n=2, ks=[1], concurrency=1,
                         solver=SolverConfig(temperature=0.8, rounds=1))
    problems, digest, *_ = load_dataset(config)
    script = [[GOOD, HOSTILE], [GOOD], [GOOD, GOOD]]
    solver = Solver(FakeLLM(script), sandbox, config.solver, "qwen2.5-coder", run_name="r")
    directory = RunDir(folder / "run")
    directory.prepare(experiment_of(config, digest, solver.describe()), {"ks": [1], "problems_total": 2})
    asyncio.run(Bench(config, problems, solver, sandbox, directory).run())
    write_summary(directory.path)
    return directory.path


def strings_of(data, indices):
    return [data.strings[i] for i in indices]


def test_task_rows_count_what_the_attempts_hold(run_dir):
    data = page_data([run_dir])
    assert data.kind == "run" and len(data.runs) == 1
    run = data.runs[0]
    assert [t.task_id for t in run.tasks] == ["demo/9", "demo/10"]  # natural order, not file order
    tasks = {t.task_id: t for t in run.tasks}
    median = tasks["demo/10"]
    assert (median.solved, median.solved_first, median.repaired, median.within_reach) == (2, 1, True, False)
    assert median.rounds == 1.5  # one round for sample 0, two for sample 1
    failing = tasks["demo/9"]
    assert (failing.solved, failing.solved_first, failing.repaired) == (0, 0, False)
    lines = RunDir(run_dir).load_attempts(repair=False)
    for task in run.tasks:
        for sample in task.samples:
            mine = sorted((x for x in lines if (x.task_id, x.sample) == (task.task_id, sample.sample)),
                          key=lambda x: x.round)
            assert strings_of(data, [r.completion for r in sample.rounds]) == [x.completion for x in mine]
            assert [r.hidden_passed for r in sample.rounds] == [x.hidden_passed for x in mine]
        tokens = sum(x.completion_tokens for x in lines if x.task_id == task.task_id)
        assert task.tokens == tokens / len(task.samples)
    assert data.strings[median.prompt] == PROMPT


def test_the_figures_are_summary_json_s(run_dir):
    run = page_data([run_dir]).runs[0]
    written = json.loads((run_dir / "summary.json").read_text())
    assert run.summary["pass_at_k"] == written["pass_at_k"] == {"0": {"1": 0.25}, "1": {"1": 0.5}}
    assert run.head["policy"] == "repair" and run.settings["rounds"] == 1


def test_each_sample_carries_its_own_trace_on_one_clock(run_dir):
    run = page_data([run_dir]).runs[0]
    assert run.traced and run.time.source == "trace"
    for task in run.tasks:
        for sample in task.samples:
            kinds = [e.kind for e in sample.events]
            assert kinds.count("model_call") == len(sample.rounds) and kinds[-1] == "stop"
            assert min(e.start for e in sample.events) == 0.0
            assert [e.id for e in sample.events] == sorted(e.id for e in sample.events)


def test_spans_that_overlap_are_counted_once():
    assert _covered([(0, 2), (1, 3), (5, 6)]) == 4
    assert _covered([]) == 0
    assert natural_key("HumanEval/2") < natural_key("HumanEval/10") < natural_key("Mbpp/1")


def test_hostile_code_cannot_leave_the_data_script(run_dir):
    data = page_data([run_dir])
    assert any("</script><img" in s for s in data.strings)  # the run does hold it
    page = render_page(data)
    assert "</script><img" not in page and "<img" not in page
    assert page.count("</script>") == 3  # the data, jsdiff and the viewer: nothing else ends a script
    assert unpacked_data(page) == json.loads(data.model_dump_json(exclude_none=True))  # packed, not altered


def test_the_page_asks_for_nothing_outside_itself(run_dir):
    page = render_page(page_data([run_dir]))
    assert "default-src 'none'" in page  # the browser refuses any request the page would make
    assert not re.search(r"<(link|img|iframe)\b|\bsrc\s*=", page.split('id="page-data"')[0])
    assert len(page) < 200_000  # the data is packed: this small run's page is mostly the viewer


def test_a_committed_run_reads_from_its_packed_attempts():
    run = page_data([COMMITTED]).runs[0]
    written = json.loads((COMMITTED / "summary.json").read_text())
    assert run.summary["pass_at_k"] == written["pass_at_k"]
    assert len(run.tasks) == 164 and run.tasks[1].task_id == "HumanEval/1"
    assert run.time.source == "records" and run.time.sandbox > 0  # the search's judge seconds
    reach = [t for t in run.tasks if t.within_reach]
    assert reach and all(t.solved == 0 for t in reach)


def test_a_solve_folder_is_one_task(tmp_path, sandbox):
    problem = Problem(prompt=PROMPT, entry_point="median", test=TEST, task_id="median")
    tracer = Tracer(tmp_path / "trace.jsonl", run="solve", task="median")
    result = asyncio.run(Solver(FakeLLM([[BAD], [GOOD]]), sandbox, SolverConfig(rounds=2), "qwen2.5-coder")
                         .solve(problem, tracer))
    (tmp_path / "result.json").write_text(result.model_dump_json())
    data = page_data([tmp_path])
    assert data.kind == "solve" and data.runs[0].head["verdict"] == "solved"
    (task,) = data.runs[0].tasks
    assert [r.round for r in task.samples[0].rounds] == [0, 1]
    assert {e.kind for e in task.samples[0].events} >= {"model_call", "feedback", "stop"}


def test_a_sweep_folder_compares_its_points(run_dir, tmp_path):
    points = [SweepPoint(name="temperature-0", settings={"temperature": "0"}),
              SweepPoint(name="temperature-0.8", settings={"temperature": "0.8"})]
    for point in points:
        shutil.copytree(run_dir, tmp_path / point.name)
    manifest = SweepManifest(grid={"temperature": ["0", "0.8"]}, points=points, command="agent sweep")
    (tmp_path / "sweep.json").write_text(manifest.model_dump_json())
    data = page_data([tmp_path])
    assert data.kind == "sweep" and [r.name for r in data.runs] == ["temperature-0", "temperature-0.8"]
    assert data.grid == {"temperature-0": {"temperature": "0"}, "temperature-0.8": {"temperature": "0.8"}}


def test_what_cannot_be_viewed_is_one_sentence(tmp_path, run_dir):
    with pytest.raises(ViewError, match="holds neither run.json"):
        page_data([tmp_path])
    broken = tmp_path / "broken"
    shutil.copytree(run_dir, broken)
    with open(broken / "trace.jsonl", "a") as handle:
        handle.write('{"torn": \n')
    with pytest.raises(ViewError, match=r"line \d+ of .*trace.jsonl is not a trace event"):
        page_data([broken])
    for args in (["view", str(tmp_path / "missing")], ["view", str(broken)]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2 and result.output.count("\n") == 1 and "Traceback" not in result.output


def test_the_command_writes_the_page_beside_the_run(run_dir, tmp_path):
    target = tmp_path / "page.html"
    result = CliRunner().invoke(app, ["view", str(run_dir), "--out", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_text().startswith("<!DOCTYPE html>") and str(target) in result.output
