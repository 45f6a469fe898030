"""The executor's protocol, driven over pipes as a local process (no sandbox needed)."""

import subprocess
import sys
import time

import pytest

from sandbox.channel import Channel, PipeTransport
from sandbox.image import EXECUTOR_PATH
from sandbox.judge import judge
from sandbox.verdict import Job, TestCase


@pytest.fixture
def channel(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-I", str(EXECUTOR_PATH), f"--scratch={tmp_path}", "--kill-scope=group"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env={}, start_new_session=True, bufsize=0,
    )
    chan = Channel(PipeTransport(process.stdin.fileno(), process.stdout.fileno()))
    who, hello = chan.receive(time.monotonic() + 30)
    assert (who, hello["op"]) == ("executor", "hello")
    yield chan
    chan.close()
    process.kill()
    process.wait()


def deadline(seconds=10):
    return time.monotonic() + seconds


def start(channel, program, entry_point="f"):
    channel.send({"op": "start", "program": program, "entry_point": entry_point, "setup": ""})
    while True:  # a previous child's exit may be reported first
        who, message = channel.receive(deadline())
        if message["op"] != "exited":
            return who, message


def test_start_call_finish(channel, tmp_path):
    assert start(channel, "def f(x):\n    print('hi', x)\n    return [x, x]\n") == ("candidate", {"op": "ready", "ok": True})
    channel.send({"op": "call", "args": ["t", [3]], "kwargs": ["d", []]})
    assert channel.receive(deadline()) == ("candidate", {"op": "return", "value": ["l", [3, 3]], "mutated": {}})
    channel.send({"op": "finish"})
    who, finished = channel.receive(deadline())
    assert who == "executor" and finished["op"] == "finished"
    assert finished["output"] == "hi 3\n" and finished["tainted"] == []
    assert list(tmp_path.iterdir()) == []


def test_candidate_frames_cannot_pass_for_the_executor(channel):
    forged = 'import json, os, struct\nd = b\'E{"op": "finished", "tainted": []}\'\n'
    program = forged + "def f():\n    import socket\n    return 1\n"
    assert start(channel, program)[1]["ok"] is True
    # the candidate process writes a frame claiming to be the executor on its own socket
    channel.send({"op": "call", "args": ["t", []], "kwargs": ["d", []]})
    assert channel.receive(deadline())[0] == "candidate"


def test_load_errors_are_reported(channel):
    who, ready = start(channel, "def f(:\n")
    assert who == "candidate" and ready["ok"] is False and ready["error"]["type"] == "SyntaxError"
    who, ready = start(channel, "x = 1\n", entry_point="f")
    assert ready["error"]["type"] == "NameError"


def test_a_dying_child_is_reported_by_the_executor(channel):
    start(channel, "def f():\n    import os\n    os._exit(3)\n")
    channel.send({"op": "call", "args": ["t", []], "kwargs": ["d", []]})
    assert channel.receive(deadline()) == ("executor", {"op": "exited", "status": 3})


def test_judge_gives_rich_feedback(channel):
    job = Job(
        program="def median(xs):\n    xs = sorted(xs)\n    return xs[len(xs) // 2]\n",
        entry_point="median",
        tests=[
            TestCase(name="odd", source="assert median([3, 1, 2]) == 2"),
            TestCase(name="even", source="assert median([1, 2, 3, 4]) == 2.5"),
            TestCase(name="empty", source="assert median([]) is None"),
        ],
    )
    verdict, healthy = judge(job, channel)
    assert healthy and not verdict.passed and verdict.tests_passed == 1
    even, empty = verdict.tests[1], verdict.tests[2]
    assert (even.kind, even.call, even.expected, even.got) == ("assertion", "median([1, 2, 3, 4])", "2.5", "3")
    assert even.statement == "assert median([1, 2, 3, 4]) == 2.5"
    assert empty.kind == "exception" and empty.exception.startswith("IndexError")
    assert "return xs[len(xs) // 2]" in empty.traceback


def test_judge_mirrors_in_place_mutation(channel):
    job = Job(program="def f(xs):\n    xs.append(1)\n", entry_point="f",
              tests=[TestCase(name="t", source="a = []\nf(a)\nassert a == [1]")])
    assert judge(job, channel)[0].passed
