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
    chan = Channel(PipeTransport(process.stdin, process.stdout))
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


def test_large_replies_are_decoded_out_of_process(channel):
    """A reply over the channel's inline limit takes the worker path and compares the same."""
    job = Job(program="def f(n):\n    return [{'k': i} for i in range(n)]\n", entry_point="f",
              tests=[TestCase(name="t", source="assert f(50000) == [{'k': i} for i in range(50000)]"),
                     TestCase(name="u", source="assert f(50000) == []")])
    verdict, healthy = judge(job, channel)
    assert healthy and verdict.tests[0].passed and not verdict.tests[1].passed
    assert verdict.tests[1].got.startswith("[{'k': 0}, {'k': 1}") and len(verdict.tests[1].got) <= 400


def test_hash_colliding_replies_fail_the_sample_quickly(channel):
    program = ("def f():\n    import json, os, socket, struct\n"
               "    value = ['s', [['I', hex(k * (2**61 - 1) + 1)] for k in range(40000)]]\n"
               "    data = json.dumps({'op': 'return', 'value': value, 'mutated': {}}).encode()\n"
               "    for fd in sorted(int(n) for n in os.listdir('/proc/self/fd') if int(n) > 2):\n"
               "        try:\n            s = socket.socket(fileno=os.dup(fd))\n        except OSError:\n            continue\n"
               "        if s.family == socket.AF_UNIX:\n            s.sendall(struct.pack('>I', len(data)) + data)\n"
               "        s.close()\n    os._exit(0)\n")
    job = Job(program=program, entry_point="f", tests=[TestCase(name="t", source="assert f() == set()")])
    verdict, _ = judge(job, channel)
    assert verdict.tests[0].kind == "invalid_value" and "share one hash" in verdict.tests[0].message
    assert verdict.duration < 2


def test_a_channel_whose_descriptor_was_closed_counts_as_closed():
    """An idle executor's transport closed under it (descriptor -1) is a closed channel, not
    a crash of the pool that peeks at it (found by benchmarks/selection_offline.py)."""
    import socket

    from sandbox.channel import DockerAttachTransport

    mine, theirs = socket.socketpair()
    chan = Channel(DockerAttachTransport(mine))
    mine.close()  # fileno() is now -1
    assert chan.peek_closed() and chan.closed
    theirs.close()


def test_the_trusted_sides_child_decodes_large_replies_itself(monkeypatch):
    """INLINE (set in a judge executor's child): the same decoding, under the deadline, with no worker."""
    import json as _json
    import time as _time

    from sandbox import offload
    from sandbox.executor import encode

    monkeypatch.setattr(offload, "INLINE", True)
    started = set(offload._everyone)
    payload = _json.dumps({"op": "return", "value": encode(list(range(50000))), "mutated": {}}).encode()
    reply = offload.decode_large_reply(payload, _time.monotonic() + 5)
    assert reply["value"].value == list(range(50000)) and set(offload._everyone) == started
    with pytest.raises(offload.DecodeTimeout):
        offload.decode_large_reply(payload, _time.monotonic() - 1)
