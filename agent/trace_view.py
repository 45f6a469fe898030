"""`agent trace`: a trace for a person to read in a terminal."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from agent.trace_events import (CandidatesJudged, Event, Feedback, FeedbackTests, GivenCode, HiddenVerdict,
                                InputsChosen, ModelCall, NoProgress, Retry, SandboxJob, SelectionMade, Stop, ToolUse,
                                read_trace)


def _clip(text: str | None, limit: int = 600) -> str:
    text = (text or "").strip()
    return text if len(text) <= limit else text[: limit - 20] + f"\n… [{len(text) - limit + 20} more chars]"


def _summary(event: Event) -> str:
    match event:
        case SandboxJob():
            oracle = " (oracle)" if event.oracle else ""
            return f"{event.feedback}{oracle} tests: {event.passed}/{event.total} pass, {event.error_kind}"
        case CandidatesJudged():
            parts = [f"#{i}: {c.passed}/{c.total} {c.error}" for i, c in enumerate(event.candidates)]
            return f"best #{event.best}; " + "; ".join(parts)
        case SelectionMade():
            return f"chose #{event.chosen} by {event.reason}; {len(event.clusters)} clusters"
        case HiddenVerdict():
            return f"hidden tests: {event.verdict}"
        case FeedbackTests():
            return f"{len(event.tests)} {event.feedback} tests"
        case InputsChosen():
            return f"{len(event.inputs)} inputs, {len(event.proposed)} asserts proposed"
        case ToolUse():
            return f"{event.tool}: {event.error or _clip(event.observation, 120)}"
        case Stop():
            return f"stop: {event.reason.value if event.reason else None}"
        case NoProgress():
            return "same code again: " + ("sampling afresh" if event.resample else "stopping")
        case ModelCall():
            return f"{len(event.replies)} replies, {event.tokens.completion} tokens"
        case Feedback():
            return _clip(event.message, 120).replace("\n", " ")
        case Retry():
            return f"malformed call: {event.error}"
        case GivenCode():
            return "the problem's given code"
    return getattr(event, "kind", "")


def _tokens(events: list[Event]) -> int:
    return sum(e.tokens.completion for e in events if isinstance(e, ModelCall))


def render(path: Path, console: Console, task: str | None = None, sample: int | None = None) -> None:
    """Each (task, sample) in turn: a table of its steps, then what the model was told and said."""
    events = read_trace(path)
    if not events:
        raise ValueError("it holds no events")
    events = [e for e in events if (task is None or e.task == task) and (sample is None or e.sample == sample)]
    if not events:
        raise ValueError("it holds no events for that task and sample")
    groups: dict[tuple, list[Event]] = {}
    for event in events:
        groups.setdefault((event.task, event.sample), []).append(event)
    for (group_task, group_sample), group in groups.items():
        _render_one(path, group_task, group_sample, group, console)
    if len(groups) > 1:
        console.print(f"[bold]{len(groups)} samples[/], {len(events)} events, {_tokens(events)} generated tokens "
                      "(filter with --task and --sample)")


def _render_one(path: Path, task: str, sample: int, events: list[Event], console: Console) -> None:
    console.print(f"[bold]trace[/] {path}  task {task}  run {events[0].run}  sample {sample}")
    table = Table(show_lines=False)
    for column in ("id", "parent", "ended", "round", "node", "kind", "s", "what happened"):
        table.add_column(column, overflow="fold")
    for event in events:
        table.add_row(str(event.id), "" if event.parent is None else str(event.parent), event.ended[11:23],
                      str(event.round), event.node, getattr(event, "kind", ""), f"{event.duration:.2f}",
                      escape(_summary(event)))
    console.print(table)
    for event in events:
        if isinstance(event, ModelCall):
            _render_call(event, console)
    console.print(f"{len(events)} events, {_tokens(events)} generated tokens, "
                  f"{sum(e.duration for e in events):.1f} s in nodes")


def _render_call(event: ModelCall, console: Console) -> None:
    last = (event.messages or [{}])[-1]
    body = f"[bold]{last.get('role')}:[/] {escape(_clip(str(last.get('content')), 800))}"
    for i, reply in enumerate(event.replies):
        body += f"\n[bold]reply {i}:[/] {escape(_clip(reply, 800))}"
    title = f"#{event.id} · round {event.round} · {event.node} · model call"
    if event.shared:
        title += f" · one request of {event.shared.get('choices')} choices for samples {event.shared.get('samples')}"
    console.print(Panel(body, title=title, expand=True), highlight=False)
