"""The data a run page is built from: bench run directories, a sweep, or a solve's folder,
read into compact typed models. Every long string (code, prompts, messages, observations)
is kept once in a table and referred to by its index, because rounds that keep an answer
and conversations that grow repeat them many times."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from agent.trace_events import TraceError, TraceEvent, parse_event
from eval.records import RoundRecord
from eval.report import summarize_run
from eval.run_dir import RUN, TRACE, RunDir, RunDirError

PAGE_SCHEMA = 1
INLINE = 64  # strings at least this long go to the table


class ViewError(ValueError):
    """What was given cannot be viewed; the message is one sentence."""


class Strings:
    """A table of distinct strings; `ref` gives a string's index in it."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self._index: dict[str, int] = {}

    def ref(self, text: str) -> int:
        if text not in self._index:
            self._index[text] = len(self.items)
            self.items.append(text)
        return self._index[text]

    def pack(self, value: Any) -> Any:
        """`value` with every long string replaced by `{"s": index}`."""
        if isinstance(value, str):
            return {"s": self.ref(value)} if len(value) >= INLINE else value
        if isinstance(value, list):
            return [self.pack(v) for v in value]
        if isinstance(value, dict):
            return {k: self.pack(v) for k, v in value.items()}
        return value


class RoundView(BaseModel):
    """One round as a page shows it; `completion`, `drawn` and `observation` index the table."""

    round: int
    action: str
    completion: int
    kept_previous: bool = False
    candidates: int = 1
    tool: str | None = None
    observation: int | None = None
    visible_passed: bool | None = None
    feedback_passed: int = 0
    feedback_total: int = 0
    feedback_error: str | None = None
    hidden_passed: bool | None = None
    hidden_result: str | None = None
    base_passed: bool | None = None
    error_kind: str | None = None
    selected_by: str | None = None
    cluster_size: int | None = None
    clusters: int | None = None
    drawn: list[int] = Field(default_factory=list)
    drawn_passed: int | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    judge_seconds: float = 0.0
    stop_reason: str | None = None


class EventView(BaseModel):
    """One trace event: its place in the sample's timeline and its own fields (packed)."""

    id: int
    parent: int | None
    kind: str
    round: int
    node: str
    start: float = Field(description="seconds from the sample's first event to this one's start")
    duration: float
    fields: dict[str, Any]


class SampleView(BaseModel):
    sample: int
    stop_reason: str | None
    rounds: list[RoundView]
    events: list[EventView] | None = Field(None, description="the sample's trace; None when the run kept none")


class TaskView(BaseModel):
    """A task's row in the table, and its samples for the drill-down."""

    task_id: str
    prompt: int | None
    samples: list[SampleView]
    solved: int = Field(description="samples whose last answer passes the hidden tests")
    solved_first: int = Field(description="samples whose round-0 answer passes them")
    rounds: float = Field(description="rounds per sample, round 0 counted")
    tokens: float = Field(description="generated tokens per sample")
    seconds: float = Field(description="seconds per sample")
    stop_reason: str | None = Field(description="the most common reason its samples stopped")
    repaired: bool = Field(description="some sample failed at round 0 and passes at its last round")
    within_reach: bool = Field(description="some sample drew a candidate that passes, yet its answer fails")


class TimeSplit(BaseModel):
    """Where a run's seconds went; from the trace's spans when there is one."""

    source: Literal["trace", "records"]
    model: float | None = Field(description="seconds of model requests (None: the records do not tell)")
    sandbox: float | None = Field(description="seconds of sandbox jobs")
    total: float = Field(description="the samples' seconds, end to end")


class RunView(BaseModel):
    name: str
    path: str
    kind: Literal["bench", "solve"]
    oracle: bool
    head: dict[str, str] = Field(description="what the page's head shows, in order")
    settings: dict[str, Any] = Field(description="every solver flag the run used")
    summary: dict[str, Any] | None = Field(description="summary.json's figures (a bench run)")
    time: TimeSplit
    traced: bool
    tasks: list[TaskView]


class PageData(BaseModel):
    v: int = PAGE_SCHEMA
    kind: Literal["run", "runs", "sweep", "solve"]
    title: str
    generated: str
    grid: dict[str, dict[str, str]] | None = Field(None, description="sweep: each point's settings, by run name")
    runs: list[RunView]
    strings: list[str]


# ---------------------------------------------------------------------- rounds and tasks


def round_view(line: RoundRecord, strings: Strings) -> RoundView:
    fields = line.model_dump(exclude={"task_id", "sample", "code", "final", "completion", "drawn", "observation"})
    return RoundView(**fields, completion=strings.ref(line.completion), drawn=[strings.ref(d) for d in line.drawn],
                     observation=None if line.observation is None else strings.ref(line.observation))


def prompt_of(line: RoundRecord) -> str | None:
    """The task's prompt, read off a round's program (`prompt + completion`)."""
    if line.code and line.code.endswith(line.completion):
        return line.code[:len(line.code) - len(line.completion)]
    return None


def task_view(task_id: str, samples: list[SampleView], lines: list[RoundRecord], strings: Strings) -> TaskView:
    by_sample: dict[int, list[RoundRecord]] = defaultdict(list)
    for line in lines:
        by_sample[line.sample].append(line)
    finals = [rows[-1] for rows in by_sample.values()]
    firsts = [rows[0] for rows in by_sample.values()]
    count = len(by_sample)
    prompt = next((p for p in map(prompt_of, lines) if p), None)
    stops = Counter(s.stop_reason or "?" for s in samples)
    return TaskView(
        task_id=task_id, prompt=None if prompt is None else strings.ref(prompt), samples=samples,
        solved=sum(bool(f.hidden_passed) for f in finals), solved_first=sum(bool(f.hidden_passed) for f in firsts),
        rounds=round(sum(len(rows) for rows in by_sample.values()) / count, 2),
        tokens=round(sum(x.completion_tokens for x in lines) / count, 1),
        seconds=round(sum(x.seconds for x in lines) / count, 2),
        stop_reason=stops.most_common(1)[0][0] if stops else None,
        repaired=any(not rows[0].hidden_passed and rows[-1].hidden_passed for rows in by_sample.values()),
        within_reach=any(not rows[-1].hidden_passed and any(r.drawn_passed or r.hidden_passed for r in rows)
                         for rows in by_sample.values()))


def tasks_of(lines: list[RoundRecord], events: dict[tuple[str, int], list[TraceEvent]] | None,
             strings: Strings) -> list[TaskView]:
    """Tasks in the order of their first record; samples in order; rounds in order."""
    grouped: dict[str, dict[int, list[RoundRecord]]] = defaultdict(lambda: defaultdict(list))
    for line in lines:
        grouped[line.task_id][line.sample].append(line)
    tasks = []
    for task_id, by_sample in grouped.items():
        samples, task_lines = [], []
        for sample in sorted(by_sample):
            rows = sorted(by_sample[sample], key=lambda x: x.round)
            task_lines += rows
            trace = None if events is None else events.get((task_id, sample), [])
            samples.append(SampleView(sample=sample, stop_reason=rows[-1].stop_reason,
                                      rounds=[round_view(r, strings) for r in rows],
                                      events=None if trace is None else event_views(trace, strings)))
        tasks.append(task_view(task_id, samples, task_lines, strings))
    return sorted(tasks, key=lambda t: natural_key(t.task_id))


def natural_key(task_id: str) -> list[Any]:
    """HumanEval/2 before HumanEval/10: digit runs compare as numbers."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", task_id)]


# ---------------------------------------------------------------------- the trace


def _seconds(stamp: str) -> float | None:
    try:
        return datetime.fromisoformat(stamp).timestamp()
    except ValueError:
        return None


def event_views(events: list[TraceEvent], strings: Strings) -> list[EventView]:
    starts = [_seconds(e.started) for e in events]
    origin = min((s for s in starts if s is not None), default=0.0)
    base = {"v", "id", "parent", "run", "task", "sample", "round", "node", "started", "ended", "duration", "kind"}
    return [EventView(id=e.id, parent=e.parent, kind=e.kind, round=e.round, node=e.node,
                      start=round((s - origin) if s is not None else 0.0, 4), duration=e.duration,
                      fields=strings.pack(e.model_dump(mode="json", exclude=base)))
            for e, s in zip(events, starts)]


def read_events(path: Path) -> dict[tuple[str, int], list[TraceEvent]]:
    """A trace file's events by (task, sample); a torn or unreadable line is one sentence."""
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    grouped: dict[tuple[str, int], list[TraceEvent]] = defaultdict(list)
    for number, chunk in enumerate(raw.split(b"\n"), 1):
        if not chunk.strip():
            continue
        try:
            event = parse_event(json.loads(chunk))
        except ValueError:
            raise TraceError(f"line {number} of {path} is not a trace event") from None
        grouped[(event.task, event.sample)].append(event)
    return grouped


def trace_file(folder: Path) -> Path | None:
    for name in (TRACE, TRACE + ".gz"):
        if (folder / name).is_file() and (folder / name).stat().st_size:
            return folder / name
    return None


MODEL_KINDS = {"model_call"}
SANDBOX_KINDS = {"sandbox_job", "candidates_judged", "selection", "tool_use"}


def _covered(spans: list[tuple[float, float]]) -> float:
    """Seconds covered by the union of the spans (concurrent jobs are counted once)."""
    total, end = 0.0, float("-inf")
    for start, stop in sorted(spans):
        if stop > end:
            total += stop - max(start, end)
            end = stop
    return total


def time_split(tasks: list[TaskView], lines: list[RoundRecord]) -> TimeSplit:
    total = round(sum(x.seconds for x in lines), 2)
    samples = [s for t in tasks for s in t.samples]
    if samples and all(s.events is not None for s in samples):
        model = sandbox = 0.0
        for s in samples:
            events = s.events or []
            model += _covered([(e.start, e.start + e.duration) for e in events if e.kind in MODEL_KINDS])
            sandbox += _covered([(e.start, e.start + e.duration) for e in events if e.kind in SANDBOX_KINDS])
        return TimeSplit(source="trace", model=round(model, 2), sandbox=round(sandbox, 2), total=total)
    judged = sum(x.judge_seconds for x in lines)
    if judged:
        return TimeSplit(source="records", model=round(total - judged, 2), sandbox=round(judged, 2), total=total)
    return TimeSplit(source="records", model=None, sandbox=None, total=total)


# ---------------------------------------------------------------------- runs


def bench_run(folder: Path, strings: Strings) -> RunView:
    if not (folder / RUN).is_file():
        raise ViewError(f"{folder} holds neither {RUN} (a bench run) nor result.json (a solve)")
    directory = RunDir(folder)
    info = directory.run_info()
    lines = directory.load_attempts(repair=False)
    trace = trace_file(folder)
    events = read_events(trace) if trace else None
    tasks = tasks_of(lines, events, strings)
    summary = summarize_run(folder)  # the figures `agent report` writes to summary.json
    solver = info.experiment.solver
    extra = info.model_extra or {}
    sessions = directory.sessions()
    head = {"dataset": info.experiment.dataset, "format": info.experiment.dataset_format,
            "model": solver.model or "?", "policy": solver.policy, "feedback": summary.feedback,
            "problems": f"{summary.problems} of {summary.problems_total or '?'}" + ("" if summary.complete else
                                                                                     " (incomplete run)"),
            "samples per problem": str(info.n), "machine": info.machine or "?",
            "weights": _weights(extra.get("served")),
            "started": str(extra.get("created", sessions[0].get("started", "?") if sessions else "?")),
            "sessions": str(len(sessions)), "revision": str(extra.get("revision", "?")),
            "command": str(extra.get("last_command") or info.command or "?"),
            "schemas": f"run.json {info.schema_version}, summary.json {summary.schema_version}, page {PAGE_SCHEMA}"}
    return RunView(name=folder.name, path=str(folder), kind="bench", oracle=summary.oracle, head=head,
                   settings=solver.model_dump(), summary=summary.model_dump(mode="json"),
                   time=time_split(tasks, lines), traced=events is not None, tasks=tasks)


def _weights(served: Any) -> str:
    """What run.json says the server served (runs before it recorded that: unknown)."""
    if not isinstance(served, dict) or not served.get("root"):
        return "not recorded"
    quantization = served.get("quantization")
    return f"{served['root']} ({'quantization ' + quantization if quantization else 'quantization unknown'})"


def solve_run(folder: Path, strings: Strings) -> RunView:
    """A solve's folder: result.json and trace.jsonl."""
    from agent.solver import SolveResult

    try:
        result = SolveResult.model_validate_json((folder / "result.json").read_bytes())
    except (OSError, ValidationError):
        raise ViewError(f"{folder / 'result.json'} is not a solve's result.json") from None
    trace = trace_file(folder)
    events = read_events(trace) if trace else None
    task = result.task_id or (result.rounds[0].task_id if result.rounds else "problem")
    lines = [r.model_copy(update={"task_id": task}) for r in result.rounds]
    if events is not None:
        events = {(task, 0): [e for group in events.values() for e in group]}
    tasks = tasks_of(lines, events, strings)
    head = {"problem": task, "policy": result.policy, "feedback": result.feedback + (" (oracle)" if result.oracle else ""),
            "judged on": f"the {result.judged_on} tests", "verdict": "solved" if result.solved else "not solved",
            "stop": result.stop_reason or "?", "rounds": str(len(result.rounds)),
            "tokens": f"{result.usage.completion_tokens} generated, {result.usage.prompt_tokens} prompt",
            "seconds": f"{result.seconds:.1f}", "schemas": f"page {PAGE_SCHEMA}"}
    return RunView(name=folder.name, path=str(folder), kind="solve", oracle=result.oracle, head=head, settings={},
                   summary=None, time=time_split(tasks, lines), traced=events is not None, tasks=tasks)


def page_data(paths: list[Path]) -> PageData:
    """The page's data for one run, several runs, a sweep folder or a solve's folder."""
    from eval.sweep import SweepError, is_sweep, read_manifest

    strings = Strings()
    now = datetime.now().astimezone().isoformat(timespec="seconds")
    try:
        if len(paths) == 1 and is_sweep(paths[0]):
            manifest = read_manifest(paths[0])
            points = [p for p in manifest.points if (paths[0] / p.name / RUN).is_file()]
            if not points:
                raise ViewError(f"the sweep in {paths[0]} has no run yet")
            runs = [bench_run(paths[0] / p.name, strings) for p in points]
            return PageData(kind="sweep", title=f"sweep {paths[0].name}", generated=now, runs=runs,
                            grid={p.name: p.settings for p in points}, strings=strings.items)
        if len(paths) == 1 and (paths[0] / "result.json").is_file() and not (paths[0] / RUN).is_file():
            run = solve_run(paths[0], strings)
            return PageData(kind="solve", title=f"solve {run.name}", generated=now, runs=[run], strings=strings.items)
        runs = [bench_run(p, strings) for p in paths]
    except (RunDirError, TraceError, SweepError) as exc:
        raise ViewError(str(exc)) from None
    title = runs[0].name if len(runs) == 1 else f"{len(runs)} runs"
    return PageData(kind="run" if len(runs) == 1 else "runs", title=title, generated=now, runs=runs,
                    strings=strings.items)
