"""The LangGraph controller: small nodes, pure routers, explicit path maps.

`repair`: generate N candidates (one request) -> run the feedback tests on each ->
the best goes on -> all pass: finish | budget left: feedback on the best -> generate.
The same code again means no progress: the next round samples afresh; no progress
after that ends the run. `react`: the model picks tools until it submits.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any, Protocol

from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel

import prompts
from agent.config import SolverConfig
from agent.extract import code_blocks, extract_completion, normalized, strip_thinking
from agent.feedback import describe
from agent.llm.client import Completion, tool_calls_in_text
from agent.state import AgentState, Candidate, RoundRecord, replaces
from agent.trace import Tracer
from eval.problems import Problem, harness_imports, hidden_job, trusted_prelude
from sandbox.sandbox import Sandbox
from sandbox.verdict import Job, Verdict
from tools.calls import TOOL_SCHEMAS, run_python, checks_job
from tools.visible_tests import extract_visible_tests


class LLM(Protocol):
    async def chat(self, messages: list[dict[str, Any]], **options: Any) -> Completion: ...


# ------------------------------------------------------------------ pure routers


def route_after_evaluate(state: AgentState) -> str:
    if state.get("stop_reason"):
        return "finish"
    best = state["best"]
    if best is not None and best.all_pass:
        return "finish"
    return "feedback"


def route_after_feedback(state: AgentState) -> str:
    return "finish" if state.get("stop_reason") else "generate"


def route_after_act(state: AgentState) -> str:
    return "finish" if state.get("stop_reason") or state.get("submitted") is not None else "act"


class SharedFirstRound(BaseModel):
    """This sample's share of one round-0 request made for several samples at once
    (`n` choices, one prompt, prefix cached); tokens are apportioned by reply length."""

    candidates: list[Candidate]
    messages: list[dict[str, Any]]
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    shared: dict[str, Any]


class Controller:
    """Holds what the nodes share: the problem, the model, the sandbox, the trace."""

    def __init__(self, problem: Problem, llm: LLM, sandbox: Sandbox, config: SolverConfig, tracer: Tracer,
                 family: str, first: SharedFirstRound | None = None) -> None:
        self.problem, self.llm, self.sandbox, self.config, self.tracer = problem, llm, sandbox, config, tracer
        self.family = family
        self.first = first
        self.prelude = trusted_prelude(problem.prompt)
        self.setup = harness_imports(problem.test) if problem.test else ""
        self.started = time.monotonic()
        self.completion_tokens = 0
        self.prompt_tokens = 0
        self.feedback_tests: list[str] | None = None
        self.react_best: Candidate | None = None

    # -------------------------------------------------------------- shared helpers
    def system(self) -> dict[str, str]:
        return {"role": "system", "content": prompts.render(self.family, "system")}

    def task(self) -> dict[str, str]:
        return {"role": "user", "content": prompts.render(self.family, "generate", prompt=self.problem.prompt)}

    async def ask(self, messages: list[dict[str, Any]], node: str, round_: int, **options: Any) -> Completion:
        for key, value in prompts.request_options(self.family).items():
            options.setdefault(key, value)
        started = time.monotonic()
        reply = await self.llm.chat(messages, max_tokens=self.config.max_tokens, site=node, **options)
        self.completion_tokens += reply.completion_tokens
        self.prompt_tokens += reply.prompt_tokens
        self.tracer.event(node, "llm", round_, time.monotonic() - started, messages=messages,
                          replies=[c.text for c in reply.choices],
                          tool_calls=[[t.model_dump() for t in c.tool_calls] for c in reply.choices],
                          tokens={"prompt": reply.prompt_tokens, "completion": reply.completion_tokens},
                          options={k: v for k, v in options.items() if k != "tools"})
        return reply

    def over_budget(self, round_: int) -> str | None:
        if self.config.token_budget is not None and self.completion_tokens >= self.config.token_budget:
            return "token budget spent"
        if self.config.time_budget is not None and time.monotonic() - self.started >= self.config.time_budget:
            return "time budget spent"
        if round_ >= self.config.rounds:
            return "rounds spent"
        return None

    async def judge(self, completion: str, round_: int, node: str = "evaluate") -> Verdict | None:
        tests = self.feedback_tests
        if not tests:
            return None
        if self.config.feedback == "hidden":
            job = hidden_job(self.problem, completion, self.config.timeout)
        else:
            job = self.checks(completion, tests)
        started = time.monotonic()
        verdict = await asyncio.to_thread(self.sandbox.run, job)
        self.tracer.event(node, "sandbox", round_, time.monotonic() - started, feedback=self.config.feedback,
                          oracle=self.config.feedback == "hidden", passed=verdict.tests_passed,
                          total=len(verdict.tests), verdict=verdict.result,
                          kind_of_error=(verdict.first_failure.kind if verdict.first_failure else "passed"))
        return verdict

    def checks(self, completion: str, tests: list[str]) -> Job:
        """The sandbox job that runs `tests` (assert statements) against `completion`."""
        return checks_job(self.problem.prompt, self.problem.entry_point, completion, tests, self.prelude,
                          self.config.timeout, self.setup)

    async def prepare_feedback_tests(self) -> None:
        mode = self.config.feedback
        if mode == "visible":
            self.feedback_tests = self.problem.visible_tests or extract_visible_tests(
                self.problem.prompt, self.problem.entry_point)
        elif mode == "hidden":
            self.feedback_tests = ["check"] if self.problem.test else []
        elif mode == "self":
            message = {"role": "user", "content": prompts.render(
                self.family, "self_tests", prompt=self.problem.prompt, entry_point=self.problem.entry_point)}
            reply = await self.ask([self.system(), message], "self_tests", 0, temperature=0.0)
            self.feedback_tests = parse_asserts(reply.choices[0].text, self.problem.entry_point)
        else:
            self.feedback_tests = []
        self.tracer.event("prepare", "tool", 0, 0.0, feedback=mode, tests=self.feedback_tests)

    def candidates_from(self, reply: Completion) -> list[Candidate]:
        return [Candidate(completion=extract_completion(c.text, self.problem.prompt, self.problem.entry_point),
                          raw=c.text) for c in reply.choices]

    # -------------------------------------------------------------- repair policy
    async def generate(self, state: AgentState) -> dict[str, Any]:
        round_ = state.get("round", 0)
        if self.feedback_tests is None:
            await self.prepare_feedback_tests()
        started, tokens_before = time.monotonic(), (self.prompt_tokens, self.completion_tokens)
        n = self.config.candidates
        if round_ == 0 and self.problem.code is not None:
            action, candidates = "given", [Candidate(completion="\n" + self.problem.code.rstrip() + "\n")]
            self.tracer.event("generate", "given", round_, 0.0, code=self.problem.code)
        elif round_ == 0 and self.first is not None:
            action, candidates = "generate", [c.model_copy() for c in self.first.candidates]
            self.prompt_tokens += self.first.prompt_tokens
            self.completion_tokens += self.first.completion_tokens
            self.tracer.event("generate", "llm", round_, self.first.seconds, messages=self.first.messages,
                              replies=[c.raw for c in candidates], tokens={"prompt": self.first.prompt_tokens,
                                                                           "completion": self.first.completion_tokens},
                              shared=self.first.shared)
        else:
            fresh = round_ == 0 or state.get("resample", False)
            if fresh:
                action = "generate" if round_ == 0 else "resample"
                messages = [self.system(), self.task()]
            else:
                action = "review" if self.config.feedback == "none" else "repair"
                messages = state["messages"]
            searching = n > 1 or (fresh and round_ > 0)
            temperature = max(self.config.temperature, self.config.search_temperature) if searching \
                else self.config.temperature
            reply = await self.ask(messages, "generate", round_, n=n, temperature=temperature)
            candidates = self.candidates_from(reply)
        record = RoundRecord(round=round_, action=action, candidates=candidates,
                             prompt_tokens=self.prompt_tokens - tokens_before[0],
                             completion_tokens=self.completion_tokens - tokens_before[1])
        record.seconds = time.monotonic() - started
        return {"rounds": [*state.get("rounds", []), record], "round": round_, "resample": False}

    async def evaluate(self, state: AgentState) -> dict[str, Any]:
        round_ = state["round"]
        record = state["rounds"][-1]
        started = time.monotonic()
        verdicts = await asyncio.gather(*(self.judge(c.completion, round_) for c in record.candidates))
        for candidate, verdict in zip(record.candidates, verdicts):
            candidate.verdict = verdict
            candidate.passed = verdict.tests_passed if verdict else 0
            candidate.total = len(verdict.tests) if verdict else 0
        record.best = max(range(len(record.candidates)), key=lambda i: (record.candidates[i].passed, -i))
        record.seconds += time.monotonic() - started
        chosen, best = record.chosen, state.get("best")
        if replaces(best, chosen):
            best = chosen
        self.tracer.event("evaluate", "verdict", round_, time.monotonic() - started, best=record.best,
                          candidates=[{"completion": c.completion, "passed": c.passed, "total": c.total,
                                       "error": c.error_kind} for c in record.candidates])
        update: dict[str, Any] = {"best": best}
        if not best.all_pass:
            if not self.feedback_tests and self.config.feedback != "none":
                update["stop_reason"] = "no feedback tests to repair against"
            else:
                update["stop_reason"] = self.over_budget(round_)
        return update

    async def feedback(self, state: AgentState) -> dict[str, Any]:
        round_ = state["round"]
        record = state["rounds"][-1]
        chosen = record.chosen
        previous = [r.chosen.completion for r in state["rounds"][:-1]]
        stuck = any(normalized(chosen.completion) == normalized(p) for p in previous)
        update: dict[str, Any] = {"round": round_ + 1}
        if stuck:
            if state.get("resampled_without_progress"):
                update["stop_reason"] = "no progress, even after sampling afresh"
            else:
                update["resample"] = True
                update["resampled_without_progress"] = True
            self.tracer.event("feedback", "no_progress", round_, 0.0, resample=not update.get("stop_reason"))
            return update
        update["resampled_without_progress"] = False
        best = state.get("best") or chosen  # repair works on the candidate the agent keeps, not a worse newcomer
        if self.config.feedback == "none":
            text = prompts.render(self.family, "review")
        else:
            sources = None if self.config.feedback == "hidden" else self.feedback_tests
            text = prompts.render(self.family, "repair", feedback=describe(best.verdict, sources),
                                  oracle=self.config.feedback == "hidden")
        shown = best.raw if best.raw.strip() else f"```python\n{self.problem.prompt}{best.completion}```"
        update["messages"] = [self.system(), self.task(), {"role": "assistant", "content": shown},
                              {"role": "user", "content": text}]
        self.tracer.event("feedback", "feedback", round_, 0.0, message=text)
        return update

    async def finish(self, state: AgentState) -> dict[str, Any]:
        reason = state.get("stop_reason") or ("tests pass" if state.get("best") and state["best"].all_pass else None)
        self.tracer.event("finish", "stop", state.get("round", 0), 0.0, reason=reason)
        return {"stop_reason": reason}

    # -------------------------------------------------------------- react policy
    async def act(self, state: AgentState) -> dict[str, Any]:
        step = state.get("steps", 0)
        if self.feedback_tests is None:
            await self.prepare_feedback_tests()
        messages = list(state.get("messages") or [])
        if not messages:
            system = prompts.render(self.family, "react_system" if self.config.react_protocol == "tools" else "react_text")
            messages = [{"role": "system", "content": system}, self.task()]
        if self.config.react_protocol == "tools":
            reply = await self.ask(messages, "act", step, tools=TOOL_SCHEMAS, tool_choice="required",
                                   temperature=self.config.temperature)
            choice = reply.choices[0]
            calls = choice.tool_calls or tool_calls_in_text(choice.text, {"run_tests", "run_python", "submit"})
            call = calls[0] if calls else None
            call_id = (call.id if call and call.id else f"call{step}")
            assistant: dict[str, Any] = {"role": "assistant", "content": choice.text or None}
            if call is not None:
                assistant["tool_calls"] = [{"id": call_id, "type": "function", "function": {
                    "name": call.name, "arguments": call.raw_arguments or json.dumps(call.arguments)}}]
            name, arguments, error = (call.name, call.arguments, call.error) if call else (None, {}, "no tool call")
        else:
            reply = await self.ask(messages, "act", step, temperature=self.config.temperature, stop=["Observation:"])
            text = reply.choices[0].text
            assistant = {"role": "assistant", "content": text}
            name, arguments, error = parse_text_action(text)
            call_id = None
        observation, submitted = await self.use_tool(name, arguments, error, step)
        if call_id is not None and "tool_calls" in assistant:
            tool_message = {"role": "tool", "tool_call_id": call_id, "content": observation}
        else:
            tool_message = {"role": "user", "content": f"Observation: {observation}"}
        update: dict[str, Any] = {"messages": [*messages, assistant, tool_message], "steps": step + 1,
                                  "round": step + 1}
        if submitted is not None:
            update["submitted"] = update["best"] = submitted
        else:
            update["stop_reason"] = self.over_budget(step)
            if self.react_best is not None:
                update["best"] = self.react_best
        return update

    async def use_tool(self, name: str | None, arguments: dict[str, Any], error: str | None,
                       step: int) -> tuple[str, Candidate | None]:
        started = time.monotonic()
        code = arguments.get("code") if isinstance(arguments, dict) else None
        if error or name not in ("run_tests", "run_python", "submit") or not isinstance(code, str):
            why = error or (f"unknown tool {name!r}" if name not in ("run_tests", "run_python", "submit")
                            else "the arguments need a string field `code`")
            observation = f"Invalid tool call: {why}. Call run_tests, run_python or submit with {{\"code\": \"...\"}}."
            self.tracer.event("tool", "tool", step, time.monotonic() - started, tool=name, error=why)
            return observation, None
        if name == "run_python":
            verdict = await asyncio.to_thread(run_python, self.sandbox, code)
            failure = verdict.first_failure
            observation = (verdict.output or "(no output)") if failure is None else \
                f"{verdict.output}\n{failure.exception or failure.message}\n{failure.traceback or ''}".strip()
            self.tracer.event("tool", "tool", step, time.monotonic() - started, tool=name, code=code,
                              observation=observation)
            return observation, None
        completion = extract_completion(f"```python\n{code}\n```", self.problem.prompt, self.problem.entry_point)
        candidate = Candidate(completion=completion, raw=code)
        verdict = await self.judge(completion, step, node="tool")
        if verdict is not None:
            candidate.verdict, candidate.passed, candidate.total = verdict, verdict.tests_passed, len(verdict.tests)
        if name == "submit":
            self.tracer.event("tool", "tool", step, time.monotonic() - started, tool=name, code=code)
            return "submitted", candidate
        sources = None if self.config.feedback == "hidden" else self.feedback_tests
        observation = "no tests to run" if verdict is None else (
            "all tests pass; call submit" if candidate.all_pass else describe(verdict, sources))
        self.tracer.event("tool", "tool", step, time.monotonic() - started, tool=name, code=code,
                          observation=observation)
        if replaces(self.react_best, candidate):
            self.react_best = candidate
        return observation, None


def parse_asserts(reply: str, entry_point: str) -> list[str]:
    """Assert statements the model wrote, kept when they compile and call the function."""
    text = "\n".join(code_blocks(strip_thinking(reply))) or reply
    tests = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("assert ") and re.search(rf"\b{re.escape(entry_point)}\s*\(", line):
            try:
                compile(line, "<test>", "exec")
            except SyntaxError:
                continue
            tests.append(line)
    return list(dict.fromkeys(tests))[:8]


def parse_text_action(text: str) -> tuple[str | None, dict[str, Any], str | None]:
    """The text ReAct protocol: `Action: NAME` and `Action Input: {json}` or a code block."""
    action = re.search(r"Action\s*:\s*`?(\w+)`?", text)
    if action is None:
        calls = tool_calls_in_text(text, {"run_tests", "run_python", "submit"})
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


def build_graph(controller: Controller, policy: str):
    """The compiled graph for `policy`; its shape is snapshot-tested."""
    graph = StateGraph(AgentState)
    if policy == "repair":
        graph.add_node("generate", controller.generate)
        graph.add_node("evaluate", controller.evaluate)
        graph.add_node("feedback", controller.feedback)
        graph.add_node("finish", controller.finish)
        graph.add_edge(START, "generate")
        graph.add_edge("generate", "evaluate")
        graph.add_conditional_edges("evaluate", route_after_evaluate, {"finish": "finish", "feedback": "feedback"})
        graph.add_conditional_edges("feedback", route_after_feedback, {"generate": "generate", "finish": "finish"})
    else:
        graph.add_node("act", controller.act)
        graph.add_node("finish", controller.finish)
        graph.add_edge(START, "act")
        graph.add_conditional_edges("act", route_after_act, {"act": "act", "finish": "finish"})
    graph.add_edge("finish", END)
    return graph.compile()
