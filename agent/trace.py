"""The tracer: numbers each event, links it to its parent, stamps its times, and appends
it to `trace.jsonl` as it happens (the schema: `agent.trace_events`)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TypeVar

from agent.trace_events import Event

E = TypeVar("E", bound=Event)


class Tracer:
    def __init__(self, path: Path | None = None, run: str = "", task: str = "", sample: int = 0) -> None:
        self.path, self.run, self.task, self.sample = path, run, task, sample
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def emit(self, event: E, duration: float = 0.0) -> E:
        """Records `event`, which took `duration` seconds and ends now; returns it as recorded."""
        now = time.time()
        with self._lock:
            stamped = event.model_copy(update={
                "id": len(self.events) + 1, "parent": self._parent(type(event).caused_by), "run": self.run,
                "task": self.task, "sample": self.sample, "started": iso_time(now - duration),
                "ended": iso_time(now), "duration": round(duration, 4)})
            self.events.append(stamped)
            if self.path is not None:
                with open(self.path, "a", encoding="utf-8") as handle:
                    handle.write(stamped.model_dump_json() + "\n")
        return stamped

    def _parent(self, kinds: tuple[str, ...] | None) -> int | None:
        if kinds is None:
            return self.events[-1].id if self.events else None
        return next((e.id for e in reversed(self.events) if getattr(e, "kind") in kinds), None)


def iso_time(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int(seconds * 1000) % 1000:03d}Z"
