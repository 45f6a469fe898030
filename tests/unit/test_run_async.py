"""SIGTERM stops async work as Ctrl-C does: by cancelling it, so that its clean-up runs
wherever the signal lands; the process then exits 143, and its own handler is back."""

from __future__ import annotations

import asyncio
import os
import signal
import threading

import pytest

from agent.cli.app import run_async

pytestmark = pytest.mark.unit


def test_sigterm_cancels_the_work_and_runs_its_clean_up():
    events: list[str] = []

    async def work() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            events.append("cancelled")
            await asyncio.sleep(0.05)  # clean-up may still await
            events.append("cleaned up")
            raise

    def ours(signum, frame):
        raise AssertionError("the signal reached the old handler")

    previous = signal.signal(signal.SIGTERM, ours)
    try:
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM)).start()
        with pytest.raises(SystemExit) as stopped:
            run_async(work())
        assert stopped.value.code == 128 + signal.SIGTERM
        assert events == ["cancelled", "cleaned up"]
        assert signal.getsignal(signal.SIGTERM) is ours
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_work_that_finishes_returns_its_value():
    async def work() -> int:
        return 7

    assert run_async(work()) == 7
