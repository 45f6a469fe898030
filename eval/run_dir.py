"""A bench run directory (its format: ARCHITECTURE.md) and how it survives kills.

A sample is written only once it has finished, all its rounds in one `write` followed by
`fsync`, its trace events first. Loading keeps only complete samples: a torn last line,
or a sample whose rounds are not all there, is dropped and the files are rewritten
without it, so the next session redoes exactly the unfinished (task, sample) pairs.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any, Iterable

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agent.config import SolverDescription, options_read
from agent.trace_events import Event

from eval.records import RoundRecord

ATTEMPTS = "attempts.jsonl"
TRACE = "trace.jsonl"
RUN = "run.json"
SESSIONS = "sessions.jsonl"
SUMMARY = "summary.json"


RUN_SCHEMA = 2  # 1: before the bench configuration held the solver's (no schema_version field)


class RunDirError(ValueError):
    """The run directory cannot be used as asked; the message is one sentence."""


class Experiment(BaseModel):
    """What decides a run's attempts: the dataset, the samples per problem, and the solver
    as it described itself. Fixed for the run's life: a run directory refuses any change
    to it, but for solver options its policy does not read (`decisive`)."""

    model_config = ConfigDict(extra="allow")  # schema 1 also kept the solver's settings at the top

    dataset: str
    dataset_format: str = "human-eval"
    challenge_tests: bool = False
    limit: int | None = None
    n: int
    dataset_sha256: str | None = None
    solver: SolverDescription

    @model_validator(mode="before")
    @classmethod
    def _solver_at_the_top(cls, raw: Any) -> Any:
        if isinstance(raw, dict) and "solver" not in raw:
            return {**raw, "solver": {k: v for k, v in raw.items() if k in SolverDescription.model_fields}}
        return raw

    def decisive(self) -> dict[str, Any]:
        """The experiment without the solver options its policy does not read: an option
        added (or dropped) by a later version that this policy never reads decides nothing,
        so it does not stop a resume."""
        values = self.model_dump()
        read = options_read(self.solver.policy) | {"model"}
        values["solver"] = {k: v for k, v in values["solver"].items() if k in read}
        return values


class RunInfo(BaseModel):
    """run.json: what decides the attempts (`experiment`, fixed for the run's life) and what
    was recorded about its sessions."""

    model_config = ConfigDict(extra="allow")

    schema_version: int = 1
    experiment: Experiment
    ks: list[int] = Field(default_factory=lambda: [1, 5, 10])
    problems_total: int | None = None
    dev_split: list[str] | None = Field(None, description="the tasks the agent was tuned on; absent in runs "
                                                          "recorded before run.json named it")
    command: str | None = None
    machine: str | None = None

    @property
    def n(self) -> int:
        return self.experiment.n

    @property
    def rounds(self) -> int:
        return self.experiment.solver.rounds

    @property
    def feedback(self) -> str:
        return self.experiment.solver.feedback


def config_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """`key: old -> new` for every differing leaf, nested keys joined with dots."""
    old, new = _flatten(old), _flatten(new)
    keys = sorted(set(old) | set(new))
    return [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys if old.get(k) != new.get(k)]


def _flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


class RunDir:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    # ------------------------------------------------------------------ run.json
    def prepare(self, experiment: Experiment, extra: dict[str, Any]) -> bool:
        """Creates the directory or checks that it was made with the same experiment.
        Returns True when resuming. `experiment` is what decides the attempts; `extra`
        (server, concurrency, revision, ...) is recorded but may change between sessions."""
        run_file = self.path / RUN
        if run_file.exists():
            info = self.run_info()
            if info.schema_version != RUN_SCHEMA:
                raise RunDirError(f"{self.path} was recorded by another version of the agent (run.json schema "
                                  f"{info.schema_version}, this one writes {RUN_SCHEMA}); `agent report` reads it, "
                                  "but to run again choose a new --out")
            differences = config_differences(info.experiment.decisive(), experiment.decisive())
            if differences:
                raise RunDirError(f"{self.path} holds a run with another configuration ({'; '.join(differences)}); "
                                  "rerun with its options to resume, or choose a new --out")
            return True
        if self.path.exists() and any(self.path.iterdir()):
            raise RunDirError(f"{self.path} exists, is not empty and holds no run.json; choose a new --out")
        self.path.mkdir(parents=True, exist_ok=True)
        info = RunInfo(schema_version=RUN_SCHEMA, experiment=experiment, **extra)
        _write_atomic(run_file, info.model_dump_json(indent=2, exclude_none=True) + "\n")
        return False

    def update_info(self, **fields: Any) -> None:
        """Records what may change between sessions (never the experiment or the schema)."""
        info = self.run_info().model_dump(exclude_none=True)
        info.update({k: v for k, v in fields.items() if k not in ("experiment", "schema_version")})
        _write_atomic(self.path / RUN, RunInfo(**info).model_dump_json(indent=2, exclude_none=True) + "\n")

    def run_info(self) -> RunInfo:
        """run.json, validated; one sentence when it is not a run.json this agent can read."""
        path = self.path / RUN
        try:
            info = RunInfo.model_validate_json(path.read_bytes())
        except (OSError, ValidationError):
            raise RunDirError(f"{path} is not a bench run.json; choose a new --out") from None
        if info.schema_version > RUN_SCHEMA:
            raise RunDirError(f"{path} has run.json schema {info.schema_version}, newer than this agent reads "
                              f"({RUN_SCHEMA}); update the agent")
        return info

    # ------------------------------------------------------------------ attempts
    def load_attempts(self, repair: bool = True) -> list[RoundRecord]:
        """The lines of every complete sample, in file order. With `repair`, the files are
        rewritten without torn lines, incomplete samples and their trace events."""
        path = self.path / ATTEMPTS
        if not path.exists():
            packed = path.with_name(ATTEMPTS + ".gz")  # as committed under results/: read, never repaired
            return complete_lines(_records(gzip.decompress(packed.read_bytes()))[0]) if packed.exists() else []
        raw = path.read_bytes()
        lines, torn = _records(raw)
        kept = complete_lines(lines)
        if repair and (torn or len(kept) != len(lines) or (raw and not raw.endswith(b"\n"))):
            _write_atomic(path, "".join(line.model_dump_json() + "\n" for line in kept))
            self._prune_trace({(line.task_id, line.sample) for line in kept})
        return kept

    def _prune_trace(self, finished: set[tuple[str, int]]) -> None:
        path = self.path / TRACE
        if not path.exists():
            return
        kept = []
        for chunk in path.read_bytes().split(b"\n"):
            try:
                event = json.loads(chunk)
            except ValueError:
                continue
            if (event.get("task"), event.get("sample")) in finished:
                kept.append(json.dumps(event, default=str) + "\n")
        _write_atomic(path, "".join(kept))

    def append_sample(self, lines: list[RoundRecord], trace: Iterable[Event]) -> None:
        """Trace first, then the sample's attempts in one write, each made durable."""
        _append_durable(self.path / TRACE, "".join(e.model_dump_json() + "\n" for e in trace))
        _append_durable(self.path / ATTEMPTS, "".join(line.model_dump_json() + "\n" for line in lines))

    def append_session(self, record: dict[str, Any]) -> None:
        _append_durable(self.path / SESSIONS, json.dumps(record) + "\n")

    def sessions(self) -> list[dict[str, Any]]:
        path = self.path / SESSIONS
        if not path.exists():
            return []
        out = []
        for chunk in path.read_bytes().split(b"\n"):
            try:
                out.append(json.loads(chunk))
            except ValueError:
                continue
        return out


def _records(raw: bytes) -> tuple[list[RoundRecord], bool]:
    """The round records in the bytes of an attempts file, and whether some line was torn."""
    lines: list[RoundRecord] = []
    torn = False
    for chunk in raw.split(b"\n"):
        if not chunk.strip():
            continue
        try:
            lines.append(RoundRecord.model_validate_json(chunk))
        except ValidationError:
            torn = True
    return lines, torn


def complete_lines(lines: list[RoundRecord]) -> list[RoundRecord]:
    """Lines of samples that hold rounds 0..last exactly once with the last marked final;
    the first complete copy of a sample wins."""
    groups: dict[tuple[str, int], list[RoundRecord]] = {}
    for line in lines:
        groups.setdefault((line.task_id, line.sample), []).append(line)
    final_round: dict[tuple[str, int], int] = {}
    for key, group in groups.items():
        finals = [line.round for line in group if line.final]
        rounds = {line.round for line in group}
        if finals and all(r in rounds for r in range(finals[0] + 1)):
            final_round[key] = finals[0]
    kept, seen = [], set()
    for line in lines:
        key = (line.task_id, line.sample)
        marker = (key, line.round)
        if key in final_round and marker not in seen and line.round <= final_round[key]:
            seen.add(marker)
            kept.append(line)
    return kept


def _append_durable(path: Path, text: str) -> None:
    if not text:
        return
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        data = text.encode("utf-8")
        while data:
            written = os.write(fd, data)
            data = data[written:]
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
