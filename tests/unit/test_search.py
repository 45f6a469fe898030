"""The search policy's parts: inputs and their mutations, behaviour clustering and the
choice among clusters, and the policy's loop with a scripted model (the sandbox is the
real process backend)."""

from __future__ import annotations

import ast
import asyncio

import pytest

from agent.config import SolverConfig
from agent.consensus import Behaviour, select
from agent.graph import build_graph
from agent.prefill import answer_prefix
from agent.inputs import (TestInput, claimed_value, fits, gather_inputs, literal_calls, matches, mutations,
                          signature_of, signature_values)
from agent.solver import Solver
from agent.trace import Tracer
from eval.problems import Problem
from sandbox import SandboxConfig, open_sandbox
from sandbox.judge import behaviour_digest
from tests.unit.test_controller import PROMPT, TEST, FakeLLM

# ------------------------------------------------------------------ inputs


def test_literal_calls_and_claims_are_read_from_asserts():
    assert literal_calls("assert abs(f([1, 2], 0.5) - 1.0) < 1e-6", "f") == [(([1, 2], 0.5), "f([1, 2], 0.5)")]
    assert literal_calls("assert f(x) == 1", "f") == []  # not a literal argument
    assert literal_calls("assert g(1) == 1", "f") == []
    assert claimed_value("assert f(3) == [1, 2]", "f") == "[1, 2]"
    assert claimed_value("assert [1] == f(3)", "f") == "[1]"
    assert claimed_value("assert f(3)", "f") is None
    assert claimed_value("assert f(3) == g(2)", "f") is None


def annotation(text):
    return ast.parse(text, mode="eval").body


@pytest.mark.parametrize("value, text, expected", [
    ([1, 2], "List[int]", True), ([1, "a"], "List[int]", False), (3, "float", True), (True, "int", False),
    (None, "Optional[str]", True), ("a", "Optional[str]", True), (1, "Optional[str]", False),
    ((1, "a"), "Tuple[int, str]", True), ((1, 2, 3), "Tuple[int, ...]", True), ((1,), "Tuple[int, str]", False),
    ({"a": 1}, "Dict[str, int]", True), ({1: 1}, "Dict[str, int]", False), (1.5, "int | float", True),
    ("x", "typing.List[str]", False), (object, "SomethingElse", True), ([[1]], "list[list[int]]", True),
])
def test_annotations_are_read(value, text, expected):
    assert matches(value, annotation(text)) is expected


def test_inputs_that_do_not_fit_the_signature_are_dropped():
    parameters = signature_of("def f(a: int, b: str = 'x') -> int:\n    pass\n", "f")
    assert fits((1,), parameters) and fits((1, "y"), parameters)
    assert not fits((), parameters) and not fits((1, "y", 3), parameters) and not fits(("1",), parameters)


def test_mutations_are_deterministic_varied_and_new():
    examples = [([3, 1, 2],), ([4, 1, 2, 3],)]
    first, again = mutations(examples, "seed", 12), mutations(examples, "seed", 12)
    assert first == again and len(first) == 12
    assert len(set(map(repr, first))) == 12 and not set(map(repr, first)) & set(map(repr, examples))
    assert ([],) in first  # the empty list is the first edge every list meets
    assert mutations(examples, "other seed", 12) != first  # another seed, another draw
    assert all(isinstance(values[0], list) for values in first)


def test_numbers_and_strings_get_their_neighbours():
    made = {values for values in mutations([(5, "ab")], "s", 40)}
    assert (6, "ab") in made and (4, "ab") in made and (0, "ab") in made
    assert (5, "") in made and (5, "ba") in made and (5, "AB") in made


def test_prompts_without_examples_start_from_the_signature():
    rows = signature_values(signature_of("def f(xs: List[int], k: int) -> int:\n    pass\n", "f"), 5)
    assert len(rows) == 5 and all(isinstance(r[0], list) and isinstance(r[1], int) for r in rows)


def test_gather_keeps_examples_mutations_and_model_inputs_apart():
    examples = ["assert median([3, 1, 2]) == 2", "assert median([4, 1, 2, 3]) == 2.5"]
    model = ["assert median([1]) == 1", "assert median('no') == 1", "assert median([7, 7])", "import os"]
    inputs = gather_inputs(PROMPT, "median", examples, model, 6)
    sources = [i.source for i in inputs]
    assert sources == ["example"] * 2 + ["mutation"] * 6 + ["model"] * 2
    claimed = [i for i in inputs if i.source == "model"]
    assert claimed[0].claimed == "1" and claimed[0].test == model[0]
    assert claimed[1].claimed is None and claimed[1].test == "median([7, 7])"  # its input only
    assert all(i.test != "median('no')" for i in inputs)  # `xs: list` refuses a string


# ------------------------------------------------------------------ behaviour and selection


def test_behaviour_digest_sees_values_as_a_test_would():
    assert behaviour_digest({3, 1, 2}) == behaviour_digest({1, 2, 3})
    assert behaviour_digest({"a": 1, "b": 2}) == behaviour_digest({"b": 2, "a": 1})
    assert behaviour_digest(0.1 + 0.2) == behaviour_digest(0.3)
    assert behaviour_digest([1, 2]) != behaviour_digest((1, 2))
    assert behaviour_digest("1") != behaviour_digest(1) != behaviour_digest(True)
    assert behaviour_digest(["ab", "c"]) != behaviour_digest(["a", "bc"])


def inputs_of(examples: int, made: int, claims: int = 0) -> list[TestInput]:
    return ([TestInput(source="example", test=f"assert f({i}) == {i}", call=f"f({i})") for i in range(examples)]
            + [TestInput(source="mutation", test=f"f({i})", call=f"f({i})") for i in range(made)]
            + [TestInput(source="model", test=f"assert f({i}) == 0", call=f"f({i})", claimed="0")
               for i in range(claims)])


def behaviour(outcomes: str, passed: str | None = None) -> Behaviour:
    """One character per input: a letter is a value, `!` an exception; `passed` marks tests that held."""
    return Behaviour(outcomes=["!ValueError" if o == "!" else "=" + o for o in outcomes],
                     passed=[p == "1" for p in (passed or "1" * len(outcomes))])


def test_the_examples_veto_a_larger_wrong_cluster():
    inputs = inputs_of(2, 3)
    wrong = behaviour("abxxx", "01111")
    right = behaviour("abyyy", "11111")
    selection = select(inputs, [wrong, wrong, wrong, right, right])
    assert selection.chosen == 3 and selection.leader.size == 2 and selection.reason == "examples"
    assert [c.survives for c in selection.clusters] == [True, False]
    assert selection.dominant  # 2 members, no other survivor: margin 2 reached


def test_agreement_decides_among_survivors_and_near_misses_vote():
    inputs = inputs_of(1, 4)
    a, a_near, b = behaviour("aaaaa"), behaviour("aaaab"), behaviour("abbbb")
    selection = select(inputs, [b, a, a_near, b])
    # each candidate votes for a cluster by the share of the 5 inputs it agrees on: a's near
    # miss gives a 0.8, b's members 0.2 each (the first input); b's members give each other 1
    # and the near miss 0.4 each
    support = {tuple(c.members): c.support for c in selection.clusters}
    assert support == {(0, 3): 2.6, (2,): 2.6, (1,): 2.2}
    assert selection.clusters[0].members == [0, 3]  # a tie in score goes to the larger cluster
    two_b = select(inputs, [b, a, b])
    assert two_b.chosen == 0 and not two_b.dominant  # 2 against 1: not a lead of 2


def test_model_claims_are_votes_that_break_ties():
    inputs = inputs_of(0, 2, claims=2)
    says_zero = behaviour("xy00", "1111")
    other = behaviour("xyzz", "1100")
    selection = select(inputs, [other, says_zero])
    assert selection.chosen == 1 and selection.leader.agreed == 2
    assert selection.reason == "agreement (no examples)"


def test_wrong_or_failed_examples_fall_back_to_agreement():
    inputs = inputs_of(2, 2)
    one = behaviour("abcd", "1011")
    two = behaviour("abce", "0111")
    selection = select(inputs, [one, two, two])
    assert selection.chosen == 1 and not selection.dominant
    assert selection.reason == "agreement among those passing 1 of 2 examples"


def test_broken_candidates_never_win_and_dead_inputs_are_dropped():
    inputs = inputs_of(0, 3)
    broken = Behaviour(outcomes=["load SyntaxError"] * 3, passed=[False] * 3)
    works = Behaviour(outcomes=["=a", "=b", "!TypeError"], passed=[True, True, False])
    selection = select(inputs, [broken, broken, broken, works])
    assert selection.chosen == 3 and selection.clusters[-1].broken
    all_raise = Behaviour(outcomes=["=a", "=b", "!TypeError"], passed=[True, True, False])
    assert select(inputs, [works, all_raise]).kept_inputs == [0, 1]


def test_without_examples_the_greedy_cluster_stays_unless_beaten_by_the_margin():
    inputs = inputs_of(0, 3)
    greedy, other = behaviour("abc"), behaviour("abd")
    one_more = select(inputs, [greedy, other, other], margin=2, prior=0)
    assert one_more.chosen == 0 and not one_more.dominant and one_more.reason.startswith("the greedy answer")
    assert select(inputs, [greedy, other, other], margin=2).chosen == 1  # without the prior, the plain majority
    beaten = select(inputs, [greedy, other, other, other], margin=2, prior=0)
    assert beaten.chosen == 1 and beaten.reason == "agreement (no examples)"
    with_examples = inputs_of(1, 2)  # examples decide as before: the prior is for the blind case only
    assert select(with_examples, [behaviour("abc"), behaviour("abd"), behaviour("abd")], prior=0).chosen == 1


def test_the_counterexample_is_where_leader_and_rival_differ():
    inputs = inputs_of(1, 3)
    leader, rival = behaviour("aabc"), behaviour("aabd")
    selection = select(inputs, [leader, leader, rival])
    assert selection.counterexample == 3 and inputs[3].call == "f(2)"


# ------------------------------------------------------------------ the policy, scripted

GOOD = "```python\ndef median(xs):\n    s = sorted(xs)\n    n = len(s)\n    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2\n```"
GOOD_TOO = "```python\ndef median(xs):\n    import statistics\n    return statistics.median(xs)\n```"
BAD = "```python\ndef median(xs):\n    return sorted(xs)[len(xs) // 2]\n```"
TESTS = "```python\nassert median([1]) == 1\nassert median([1, 3]) == 2\n```"


@pytest.fixture(scope="module")
def sandbox():
    with open_sandbox(SandboxConfig(backend="process", workers=2), say=lambda m: None) as box:
        yield box


def search(sandbox, script, prompt=PROMPT, **config):
    llm, tracer = FakeLLM(script), Tracer(task="median")
    problem = Problem(prompt=prompt, entry_point="median", test=TEST, task_id="median")
    settings = {"policy": "search", "candidates": 3, "rounds": 3, "prefill": False, **config}
    result = asyncio.run(Solver(llm, sandbox, SolverConfig(**settings), "qwen2.5-coder").solve(problem, tracer))
    return result, llm, tracer


def test_search_stops_on_consensus(sandbox):
    result, llm, tracer = search(sandbox, [[TESTS], [GOOD, GOOD_TOO, BAD]])
    assert result.solved and result.stop_reason == "consensus" and len(result.rounds) == 1
    record = result.rounds[0]
    assert record.action == "sample" and record.candidates == 3 and record.cluster_size == 2
    assert record.selected_by == "examples" and record.drawn_passed == 2 and len(record.drawn) == 3
    assert llm.requests[1]["n"] == 3 and llm.requests[1]["temperature"] == 0.8
    inputs = next(e for e in tracer.events if e.kind == "inputs").inputs
    assert {i["source"] for i in inputs} == {"example", "mutation", "model"}
    observed = next(e for e in tracer.events if e.node == "observe")
    assert observed.reason == "examples" and len(observed.clusters) == 2


def test_search_repairs_on_a_counterexample_then_widens(sandbox):
    result, llm, _ = search(sandbox, [[TESTS], [BAD, BAD, BAD], [GOOD, BAD, BAD], [GOOD]], consensus_margin=3)
    assert [r.action for r in result.rounds[:2]] == ["sample", "sample+repair"]
    repair = llm.requests[3]["messages"][-1]["content"]
    assert "median([4, 1, 2, 3])" in repair and "expected 2.5" in repair and "got 3" in repair
    assert llm.requests[3]["messages"][-2]["content"] == BAD
    assert result.rounds[0].hidden_passed is False and result.rounds[1].hidden_passed is True
    assert result.rounds[1].visible_passed and result.rounds[1].selected_by == "examples"


def test_search_keeps_within_its_token_budget(sandbox):
    # each reply costs 10 tokens; the model's tests 10, then 3 replies, then 3 and a repair (the
    # answer fails an example): 40, 80; a budget of 85 has no room for a third batch
    result, llm, _ = search(sandbox, [[TESTS]] + [[BAD, BAD, BAD], [BAD]] * 5, token_budget=85, rounds=8)
    assert len(result.rounds) == 2 and result.stop_reason == "token budget: another batch would overrun it"
    assert result.usage.completion_tokens == 80


def test_search_without_model_tests_asks_nothing_extra(sandbox):
    result, llm, _ = search(sandbox, [[GOOD, GOOD, GOOD]], propose_tests=False)
    assert result.solved and len(llm.requests) == 1


def test_greedy_first_adds_the_greedy_answer_first_to_the_first_batch(sandbox):
    result, llm, _ = search(sandbox, [[TESTS], [GOOD], [BAD, GOOD_TOO, BAD], [GOOD, GOOD, GOOD]], greedy_first=True)
    greedy, sampled = llm.requests[1], llm.requests[2]
    assert (greedy["n"], greedy["temperature"]) == (1, 0.0) and (sampled["n"], sampled["temperature"]) == (3, 0.8)
    first = result.rounds[0]
    assert first.candidates == 4 and first.drawn[0].strip().endswith("(s[n // 2 - 1] + s[n // 2]) / 2")  # GOOD
    assert result.solved and first.cluster_size == 2
    # later batches are sampled only
    assert all(r["temperature"] == 0.8 for r in llm.requests[3:])


BLIND_PROMPT = 'def median(xs: list) -> float:\n    """Median of xs."""\n'


@pytest.mark.parametrize("config, blind, shown", [
    ({}, 0.4, 0.8), ({"blind_temperature": 0.6, "search_temperature": 1.0}, 0.6, 1.0)])
def test_a_prompt_without_examples_is_sampled_at_the_blind_temperature(sandbox, config, blind, shown):
    script = [[TESTS], [BAD, GOOD_TOO, GOOD], [GOOD, GOOD, GOOD]]
    result, llm, _ = search(sandbox, script, prompt=BLIND_PROMPT, **config)
    assert [r["temperature"] for r in llm.requests[1:]] == [blind, blind]  # two batches, no example to repair with
    assert result.solved
    _, llm, _ = search(sandbox, script, **config)  # the same problem showing its examples
    assert llm.requests[1]["temperature"] == shown


BODY_GOOD = "    s = sorted(xs)\n    n = len(s)\n    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2"
BODY_BAD = "    return sorted(xs)[len(xs) // 2]"


def test_prefilled_answers_are_bodies_after_the_prompt(sandbox):
    # the server continues the answer begun with the prompt's code and stops where the block closes
    tests = "median([1]) == 1\nassert median([1, 3]) == 2"
    result, llm, tracer = search(sandbox, [[tests], [BODY_GOOD, BODY_GOOD, BODY_BAD]], prefill=True)
    proposal, draw = llm.requests
    assert proposal["messages"][-1] == {"role": "assistant", "content": "```python\nassert "}
    assert draw["messages"][-1] == {"role": "assistant", "content": "```python\n" + PROMPT}
    for request in (proposal, draw):
        assert request["extra_body"] == {"continue_final_message": True, "add_generation_prompt": False}
        assert request["stop"] == ["\n```"]
    assert result.solved and result.stop_reason == "consensus" and result.rounds[0].cluster_size == 2
    assert result.rounds[0].drawn[0].endswith(BODY_GOOD + "\n") and '"""Median of xs.' in result.rounds[0].drawn[0]
    inputs = next(e for e in tracer.events if e.kind == "inputs")
    assert inputs.proposed == ["assert median([1]) == 1", "assert median([1, 3]) == 2"]
    assert next(e for e in tracer.events if e.node == "draw").replies[0] == BODY_GOOD  # traced as the model wrote it


@pytest.mark.parametrize("prompt", [
    '"""Write a function median.\nassert median([1, 2, 3]) == 2\n"""\n',  # MBPP+: a module docstring, no def
    "Return the median of a list of numbers.",  # prose
    'def median(xs):\n    """Median."""\n    xs = sorted(xs)\n',  # a body already begun
    'def helper():\n    """Help."""\n',  # ends in another function
])
def test_prompts_that_do_not_end_in_the_signature_are_not_prefilled(prompt):
    assert answer_prefix(prompt, "median") is None


def test_search_refuses_hidden_feedback():
    with pytest.raises(ValueError, match=r"hidden-test feedback \(the oracle mode\) is for the repair and react policies"):
        SolverConfig(policy="search", feedback="hidden")


def test_search_graph_shape():
    drawable = build_graph("search").get_graph()
    assert sorted((e.source, e.target, e.conditional) for e in drawable.edges) == [
        ("__start__", "prepare", False), ("draw", "observe", False), ("finish", "__end__", False),
        ("observe", "draw", True), ("observe", "finish", True), ("prepare", "draw", False)]


# ------------------------------------------------------------------ what the report says


def record(task: str, round_: int, drawn: int, passing: int, hidden: bool, final: bool = False, **extra):
    from eval.records import RoundRecord

    return RoundRecord(task_id=task, round=round_, completion="x", action="sample", drawn=["c"] * drawn,
                       drawn_passed=passing, hidden_passed=hidden, final=final, seconds=2.0, judge_seconds=0.5,
                       selected_by=extra.pop("selected_by", "examples"), **extra)


def test_within_reach_counts_problems_whose_samples_held_a_correct_answer():
    from eval.report import any_drawn_passes, search_summary

    lines = [record("a", 0, 4, 0, False), record("a", 1, 4, 1, False, final=True),  # reached, not chosen
             record("b", 0, 4, 2, True, final=True),
             record("c", 0, 4, 0, False), record("c", 1, 4, 0, False, final=True, selected_by="agreement")]
    assert any_drawn_passes(lines, {"a", "b", "c"}, 2) == {"0": 0.3333, "1": 0.6667, "2": 0.6667}
    summary = search_summary(lines, {"a", "b", "c"}, 2, {"c"})
    assert summary.any_drawn_passes_held_out == {"0": 0.0, "1": 0.0, "2": 0.0}
    assert summary.candidates_per_problem == 6.67 and summary.judge_seconds_per_problem == 0.833
    assert summary.generation_seconds_per_problem == 2.5
    assert summary.selected_by == {"examples": 2, "agreement": 1}
    assert search_summary([r.model_copy(update={"drawn": []}) for r in lines], {"a"}, 2, None) is None


def test_react_validity_is_the_share_of_steps_whose_call_ran():
    from eval.records import RoundRecord
    from eval.report import react_validity

    steps = [RoundRecord(task_id="t", round=i, completion="", action="react", tool=tool, observation=seen)
             for i, (tool, seen) in enumerate([("run_tests", "1 of 2 tests pass."), ("submit", "submitted"),
                                               (None, "Invalid tool call: no tool call."),
                                               ("run_tests", "Invalid tool call: the arguments need ...")])]
    assert react_validity(steps) == 0.5 and react_validity([]) is None
