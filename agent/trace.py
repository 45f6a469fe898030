"""Trace events: one JSON line per node execution, and their rendering for a person."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any


class Tracer:
    def __init__(self, path: Path | None = None, run: str = "", task: str = "", sample: int = 0) -> None:
        self.path, self.run, self.task, self.sample = path, run, task, sample
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def event(self, node: str, kind: str, round: int, duration: float, **fields: Any) -> dict[str, Any]:
        record = {"time": round_time(), "run": self.run, "task": self.task, "sample": self.sample,
                  "round": round, "node": node, "kind": kind, "duration": round_seconds(duration), **fields}
        with self._lock:
            self.events.append(record)
            if self.path is not None:
                with open(self.path, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps(record, default=str) + "\n")
        return record


def round_time() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z"


def round_seconds(value: float) -> float:
    return round(value, 4)
