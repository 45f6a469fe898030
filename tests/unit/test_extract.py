"""Code extraction and indentation repair on real, messy model replies."""

from agent.extract import extract_completion, normalized, repair_indentation, strip_thinking

PROMPT = 'from typing import List\n\n\ndef below_zero(operations: List[int]) -> bool:\n    """Whether the balance ever goes below zero."""\n'


def program(reply: str) -> str:
    return PROMPT + extract_completion(reply, PROMPT, "below_zero")


def runs(reply: str) -> bool:
    namespace: dict = {}
    exec(program(reply), namespace)
    return namespace["below_zero"]([1, -2]) is True and namespace["below_zero"]([1, 2]) is False


def test_fenced_full_function_with_prose_around():
    reply = ("Here is the implementation:\n\n```python\nfrom typing import List\n\ndef below_zero(operations: List[int]) -> bool:\n"
             "    balance = 0\n    for op in operations:\n        balance += op\n        if balance < 0:\n            return True\n"
             "    return False\n```\n\nThis function iterates over the operations.")
    assert runs(reply)


def test_the_block_that_defines_the_function_wins():
    reply = ("```python\nprint(below_zero([1, -2]))\n```\nand the code:\n```python\ndef below_zero(operations):\n"
             "    return min(__import__('itertools').accumulate(operations), default=0) < 0\n```")
    assert runs(reply)


def test_body_only_answer_flush_left():
    reply = "balance = 0\nfor op in operations:\n    balance += op\n    if balance < 0:\n        return True\nreturn False"
    assert runs(reply)


def test_body_with_only_the_first_line_flush_left():
    reply = "balance = 0\n    for op in operations:\n        balance += op\n        if balance < 0:\n            return True\n    return False\n"
    assert runs(reply)


def test_missing_imports_come_from_the_prompt():
    reply = "```python\ndef below_zero(operations: List[int]) -> bool:\n    return any(sum(operations[:i + 1]) < 0 for i in range(len(operations)))\n```"
    assert runs(reply)


def test_unclosed_fence_and_trailing_prose():
    reply = "```python\ndef below_zero(operations):\n    s = 0\n    for o in operations:\n        s += o\n        if s < 0:\n            return True\n    return False\n\nThis works because"
    assert runs(reply)


def test_qwen3_thinking_is_stripped():
    reply = "<think>\nLet me think about `def below_zero(x): return 1`\n</think>\n\n```python\ndef below_zero(operations):\n    t = 0\n    for o in operations:\n        t += o\n        if t < 0:\n            return True\n    return False\n```"
    assert strip_thinking("<think>a</think>b") == "b" and strip_thinking("x<think>never closed") == "x"
    assert runs(reply)


def test_repair_indentation_leaves_good_code_alone():
    body = "    return True\n"
    assert repair_indentation("def f():\n", body) == body


def test_normalized_ignores_comments_docstrings_and_layout():
    a = '\ndef f(x):\n    """doc"""\n    # comment\n    return x+1\n'
    b = "\ndef f(x):\n    return x + 1\n"
    assert normalized(a) == normalized(b) and normalized(a) != normalized("\ndef f(x):\n    return x + 2\n")


def test_the_final_program_shows_the_function_once():
    from agent.extract import readable_program

    prompt = 'from typing import List\n\n\ndef helper(x):\n    return x\n\n\ndef f(xs: List[int]) -> int:\n    """Sum."""\n'
    module = "from typing import List\n\ndef f(xs: List[int]) -> int:\n    return sum(xs)\n"
    shown = readable_program(prompt, module, "f")
    assert shown.count("def f(") == 1 and "def helper(x)" in shown and shown.endswith(module)
    assert shown.count("from typing import List") == 1
    body = "    return sum(xs)\n"
    assert readable_program(prompt, body, "f") == prompt + body
