"""The `react` policy's step: the model picks a tool (OpenAI tool calls or a text
protocol), the tool runs in the sandbox, the observation goes back. Each step is a round
of the state, recorded like a repair round: which tool, what it saw, the best so far."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import prompts
from agent.context import RunContext, unrecorded
from agent.extract import code_blocks, extract_completion
from agent.feedback import describe
from agent.llm.client import tool_calls_in_text
from agent.state import AgentState, Candidate, Usage, replaces
from langgraph.runtime import Runtime
from tools.calls import TOOL_SCHEMAS, TOOLS, run_python

TOOL_NAMES = set(TOOLS)


async def act(state: AgentState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    ctx = runtime.context
    step = state.get("round", 0)
    started = time.monotonic()
    messages = list(state.get("messages") or [])
    if not messages:
        system = prompts.render(ctx.family, "react_system" if ctx.config.react_protocol == "tools" else "react_text")
        messages = [{"role": "system", "content": system}, ctx.task()]
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
        reply, usage = await ctx.ask(messages, "act", step, temperature=ctx.config.temperature,
                                     stop=["Observation:"])
        assistant = {"role": "assistant", "content": reply.choices[0].text}
        name, arguments, error = parse_text_action(reply.choices[0].text)
    observation, candidate, submitted = await use_tool(ctx, state, name, arguments, error, step)
    if "tool_calls" in assistant:
        tool_message = {"role": "tool", "tool_call_id": assistant["tool_calls"][0]["id"], "content": observation}
    else:
        tool_message = {"role": "user", "content": f"Observation: {observation}"}

    previous = state.get("best")
    best, kept_previous = previous, False
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
    if error or name not in TOOL_NAMES or not isinstance(code, str):
        why = error or (f"unknown tool {name!r}" if name not in TOOL_NAMES
                        else "the arguments need a string field `code`")
        observation = f"Invalid tool call: {why}. Call run_tests, run_python or submit with {{\"code\": \"...\"}}."
        ctx.tracer.event("tool", "tool", step, time.monotonic() - started, tool=name, error=why)
        return observation, None, False
    if name == "run_python":
        verdict = await asyncio.to_thread(run_python, ctx.sandbox, code)
        failure = verdict.first_failure
        observation = (verdict.output or "(no output)") if failure is None else \
            f"{verdict.output}\n{failure.exception or failure.message}\n{failure.traceback or ''}".strip()
        ctx.tracer.event("tool", "tool", step, time.monotonic() - started, tool=name, code=code,
                         observation=observation)
        return observation, None, False
    completion = extract_completion(f"```python\n{code}\n```", ctx.problem.prompt, ctx.problem.entry_point)
    tests = state.get("feedback_tests") or []
    verdict = await ctx.judge(completion, tests, step, node="tool")
    candidate = Candidate(completion=completion, raw=code).judged(verdict)
    if name == "submit":
        ctx.tracer.event("tool", "tool", step, time.monotonic() - started, tool=name, code=code)
        return "submitted", candidate, True
    sources = None if ctx.config.feedback == "hidden" else tests
    observation = "no tests to run" if verdict is None else (
        "all tests pass; call submit" if candidate.all_pass else describe(verdict, sources))
    ctx.tracer.event("tool", "tool", step, time.monotonic() - started, tool=name, code=code,
                     observation=observation)
    return observation, candidate, False


def parse_text_action(text: str) -> tuple[str | None, dict[str, Any], str | None]:
    """The text ReAct protocol: `Action: NAME` and `Action Input: {json}` or a code block."""
    action = re.search(r"Action\s*:\s*`?(\w+)`?", text)
    if action is None:
        calls = tool_calls_in_text(text, TOOL_NAMES)
        if calls:
            return calls[0].name, calls[0].arguments, calls[0].error
        return None, {}, "no `Action:` line"
    raw = text.split("Action Input", 1)[1].split(":", 1)[-1].strip() if "Action Input" in text else ""
    try:
        arguments = json.loads(raw)
        if isinstance(arguments, dict):
            return action.group(1), arguments, None
    except ValueError:
        pass
    blocks = code_blocks(raw or text)
    if blocks:
        return action.group(1), {"code": blocks[0]}, None
    if raw:
        return action.group(1), {"code": raw}, None
    return action.group(1), {}, "no `Action Input`"
