"""The `react` policy's step: the model picks a tool (OpenAI tool calls or a text
protocol), the tool runs in the sandbox, the observation goes back. Each step is a round
of the state, recorded like a repair round: which tool, what it saw, the best so far."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any, ClassVar

import prompts
from langgraph.graph import StateGraph
from langgraph.runtime import Runtime

from agent.context import RunContext, unrecorded
from agent.extract import code_blocks, extract_completion
from agent.feedback import describe
from agent.llm.client import tool_calls_in_text
from agent.policies.base import prepare_feedback
from agent.state import AgentState, Candidate, Usage, replaces
from agent.trace_events import GivenCode, Retry, ToolUse
from tools.calls import TOOL_SCHEMAS, TOOLS, run_python

TOOL_NAMES = set(TOOLS)
# The text protocol's form as a grammar (vLLM structured outputs, xgrammar's EBNF): one
# thought line of at most 400 characters, one action, one complete fenced block, then the
# reply ends. A 0.5B model left free writes a thought and no action, repeats its thought
# until the token limit, or repeats itself inside an unclosed block.
TEXT_GRAMMAR = r'''
root ::= "Thought: " thought "\nAction: " action "\n```python\n" code "```"
thought ::= [^\n]{1,400}
action ::= "run_tests" | "run_python" | "submit"
code ::= ([^`] | "`" [^`] | "``" [^`])+
'''


async def act(state: AgentState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    ctx = runtime.context
    step = state.get("round", 0)
    started = time.monotonic()
    messages = list(state.get("messages") or [])
    if not messages:
        system = prompts.render(ctx.family, "react_system" if ctx.config.react_protocol == "tools" else "react_text")
        messages = [{"role": "system", "content": system}, ctx.task()]
        assistant, name, arguments, error, usage = await _first_answer(ctx)
    else:
        assistant, name, arguments, error, usage = await _call(ctx, messages, step)
    if error is not None:
        # A 0.5B model often breaks the call's form (a cut-off JSON, a missing action):
        # one short correction, then the step counts whatever came back.
        correction = {"role": "user", "content": prompts.render(ctx.family, "react_correction", why=error,
                                                                protocol=ctx.config.react_protocol)}
        ctx.tracer.emit(Retry(node="act", round=step, error=error))
        messages = [*messages, _plain(assistant), correction]
        assistant, name, arguments, error, more = await _call(ctx, messages, step)
        usage = usage + more
    observation, candidate, submitted = await use_tool(ctx, state, name, arguments, error, step)
    if "tool_calls" in assistant:
        tool_message = {"role": "tool", "tool_call_id": assistant["tool_calls"][0]["id"], "content": observation}
    else:
        tool_message = {"role": "user", "content": f"Observation: {observation}"}

    previous = state.get("best")
    # a step that judged nothing (run_python, an invalid call) keeps the answer it had
    best, kept_previous = previous, previous is not None
    if candidate is not None:
        kept_previous = not submitted and not replaces(previous, candidate)
        best = previous if kept_previous else candidate
    spent = unrecorded(state) + usage
    visible = None if best is None else await ctx.visible_verdict(best, state)
    record = ctx.record(step, "react", best, kept_previous, spent, time.monotonic() - started,
                        int(candidate is not None), visible, tool=name or None, observation=observation)
    total = (state.get("usage") or Usage()) + usage
    return {"messages": [*messages, assistant, tool_message], "round": step + 1, "usage": usage, "best": best,
            "rounds": [record], "submitted": submitted,
            "visible": {} if visible is None or best is None else {best.completion: visible},
            "stop_reason": None if submitted else ctx.over_budget(total, step)}


async def use_tool(ctx: RunContext, state: AgentState, name: str | None, arguments: dict[str, Any],
                   error: str | None, step: int) -> tuple[str, Candidate | None, bool]:
    """(observation, the candidate the tool judged if any, whether it was submitted)."""
    started = time.monotonic()
    code = arguments.get("code") if isinstance(arguments, dict) else None
    why = error or unusable(name, arguments)
    if why:
        observation = f"Invalid tool call: {why}. Call run_tests, run_python or submit with {{\"code\": \"...\"}}."
        ctx.tracer.emit(ToolUse(node="tool", round=step, tool=name, error=why), time.monotonic() - started)
        return observation, None, False
    assert isinstance(code, str)  # `unusable` checked it
    if name == "run_python":
        verdict = await asyncio.to_thread(run_python, ctx.sandbox, code)
        failure = verdict.first_failure
        observation = (verdict.output or "(no output)") if failure is None else \
            f"{verdict.output}\n{failure.exception or failure.message}\n{failure.traceback or ''}".strip()
        ctx.tracer.emit(ToolUse(node="tool", round=step, tool=name, code=code, observation=observation),
                        time.monotonic() - started)
        return observation, None, False
    completion = extract_completion(f"```python\n{code}\n```", ctx.problem.prompt, ctx.problem.entry_point)
    tests = state.get("feedback_tests") or []
    verdict = await ctx.judge(completion, tests, step, node="tool")
    candidate = Candidate(completion=completion, raw=code).judged(verdict)
    if name == "submit":
        ctx.tracer.emit(ToolUse(node="tool", round=step, tool=name, code=code), time.monotonic() - started)
        return "submitted", candidate, True
    if candidate.all_pass and verdict is not None:
        # code that passes every test the agent has: nothing is left to do but submit it
        # (the 0.5B model, told to submit, mostly runs the tests again or talks instead)
        ctx.tracer.emit(ToolUse(node="tool", round=step, tool=name, code=code, implicit=bool(
            arguments.get("implicit")), observation="all tests pass; submitted"), time.monotonic() - started)
        return "all tests pass; submitted", candidate, True
    sources = None if ctx.config.feedback == "hidden" else tests
    observation = "no tests to run" if verdict is None else describe(verdict, sources)
    ctx.tracer.emit(ToolUse(node="tool", round=step, tool=name, code=code, observation=observation),
                    time.monotonic() - started)
    return observation, candidate, False


async def _first_answer(ctx: RunContext) -> tuple[dict[str, Any], str, dict[str, Any], None, Usage]:
    """The first step is fixed: `run_tests` on the problem's given code, or else on the
    model's plain answer to the task, asked as the repair policy asks it. Under the
    protocol's format this 0.5B model writes worse first code (measured on the development
    split); the protocol takes over from the first observation, which the conversation
    shows as the model's own call."""
    if ctx.problem.code is not None:
        code, usage = ctx.problem.code, Usage()
        ctx.tracer.emit(GivenCode(node="act", round=0, code=code))
    else:
        reply, usage = await ctx.ask([ctx.system(), ctx.task()], "act", 0, temperature=ctx.config.temperature)
        text = reply.choices[0].text
        code = next(iter(code_blocks(text)), text)
    code = code if code.endswith("\n") else code + "\n"
    arguments = {"code": code}
    if ctx.config.react_protocol == "tools":
        assistant: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": [{
            "id": "call0", "type": "function", "function": {"name": "run_tests", "arguments": json.dumps(arguments)}}]}
    else:
        assistant = {"role": "assistant", "content": f"Thought: my first answer, tested.\nAction: run_tests\n"
                                                     f"```python\n{code}```"}
    return assistant, "run_tests", arguments, None, usage


async def _call(ctx: RunContext, messages: list[dict[str, Any]], step: int
                ) -> tuple[dict[str, Any], str | None, dict[str, Any], str | None, Usage]:
    """One model turn: (the assistant message, the tool's name, its arguments, why it
    could not be read, tokens)."""
    if ctx.config.react_protocol == "tools":
        reply, usage = await ctx.ask(messages, "act", step, tools=TOOL_SCHEMAS, tool_choice="required",
                                     temperature=ctx.config.temperature)
        choice = reply.choices[0]
        calls = choice.tool_calls or tool_calls_in_text(choice.text, TOOL_NAMES)
        call = calls[0] if calls else None
        call_id = call.id if call and call.id else f"call{step}"
        assistant: dict[str, Any] = {"role": "assistant", "content": choice.text or None}
        if call is not None:
            assistant["tool_calls"] = [{"id": call_id, "type": "function", "function": {
                "name": call.name, "arguments": call.raw_arguments or json.dumps(call.arguments)}}]
        name, arguments, error = (call.name, call.arguments, call.error) if call else (None, {}, "no tool call")
    else:
        constrained = {"extra_body": {"structured_outputs": {"grammar": TEXT_GRAMMAR}}} \
            if ctx.config.react_constrained else {}
        reply, usage = await ctx.ask(messages, "act", step, temperature=ctx.config.temperature,
                                     stop=["Observation:"], **constrained)
        assistant = {"role": "assistant", "content": reply.choices[0].text}
        name, arguments, error = parse_text_action(reply.choices[0].text)
    return assistant, name, arguments, error or unusable(name, arguments), usage


def unusable(name: str | None, arguments: Any) -> str | None:
    """Why a well-formed call still cannot run: an unknown tool, or no string `code`."""
    if name not in TOOL_NAMES:
        return f"unknown tool {name!r}"
    if not isinstance(arguments, dict) or not isinstance(arguments.get("code"), str):
        return "the arguments need a string field `code`"
    return None


def _plain(message: dict[str, Any]) -> dict[str, Any]:
    """An assistant turn whose tool call was malformed, as plain text (no tool result follows it)."""
    calls = message.get("tool_calls") or []
    text = message.get("content") or "".join(c["function"]["arguments"] for c in calls)
    return {"role": "assistant", "content": text}


def parse_text_action(text: str) -> tuple[str | None, dict[str, Any], str | None]:
    """The text ReAct protocol: `Action: NAME`, then a ```python block or `Action Input:
    {json}`. A 0.5B model often writes its thought and the code but no action line: a code
    block that defines a function then stands for `run_tests` (the default action)."""
    action = re.search(r"Action\s*:\s*`?(\w+)`?", text)
    if action is None:
        calls = tool_calls_in_text(text, TOOL_NAMES)
        if calls:
            return calls[0].name, calls[0].arguments, calls[0].error
        blocks = [b for b in code_blocks(text) if re.search(r"^\s*def \w+", b, re.M)]
        if blocks:
            return "run_tests", {"code": blocks[0], "implicit": True}, None
        return None, {}, "no `Action:` line and no code block"
    raw = text.split("Action Input", 1)[1].split(":", 1)[-1].strip() if "Action Input" in text else ""
    try:
        arguments = json.loads(raw)
        if isinstance(arguments, dict):
            return action.group(1), arguments, None
    except ValueError:
        pass
    blocks = code_blocks(text[action.end():]) or code_blocks(raw or text)
    if blocks:
        return action.group(1), {"code": blocks[0]}, None
    if raw:
        return action.group(1), {"code": raw}, None
    return action.group(1), {}, "no `Action Input`"


def route_after_act(state: AgentState) -> str:
    return "finish" if state.get("stop_reason") or state.get("submitted") else "act"


class ReactPolicy:
    name: ClassVar[str] = "react"
    reads: ClassVar[frozenset[str]] = frozenset({"feedback", "rounds", "temperature", "token_budget", "time_budget",
                                                 "react_protocol", "react_constrained"})
    nodes_per_round: ClassVar[int] = 1
    shares_first_round: ClassVar[bool] = False

    prepare = staticmethod(prepare_feedback)

    def build(self, graph: StateGraph) -> str:
        graph.add_node("act", act)
        graph.add_conditional_edges("act", route_after_act, {"act": "act", "finish": "finish"})
        return "act"


POLICY = ReactPolicy()
