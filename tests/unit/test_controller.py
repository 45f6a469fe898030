"""The controller's logic with a scripted fake model (the sandbox is the real process backend)."""

from __future__ import annotations

import asyncio
import json

import pytest

from agent.config import SolverConfig
from agent.graph import build_graph
from agent.policies.react import parse_text_action
from agent.llm.client import Choice, Completion, ToolCall
from agent.solver import Solver
from agent.trace import Tracer
from eval.problems import Problem
from sandbox import SandboxConfig, open_sandbox

PROMPT = 'def median(xs: list) -> float:\n    """Median of xs.\n    >>> median([3, 1, 2])\n    2\n    >>> median([4, 1, 2, 3])\n    2.5\n    """\n'
TEST = "def check(candidate):\n    assert candidate([3, 1, 2]) == 2\n    assert candidate([4, 1, 2, 3]) == 2.5\n    assert candidate([5]) == 5\n"
GOOD = "```python\ndef median(xs):\n    s = sorted(xs)\n    n = len(s)\n    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2\n```"
BAD = "```python\ndef median(xs):\n    return sorted(xs)[len(xs) // 2]\n```"
BAD_TOO = "Here you go:\n```python\ndef median(xs):\n    xs = sorted(xs)\n    return xs[0]\n```"


class FakeLLM:
    """Replies from a script, one entry per request: a list of texts or of tool calls."""

    def __init__(self, script):
        self.script, self.requests = list(script), []

    async def chat(self, messages, **options):
        self.requests.append({"messages": json.loads(json.dumps(messages)), **options})
        step = self.script.pop(0) if self.script else ["no more script"]
        choices = [Choice(text=s, tool_calls=[]) if isinstance(s, str) else Choice(text="", tool_calls=[s])
                   for s in step][: options.get("n", 1)]
        while len(choices) < options.get("n", 1):
            choices.append(choices[-1])
        return Completion(choices=choices, completion_tokens=10 * len(choices), prompt_tokens=50)


@pytest.fixture(scope="module")
def sandbox():
    with open_sandbox(SandboxConfig(backend="process", workers=2), say=lambda m: None) as box:
        yield box


def solve(sandbox, script, problem=None, **config):
    llm = FakeLLM(script)
    tracer = Tracer(task="median")
    problem = problem or Problem(prompt=PROMPT, entry_point="median", test=TEST, task_id="median")
    result = asyncio.run(Solver(llm, sandbox, SolverConfig(**config), "qwen2.5-coder").solve(problem, tracer))
    return result, llm, tracer


def test_pass_at_round_zero(sandbox):
    result, llm, tracer = solve(sandbox, [[GOOD]])
    assert result.solved and len(result.rounds) == 1 and len(llm.requests) == 1
    assert result.stop_reason == "tests pass"
    llm_events = [e for e in tracer.events if e.kind == "model_call"]
    assert llm_events[0].messages[-1]["content"].startswith("Complete the following Python function")
    assert llm_events[0].replies == [GOOD]


def test_fail_then_fix_shows_the_model_the_failing_call(sandbox):
    result, llm, _ = solve(sandbox, [[BAD], [GOOD]])
    assert result.solved and [r.feedback_passed for r in result.rounds] == [1, 2]
    assert [r.hidden_passed for r in result.rounds] == [False, True]
    repair = llm.requests[1]["messages"][-1]["content"]
    assert "called median([4, 1, 2, 3])" in repair and "expected 2.5" in repair and "got 3" in repair
    assert llm.requests[1]["messages"][-2]["content"] == BAD


def test_no_progress_samples_afresh_then_stops(sandbox):
    result, llm, _ = solve(sandbox, [[BAD], [BAD], [BAD], [BAD]], rounds=5)
    assert not result.solved and result.stop_reason == "no progress, even after sampling afresh"
    assert llm.requests[2]["temperature"] > 0  # the third request samples afresh, even from greedy
    assert llm.requests[2]["messages"][-1]["content"].startswith("Complete the following")


def test_rounds_budget(sandbox):
    result, llm, _ = solve(sandbox, [[BAD], [BAD_TOO], [BAD]], rounds=1)
    assert not result.solved and result.stop_reason == "rounds spent" and len(llm.requests) == 2


def test_token_budget(sandbox):
    result, llm, _ = solve(sandbox, [[BAD], [BAD_TOO]], rounds=5, token_budget=5)
    assert result.stop_reason == "token budget spent" and len(llm.requests) == 1


def test_malformed_output_is_a_failure_not_a_crash(sandbox):
    result, _, _ = solve(sandbox, [["I cannot help with that."], ["```python\ndef median(xs:\n```"], [GOOD]])
    assert result.solved and result.rounds[0].feedback_error in ("syntax", "name", "exception")


def test_candidates_are_chosen_by_the_tests(sandbox):
    result, llm, tracer = solve(sandbox, [[BAD, BAD_TOO, GOOD]], candidates=3)
    assert result.solved and len(result.rounds) == 1 and llm.requests[0]["n"] == 3
    assert llm.requests[0]["temperature"] > 0
    evaluated = next(e for e in tracer.events if e.kind == "candidates_judged")
    assert [c.passed for c in evaluated.candidates] == [1, 0, 2] and evaluated.best == 2
    # the trace's contract: every candidate's completion with passed/total, every request in full
    assert all(c.total == 2 and c.completion for c in evaluated.candidates)
    assert "(s[n // 2 - 1] + s[n // 2]) / 2" in evaluated.candidates[2].completion
    (request,) = [e for e in tracer.events if e.kind == "model_call"]
    assert request.messages == llm.requests[0]["messages"] and request.replies == [BAD, BAD_TOO, GOOD]
    assert evaluated.parent == request.id  # the verdict names the call whose replies it judged


def test_given_code_is_round_zero_without_a_model_call(sandbox):
    problem = Problem(prompt=PROMPT, entry_point="median", test=TEST, code="def median(xs):\n    return xs[0]\n")
    result, llm, _ = solve(sandbox, [[GOOD]], problem=problem)
    assert result.solved and result.rounds[0].action == "given" and len(llm.requests) == 1


def test_react_malformed_call_gets_one_correction_then_is_an_observation(sandbox):
    code = GOOD.strip("`").removeprefix("python\n")
    bad = BAD.strip("`").removeprefix("python\n")
    broken = ToolCall(name="run_tests", arguments={}, raw_arguments="{oops", error="arguments are not valid JSON")
    script = [[BAD], [broken], [ToolCall(name="run_tests", arguments={"code": bad})],
              [broken], [broken], [ToolCall(name="submit", arguments={"code": code})]]
    result, llm, tracer = solve(sandbox, script, policy="react", react_protocol="tools", rounds=4)
    assert result.solved and [r.tool for r in result.rounds] == ["run_tests", "run_tests", "run_tests", "submit"]
    correction = llm.requests[2]["messages"][-1]
    assert correction["role"] == "user" and "arguments are not valid JSON" in correction["content"]
    assert llm.requests[2]["messages"][-2] == {"role": "assistant", "content": "{oops"}  # no dangling tool call
    assert "expected 2.5" in llm.requests[3]["messages"][-1]["content"]
    assert "expected 2.5" in result.rounds[1].observation  # the retry's call ran in the same step
    assert result.rounds[2].observation.startswith("Invalid tool call: arguments are not valid JSON")
    assert llm.requests[5]["messages"][-1]["role"] == "tool"  # the second failure is answered as the tool's result
    assert len([e for e in tracer.events if e.kind == "retry"]) == 2
    assert sum(r.completion_tokens for r in result.rounds) == result.usage.completion_tokens == 60


def test_react_text_protocol(sandbox):
    """The first step is the model's plain answer, tested; the protocol takes over from its
    observation, and code that passes every test the agent has is the answer."""
    code = json.dumps({"code": GOOD.strip("`").removeprefix("python\n")})
    script = [[f"Here it is:\n{BAD}"], [f"Thought: even lengths\nAction: run_tests\nAction Input: {code}"]]
    result, llm, _ = solve(sandbox, script, policy="react", react_protocol="text")
    first, second = llm.requests[0]["messages"], llm.requests[1]["messages"]
    assert "Action:" not in first[0]["content"] and "Action: run_tests" in second[0]["content"]
    assert second[2]["role"] == "assistant" and second[2]["content"].startswith("Thought: my first answer")
    told = second[-1]["content"]
    assert result.solved and told.startswith("Observation: 1 of 2 tests pass") and "expected 2.5" in told
    assert result.rounds[-1].observation == "all tests pass; submitted" and len(llm.requests) == 2
    assert parse_text_action("Action: submit\nAction Input: ```python\ndef f(): pass\n```")[:2] == \
        ("submit", {"code": "def f(): pass\n"})
    assert parse_text_action("I think so.")[2] == "no `Action:` line and no code block"
    fenced = "Thought: try it\nAction: run_tests\n```python\ndef median(xs):\n    return 1\n```"
    assert parse_text_action(fenced)[:2] == ("run_tests", {"code": "def median(xs):\n    return 1\n"})


def test_react_text_protocol_asks_the_server_for_its_form(sandbox):
    """By default each text-protocol request carries the protocol's grammar (vLLM structured
    outputs; the first, plain answer does not); `react_constrained=False` sends plain
    requests for servers without them."""
    code = GOOD.strip("`").removeprefix("python\n")
    script = [[BAD], [f"Thought: test it\nAction: submit\n```python\n{code}```"]]
    result, llm, _ = solve(sandbox, script, policy="react", react_protocol="text")
    grammar = llm.requests[1]["extra_body"]["structured_outputs"]["grammar"]
    assert result.solved and '"\\nAction: " action' in grammar and '"run_tests" | "run_python" | "submit"' in grammar
    assert "extra_body" not in llm.requests[0]
    _, plain, _ = solve(sandbox, list(script), policy="react", react_protocol="text", react_constrained=False)
    assert "extra_body" not in plain.requests[1]


def test_react_text_code_without_an_action_runs_the_tests(sandbox):
    """Unconstrained, the 0.5B model writes a thought and the code but rarely the action
    line: the code runs as `run_tests`; once such code passes every test it is the answer."""
    script = [[BAD], [f"Thought: sort it.\n{BAD}"], [f"Thought: even lengths average the middle two.\n{GOOD}"]]
    result, llm, _ = solve(sandbox, script, policy="react", react_protocol="text", rounds=4, react_constrained=False)
    assert result.solved and [r.tool for r in result.rounds] == ["run_tests", "run_tests", "run_tests"]
    assert "expected 2.5" in result.rounds[1].observation
    assert result.rounds[2].observation == "all tests pass; submitted" and result.stop_reason == "tests pass"
    assert len(llm.requests) == 3


def test_graph_shapes():
    def shape(policy):
        drawable = build_graph(policy).get_graph()
        return sorted(drawable.nodes), sorted((e.source, e.target, e.conditional) for e in drawable.edges)

    assert shape("repair") == (
        ["__end__", "__start__", "evaluate", "feedback", "finish", "generate", "prepare"],
        [("__start__", "prepare", False), ("evaluate", "feedback", True), ("evaluate", "finish", True),
         ("feedback", "finish", True), ("feedback", "generate", True), ("finish", "__end__", False),
         ("generate", "evaluate", False), ("prepare", "generate", False)],
    )
    assert shape("react") == (
        ["__end__", "__start__", "act", "finish", "prepare"],
        [("__start__", "prepare", False), ("act", "act", True), ("act", "finish", True), ("finish", "__end__", False),
         ("prepare", "act", False)],
    )


def test_bench_samples_share_one_round_zero_request_then_repair_on_their_own(sandbox):
    """The bench's seam: n samples get their round-0 replies from one request with n
    choices; each failing sample then repairs alone; tokens add up to what was generated."""
    llm = FakeLLM([[GOOD, BAD, BAD_TOO], [GOOD], [GOOD]])
    problem = Problem(prompt=PROMPT, entry_point="median", test=TEST, task_id="median")
    solver = Solver(llm, sandbox, SolverConfig(temperature=0.8, rounds=2), "qwen2.5-coder", run_name="r")
    results = []

    async def collect(result):
        results.append(result)

    asyncio.run(solver.solve_samples(problem, [3, 4, 5], collect))
    assert llm.requests[0]["n"] == 3 and len(llm.requests) == 3
    by_sample = {r.sample: r for r in results}
    assert sorted(by_sample) == [3, 4, 5]
    assert [r.action for r in by_sample[3].rounds] == ["generate"]
    assert by_sample[3].rounds[0].visible_passed is True
    for sample in (4, 5):
        rounds = by_sample[sample].rounds
        assert [r.action for r in rounds] == ["generate", "repair"]
        assert rounds[0].visible_passed is False and rounds[1].visible_passed is True
        assert all(e.sample == sample and e.run == "r" for e in by_sample[sample].trace)
    shared = sum(r.rounds[0].completion_tokens for r in results)
    assert shared == 30, "the round-0 request's tokens are apportioned, never duplicated"
    assert all(r.rounds[1].completion_tokens == 10 for r in results if len(r.rounds) > 1)


def test_bench_samples_report_visible_verdicts_under_oracle_feedback(sandbox):
    llm = FakeLLM([[BAD]])
    problem = Problem(prompt=PROMPT, entry_point="median", test=TEST, task_id="median")
    solver = Solver(llm, sandbox, SolverConfig(feedback="hidden", rounds=0), "qwen2.5-coder")
    results = []

    async def collect(result):
        results.append(result)

    asyncio.run(solver.solve_samples(problem, [0], collect))
    (only,) = results
    assert only.rounds[0].visible_passed is False and only.rounds[0].feedback_total == 1


def test_bench_rounds_report_the_best_so_far_when_a_repair_is_worse(sandbox):
    """A repair that passes fewer visible tests does not replace the sample's candidate:
    the bench judges what the agent would answer, not the worse attempt."""
    llm = FakeLLM([[BAD], [BAD_TOO]])
    problem = Problem(prompt=PROMPT, entry_point="median", test=TEST, task_id="median")
    solver = Solver(llm, sandbox, SolverConfig(rounds=1), "qwen2.5-coder")
    results = []

    async def collect(result):
        results.append(result)

    asyncio.run(solver.solve_samples(problem, [0], collect))
    first, second = results[0].rounds
    assert first.feedback_passed == 1 and first.feedback_total == 2 and not first.kept_previous
    assert second.kept_previous and second.completion == first.completion and second.feedback_passed == 1
    assert second.action == "repair" and second.completion_tokens == 10


def test_repair_shows_the_best_so_far_never_a_worse_newcomer(sandbox):
    """BAD passes one example; BAD_TOO, written in the repair round, passes none: the
    next repair prompt still shows BAD and its failure, and BAD_TOO never reaches it."""
    result, llm, _ = solve(sandbox, [[BAD], [BAD_TOO], [GOOD]], rounds=3)
    assert result.solved and [r.feedback_passed for r in result.rounds] == [1, 1, 2]  # the best so far
    assert [r.kept_previous for r in result.rounds] == [False, True, False]
    third = llm.requests[2]["messages"]
    assert third[-2]["content"] == BAD and "return xs[0]" not in json.dumps(third)
    assert "expected 2.5" in third[-1]["content"] and "got 3" in third[-1]["content"]


@pytest.mark.parametrize("family, system_start, extra", [
    ("qwen2.5-coder", "You are Qwen", None),
    ("qwen3", "You are a helpful assistant that writes", {"chat_template_kwargs": {"enable_thinking": False}}),
    ("generic", "You are a helpful assistant that writes", None),
])
def test_each_family_takes_only_what_differs(sandbox, family, system_start, extra):
    _, llm, _ = solve(sandbox, [[GOOD]], family=family)
    request = llm.requests[0]
    assert request["messages"][0]["content"].startswith(system_start)
    assert request["messages"][-1]["content"].startswith("Complete the following Python function")
    assert request.get("extra_body") == extra


def test_react_submitting_a_failing_answer_says_so(sandbox):
    bad = BAD.strip("`").removeprefix("python\n")
    result, _, _ = solve(sandbox, [[BAD_TOO], [ToolCall(name="submit", arguments={"code": bad})]], policy="react",
                         react_protocol="tools")
    assert not result.solved and result.stop_reason == "submitted" and len(result.rounds) == 2


def test_react_records_each_step_as_a_round(sandbox):
    """A react run is its steps: which tool, what the model saw, the best so far after each."""
    code = GOOD.strip("`").removeprefix("python\n")
    script = [[BAD_TOO], [ToolCall(name="run_python", arguments={"code": "print(1 + 1)"})],
              [ToolCall(name="run_tests", arguments={"code": BAD.strip("`").removeprefix("python\n")})],
              [ToolCall(name="submit", arguments={"code": code})]]
    result, llm, _ = solve(sandbox, script, policy="react", react_protocol="tools", rounds=5)
    assert result.solved and [r.tool for r in result.rounds] == ["run_tests", "run_python", "run_tests", "submit"]
    assert [r.round for r in result.rounds] == [0, 1, 2, 3] and all(r.action == "react" for r in result.rounds)
    assert "0 of 2 tests pass" in result.rounds[0].observation and result.rounds[0].feedback_passed == 0
    assert result.rounds[1].observation == "2\n" and result.rounds[1].completion == result.rounds[0].completion
    assert "expected 2.5" in result.rounds[2].observation and result.rounds[2].feedback_passed == 1
    assert result.rounds[3].observation == "submitted" and result.rounds[3].visible_passed
    assert [r.hidden_passed for r in result.rounds] == [False, False, False, True]
    assert sum(r.completion_tokens for r in result.rounds) == result.usage.completion_tokens == 40
    assert llm.requests[2]["messages"][-1]["content"] == "2\n"  # the observation reached the model
    assert llm.requests[1]["messages"][-1]["role"] == "tool"  # the first answer's test came back as a tool result


def test_self_feedback_asks_the_model_in_prepare_and_counts_its_tokens(sandbox):
    asserts = "```python\nassert median([3, 1, 2]) == 2\nassert median([4, 1, 2, 3]) == 2.5\n```"
    result, llm, tracer = solve(sandbox, [[asserts], [BAD], [GOOD]], feedback="self")
    assert result.solved and len(llm.requests) == 3
    prepare = [e for e in tracer.events if e.node == "prepare"]
    assert prepare[0].kind == "model_call" and prepare[-1].tests == ["assert median([3, 1, 2]) == 2",
                                                                     "assert median([4, 1, 2, 3]) == 2.5"]
    assert result.rounds[0].completion_tokens == 20, "the test-writing request is paid for in round 0"
    assert result.usage.completion_tokens == 30


def test_one_compiled_graph_serves_concurrent_problems(sandbox, monkeypatch):
    """The graph is compiled once per solver; each run gets its own problem as context."""
    import agent.solver

    built = []
    original = agent.solver.build_graph
    monkeypatch.setattr(agent.solver, "build_graph", lambda policy: built.append(policy) or original(policy))
    other = Problem(prompt='def double(x: int) -> int:\n    """Twice x.\n    >>> double(2)\n    4\n    """\n',
                    entry_point="double", test="def check(c):\n    assert c(3) == 6\n", task_id="double")
    llm = FakeLLM([[GOOD], ["```python\ndef double(x):\n    return 2 * x\n```"]])
    solver = Solver(llm, sandbox, SolverConfig(), "qwen2.5-coder")
    median = Problem(prompt=PROMPT, entry_point="median", test=TEST, task_id="median")

    async def both():
        return await asyncio.gather(solver.solve(median, Tracer(task="median")), solver.solve(other, Tracer(task="d")))

    first, second = asyncio.run(both())
    assert built == ["repair"] and first.solved and second.solved
    assert first.task_id == "median" and second.rounds[0].task_id == "double"


def test_nodes_return_updates_and_never_change_their_input(sandbox):
    from langgraph.runtime import Runtime

    from agent.context import RunContext
    from agent.policies.repair import evaluate, feedback
    from agent.state import Candidate, Draft, Usage

    problem = Problem(prompt=PROMPT, entry_point="median", test=TEST, task_id="median")
    runtime = Runtime(context=RunContext(problem=problem, llm=FakeLLM([]), sandbox=sandbox, config=SolverConfig(),
                                         tracer=Tracer(), family="qwen2.5-coder"))
    tests = ["assert median([3, 1, 2]) == 2", "assert median([4, 1, 2, 3]) == 2.5"]
    bad = Candidate(completion="\n    return sorted(xs)[len(xs) // 2]\n", raw=BAD)
    state = {"round": 0, "feedback_tests": tests, "visible_tests": tests, "rounds": [], "tried": [],
             "usage": Usage(completion_tokens=10), "draft": Draft(round=0, action="generate", candidates=[bad])}
    before = json.dumps(state, default=lambda o: o.model_dump(mode="json"))
    update = asyncio.run(evaluate(state, runtime))
    assert json.dumps(state, default=lambda o: o.model_dump(mode="json")) == before
    assert bad.verdict is None and update["best"].passed == 1 and update["rounds"][0].completion_tokens == 10
    state = {**state, **{k: v for k, v in update.items() if k not in ("rounds", "tried", "visible")},
             "rounds": update["rounds"], "tried": update["tried"]}
    before = json.dumps(state, default=lambda o: o.model_dump(mode="json"))
    update = asyncio.run(feedback(state, runtime))
    assert json.dumps(state, default=lambda o: o.model_dump(mode="json")) == before
    assert update["round"] == 1 and "expected 2.5" in update["messages"][-1]["content"]


def test_greedy_bench_samples_share_one_reply(sandbox):
    """At temperature 0 every sample's round-0 reply is the same greedy one: it is asked
    for once (vLLM refuses n > 1 without sampling), and its tokens are split, not repeated."""
    llm = FakeLLM([[GOOD]])
    problem = Problem(prompt=PROMPT, entry_point="median", test=TEST, task_id="median")
    solver = Solver(llm, sandbox, SolverConfig(temperature=0.0, rounds=1), "qwen2.5-coder")
    results = []

    async def collect(result):
        results.append(result)

    asyncio.run(solver.solve_samples(problem, [0, 1, 2], collect))
    assert len(llm.requests) == 1 and llm.requests[0]["n"] == 1 and llm.requests[0]["temperature"] == 0.0
    assert sorted(r.sample for r in results) == [0, 1, 2]
    assert all(r.rounds[0].visible_passed for r in results)
    assert sum(r.rounds[0].completion_tokens for r in results) == 10
