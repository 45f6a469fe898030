"""`agent trace`: a trace for a person to read in a terminal."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table


def _clip(text: str, limit: int = 600) -> str:
    text = (text or "").strip()
    return text if len(text) <= limit else text[: limit - 20] + f"\n… [{len(text) - limit + 20} more chars]"


def _summary(event: dict) -> str:
    kind = event.get("kind")
    if kind == "sandbox":
        oracle = " (oracle)" if event.get("oracle") else ""
        return f"{event.get('feedback')}{oracle} tests: {event.get('passed')}/{event.get('total')} pass, {event.get('kind_of_error')}"
    if kind == "verdict" and "candidates" in event:
        parts = [f"#{i}: {c['passed']}/{c['total']} {c['error']}" for i, c in enumerate(event["candidates"])]
        return f"best #{event.get('best')}; " + "; ".join(parts)
    if kind == "verdict":
        return f"hidden tests: {event.get('verdict')}"
    if kind == "tool":
        if event.get("tool") is None and "tests" in event:
            return f"{len(event['tests'] or [])} {event.get('feedback')} tests"
        return f"{event.get('tool')}: {event.get('error') or _clip(event.get('observation', ''), 120)}"
    if kind == "stop":
        return f"stop: {event.get('reason')}"
    if kind == "no_progress":
        return "same code again: " + ("sampling afresh" if event.get("resample") else "stopping")
    if kind == "llm":
        tokens = event.get("tokens", {})
        return f"{len(event.get('replies', []))} replies, {tokens.get('completion', 0)} tokens"
    if kind == "feedback":
        return _clip(event.get("message", ""), 120).replace("\n", " ")
    return kind or ""


def render(path: Path, console: Console, task: str | None = None, sample: int | None = None) -> None:
    """Each (task, sample) in turn: a table of its steps, then what the model was told and said."""
    events = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                events.append(json.loads(line))
            except ValueError:
                raise ValueError(f"line {number} is not JSON") from None
    if not events:
        raise ValueError("it holds no events")
    events = [e for e in events if (task is None or e.get("task") == task) and (sample is None or e.get("sample") == sample)]
    if not events:
        raise ValueError("it holds no events for that task and sample")
    groups: dict[tuple, list[dict]] = {}
    for event in events:
        groups.setdefault((event.get("task"), event.get("sample")), []).append(event)
    for (group_task, group_sample), group in groups.items():
        _render_one(path, group_task, group_sample, group, console)
    if len(groups) > 1:
        total = sum((e.get("tokens") or {}).get("completion", 0) for e in events if e.get("kind") == "llm")
        console.print(f"[bold]{len(groups)} samples[/], {len(events)} events, {total} generated tokens "
                      "(filter with --task and --sample)")


def _render_one(path: Path, task: str | None, sample: int | None, events: list[dict], console: Console) -> None:
    console.print(f"[bold]trace[/] {path}  task {task}  run {events[0].get('run')}  sample {sample}")
    table = Table(show_lines=False)
    for column in ("time", "round", "node", "kind", "s", "what happened"):
        table.add_column(column, overflow="fold")
    for event in events:
        table.add_row(str(event.get("time", ""))[11:23], str(event.get("round")), event.get("node", ""),
                      event.get("kind", ""), f"{event.get('duration', 0):.2f}", escape(_summary(event)))
    console.print(table)
    for event in events:
        if event.get("kind") != "llm":
            continue
        last = (event.get("messages") or [{}])[-1]
        body = f"[bold]{last.get('role')}:[/] {escape(_clip(str(last.get('content')), 800))}"
        for i, reply in enumerate(event.get("replies", [])):
            body += f"\n[bold]reply {i}:[/] {escape(_clip(reply, 800))}"
        shared = event.get("shared")
        title = f"round {event.get('round')} · {event.get('node')} · llm"
        if shared:
            title += f" · one request of {shared.get('choices')} choices for samples {shared.get('samples')}"
        console.print(Panel(body, title=title, expand=True), highlight=False)
    total = sum((e.get("tokens") or {}).get("completion", 0) for e in events if e.get("kind") == "llm")
    console.print(f"{len(events)} events, {total} generated tokens, "
                  f"{sum(e.get('duration', 0) for e in events):.1f} s in nodes")
