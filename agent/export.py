"""A bench run's trajectories as training data (`agent export`), in the chat format most
trainers read: one JSON object per line. The schema is the models below (README's
"Training data" section describes it); every line loads with them in strict mode.

`sft`: each sample whose answer passes (by the chosen verifier) gives the conversation
that produced it: the request of the round that wrote the answer (the task, and for a
repair round the code it was shown and the feedback) and the model's reply.
`preference`: pairs for one prompt of a passing and a failing reply: replies of different
samples to the same request, and repairs (the task, the reply that failed first and the
reply that passed in the end).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.extract import normalized
from agent.trace_events import CandidatesJudged, ModelCall, TraceError, read_trace
from eval.records import RoundRecord
from eval.report import dev_split_of
from eval.run_dir import ATTEMPTS, TRACE, RunDir

Format = Literal["sft", "preference"]
Verifier = Literal["hidden", "visible"]
Split = Literal["all", "dev", "held-out"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FunctionCall(Strict):
    name: str
    arguments: str


class ToolCall(Strict):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class Message(Strict):
    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None


class Provenance(Strict):
    run: str
    task_id: str
    sample: int
    round: int = Field(description="the round whose reply is the answer (sft) or the chosen reply (preference)")
    verified_by: Verifier = Field(description="hidden: the benchmark's own tests judged the answer; visible: the "
                                              "docstring's examples")
    source: Literal["answer", "same_prompt", "repair"]


class SFTExample(Strict):
    messages: list[Message]
    metadata: Provenance


class PreferenceExample(Strict):
    prompt: list[Message]
    chosen: list[Message]
    rejected: list[Message]
    metadata: Provenance


class ExportOptions(BaseModel):
    format: Format = "sft"
    verified_by: Verifier = "hidden"
    min_round: int = Field(0, ge=0, description="sft: only answers written in this round or later")
    split: Split = "all"
    dedupe: bool = True


class ExportSummary(BaseModel):
    runs: int = 0
    samples: int = 0
    examples: int = 0
    duplicates_dropped: int = 0
    characters: int = 0

    @property
    def approximate_tokens(self) -> int:
        return self.characters // 4


class Turn(BaseModel):
    """One round's request and the reply whose code the sample kept from it."""

    record: RoundRecord
    messages: list[Message]
    reply: Message


class ExportError(ValueError):
    """A run cannot be exported as asked; one sentence."""


def export_runs(run_dirs: Iterable[Path], options: ExportOptions, out: Path) -> ExportSummary:
    summary = ExportSummary()
    seen: set[tuple[str, ...]] = set()
    lines: list[str] = []
    for run_dir in run_dirs:
        summary.runs += 1
        for example, key in _examples(Path(run_dir), options, summary):
            if options.dedupe and key in seen:
                summary.duplicates_dropped += 1
                continue
            seen.add(key)
            text = example.model_dump_json(exclude_none=True)
            summary.examples += 1
            summary.characters += len(text)
            lines.append(text + "\n")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(lines), encoding="utf-8")
    return summary


def _examples(run_dir: Path, options: ExportOptions, summary: ExportSummary):
    info = RunDir(run_dir).run_info()
    if not (run_dir / ATTEMPTS).is_file() or not (run_dir / TRACE).is_file():
        raise ExportError(f"{run_dir} has no {ATTEMPTS} and {TRACE} to export")
    split = set(dev_split_of(info) or [])
    if options.split != "all" and not split:
        raise ExportError(f"{run_dir} declares no development split; export it with --split all")
    samples = {key: value for key, value in _samples(run_dir).items() if _in_split(key[0], options.split, split)}
    for (task, sample), turns in samples.items():
        summary.samples += 1
        records = turns["records"]
        final, producing = records[-1], _producing_round(records)
        kept = {t.record.round: t for t in turns["turns"]}
        turn, first = kept.get(producing), kept.get(0)
        if not _verdict(final, options.verified_by) or turn is None:
            continue
        if options.format == "sft" and producing >= options.min_round:
            yield (SFTExample(messages=[*turn.messages, turn.reply],
                              metadata=_provenance(run_dir, final, producing, options, "answer")),
                   (task, normalized(final.completion)))
        elif options.format == "preference" and first is not None and producing > 0 and \
                _verdict(records[0], options.verified_by) is False:
            yield (PreferenceExample(prompt=first.messages, chosen=[turn.reply], rejected=[first.reply],
                                     metadata=_provenance(run_dir, final, producing, options, "repair")),
                   (task, normalized(final.completion), normalized(records[0].completion)))
    if options.format == "preference":
        yield from _same_prompt_pairs(run_dir, samples, options)


def _in_split(task: str, wanted: Split, dev: set[str]) -> bool:
    return wanted == "all" or (task in dev) == (wanted == "dev")


def _same_prompt_pairs(run_dir: Path, samples: dict, options: ExportOptions):
    by_prompt: dict[tuple[str, str], dict[bool, list[Turn]]] = defaultdict(lambda: {True: [], False: []})
    for (task, _), turns in samples.items():
        for turn in turns["turns"]:
            if turn.record.selected_by is not None:
                continue  # a search turn: its record says nothing of the other replies' verdicts
            verdict = _verdict(turn.record, options.verified_by)
            if verdict is not None:
                key = (task, json.dumps([m.model_dump() for m in turn.messages], sort_keys=True))
                by_prompt[key][verdict].append(turn)
    for (task, _), groups in by_prompt.items():
        for good, bad in zip(groups[True], groups[False]):
            yield (PreferenceExample(prompt=good.messages, chosen=[good.reply], rejected=[bad.reply],
                                     metadata=_provenance(run_dir, good.record, good.record.round, options,
                                                          "same_prompt")),
                   (task, normalized(good.record.completion), normalized(bad.record.completion)))


def _verdict(record: RoundRecord, verifier: Verifier) -> bool | None:
    return record.hidden_passed if verifier == "hidden" else record.visible_passed


def _producing_round(records: list[RoundRecord]) -> int:
    """The round whose own candidate is the sample's final answer (a search round: the
    round that drew it, which may come before the round that chose it)."""
    final = records[-1].completion
    drew = [r.round for r in records if final in r.drawn]
    if drew:
        return min(drew)
    return max(r.round for r in records if not r.kept_previous and r.completion == final)


def _provenance(run_dir: Path, record: RoundRecord, round_: int, options: ExportOptions, source: str) -> Provenance:
    return Provenance(run=run_dir.name, task_id=record.task_id, sample=record.sample, round=round_,
                      verified_by=options.verified_by, source=source)  # type: ignore[arg-type]


def _samples(run_dir: Path) -> dict[tuple[str, int], dict[str, Any]]:
    """Per (task, sample): its round records and, for each round whose reply the sample
    kept, the request and that reply, from the trace."""
    records = RunDir(run_dir).load_attempts(repair=False)
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for record in records:
        out.setdefault((record.task_id, record.sample), {"records": [], "turns": []})["records"].append(record)
    requests: dict[tuple[str, int, int], ModelCall] = {}
    chosen: dict[tuple[str, int, int], int] = {}
    draws: dict[tuple[str, int, int], list[ModelCall]] = defaultdict(list)
    try:
        events = read_trace(run_dir / TRACE)
    except TraceError as exc:
        raise ExportError(str(exc)) from None
    for event in events:
        key = (event.task, event.sample, event.round)
        if isinstance(event, ModelCall) and event.node in ("generate", "act"):
            # the step's last request is the one whose reply it used: a malformed call's
            # correction comes after it, in the same round
            requests[key] = event
        elif isinstance(event, ModelCall) and event.node == "draw":
            draws[key].append(event)
        elif isinstance(event, CandidatesJudged) and event.node == "evaluate":
            chosen[key] = event.best
    for (task, sample), entry in out.items():
        final = entry["records"][-1].completion
        for record in entry["records"]:
            if record.drawn:  # search: the turn that drew the final answer, if this round did
                turn = _drawing_turn(record, draws[(task, sample, record.round)], final)
                if turn is not None:
                    entry["turns"].append(turn)
                continue
            event = requests.get((task, sample, record.round))
            if record.kept_previous or event is None or not event.replies:
                continue
            index = chosen.get((task, sample, record.round), 0)
            entry["turns"].append(_turn(record, event, index))
    return out


def _drawing_turn(record: RoundRecord, events: list[ModelCall], final: str) -> Turn | None:
    """The request and reply of a search round that drew `final`. The round's candidates
    are its fresh request's replies, then its repair's (the longer conversation); the
    turn's record carries the final answer, which is what it produced. Search rounds give
    no same-prompt pairs: their records hold how many candidates pass, not which."""
    if final not in record.drawn:
        return None
    ordered = sorted(events, key=lambda e: len(e.messages))
    replies = [(event, index) for event in ordered for index in range(len(event.replies))]
    position = record.drawn.index(final)
    if position >= len(replies):
        return None
    event, index = replies[position]
    produced = record.model_copy(update={"completion": final, "drawn": []})
    return _turn(produced, event, index)


def _turn(record: RoundRecord, event: ModelCall, index: int) -> Turn:
    """A request and one of its replies; an answer the request began for the model (a
    prefilled assistant message, `agent.prefill`) is given back to the reply, whole."""
    messages = [Message(**_message(m)) for m in event.messages]
    reply = _reply(event, index)
    if messages and messages[-1].role == "assistant" and not messages[-1].tool_calls and not reply.tool_calls:
        begun = messages.pop()
        reply = reply.model_copy(update={"content": (begun.content or "") + (reply.content or "")})
    return Turn(record=record, messages=messages, reply=reply)


def _message(raw: dict[str, Any]) -> dict[str, Any]:
    message = {k: raw.get(k) for k in ("role", "content", "tool_call_id") if raw.get(k) is not None}
    if raw.get("tool_calls"):
        message["tool_calls"] = [{"id": c["id"], "type": "function", "function": {
            "name": c["function"]["name"], "arguments": c["function"]["arguments"]}} for c in raw["tool_calls"]]
    return message


def _reply(event: ModelCall, index: int) -> Message:
    index = min(index, len(event.replies) - 1)
    calls = (event.tool_calls or [[]] * len(event.replies))[index]
    if calls:
        call = calls[0]
        return Message(role="assistant", content=event.replies[index] or None, tool_calls=[ToolCall(
            id=call.get("id") or f"call{event.round}",
            function=FunctionCall(name=call["name"], arguments=json.dumps(call.get("arguments", {}))))])
    return Message(role="assistant", content=event.replies[index])
