"""The trusted side of the verdict protocol.

The tests run here, outside the candidate's sandbox. Inside them `candidate` (and the
entry point's own name) is a proxy: each call crosses to the candidate process as
plain builtins and comes back decoded into fresh builtins, so nothing the candidate
defines takes part in a comparison. A pass is decided only here.
"""

from __future__ import annotations

import ast
import builtins
import functools
import hashlib
import time
from dataclasses import dataclass, field

from sandbox.channel import Channel, ChannelClosed, ChannelTimeout, TransportLost
from sandbox.executor import MAX_FRAME, CodecError, DecodeTimeout, FrameError, _Budget, encode, pack
from sandbox.offload import decode_large_reply, decode_return
from sandbox.pycompile import compile_code, compile_node, parse
from sandbox.verdict import ErrorKind, Job, TestResult, Verdict

REPR_LIMIT = 400
TRACEBACK_LIMIT = 4000
FINISH_GRACE = 5.0


class Abort(BaseException):
    """Ends a test for a reason the test code must not be able to swallow."""

    kind: ErrorKind = "crash"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CandidateTimeout(Abort):
    kind = "timeout"


class CandidateCrashed(Abort):
    kind = "crash"


class InvalidValue(Abort):
    kind = "invalid_value"


class HostLost(Abort):
    """This process lost the candidate's channel: no verdict at all (`judge` raises
    TransportLost, and the job runs again), whatever the test did with the abort."""

    kind = "sandbox"


class CandidateError(Exception):
    """Stands for an exception of a type the candidate defined."""


def _short(text: str, limit: int = REPR_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 15] + f"... [{len(text) - limit + 15} more]"


def _safe_repr(value, limit: int = REPR_LIMIT) -> str:
    """repr() cut to `limit` characters, built without materialising more: a value the
    candidate returned may be megabytes, and a huge int's decimal form costs quadratic time."""
    parts: list[str] = []
    try:
        _bounded_repr(value, parts, [limit + 1])
    except _Enough:
        pass
    except Exception:  # noqa: BLE001 - a pathological but trusted value
        return "<unrepresentable>"
    return _short("".join(parts), limit)


class _Enough(Exception):
    """The repr being built has reached its limit."""


_BIG_INT_BITS = 4096  # about 1,233 decimal digits: shown by size, not digit by digit
_OPEN = {list: ("[", "]"), tuple: ("(", ")"), set: ("{", "}"), frozenset: ("frozenset({", "})"), dict: ("{", "}")}


def _bounded_repr(value, parts: list[str], left: list[int]) -> None:
    def put(text: str) -> None:
        parts.append(text[: left[0]])
        left[0] -= len(text)
        if left[0] <= 0:
            raise _Enough

    kind = type(value)
    if kind is int and value.bit_length() > _BIG_INT_BITS:
        put(f"<int of {value.bit_length()} bits>")
    elif kind in (str, bytes):
        text = repr(value[: left[0]])
        put(text if len(value) <= left[0] else text + "...")
    elif kind in _OPEN and (kind is not set or value) and (kind is not frozenset or value):
        opening, closing = _OPEN[kind]
        put(opening)
        items = value.items() if kind is dict else value
        for index, item in enumerate(items):
            if index:
                put(", ")
            if kind is dict:
                _bounded_repr(item[0], parts, left)
                put(": ")
                _bounded_repr(item[1], parts, left)
            else:
                _bounded_repr(item, parts, left)
        put("," + closing if kind is tuple and len(value) == 1 else closing)
    elif kind in (int, float, complex, bool, type(None), set, frozenset):
        put(repr(value))
    else:  # a trusted object of another type (the test's own)
        put(repr(value)[: left[0]])


def _exception_text(exc: BaseException) -> str:
    """str(exc), bounded: its arguments may hold values the candidate returned."""
    args = exc.args
    if not args:
        return ""
    if len(args) == 1 and type(args[0]) is str and not isinstance(exc, KeyError):
        return _short(args[0])
    return _safe_repr(args[0] if len(args) == 1 else args)


def _text(value, limit: int) -> str:
    return _short(value, limit) if type(value) is str else ""


_SAFE_EXCEPTIONS = {
    name: cls
    for name, cls in vars(builtins).items()
    if isinstance(cls, type) and issubclass(cls, Exception) and cls.__module__ == "builtins"
}


OBSERVED_TIMEOUTS = 2  # an observe job stops calling a candidate that timed out this often


DIGEST_MAX_PARTS = 100_000  # a value with more parts is its own outcome, `too_large`, not digested


def behaviour_digest(value, deadline: float | None = None) -> str:
    """A digest of a value the candidate returned that two candidates share when their
    values are equal as a test would see them: sets and dicts in any order, floats to nine
    significant digits (a rounding difference is no different behaviour), integers of any
    size exactly. Bounded as decoding is: CodecError past DIGEST_MAX_PARTS parts,
    DecodeTimeout once `deadline` has passed."""
    digest = hashlib.sha256()
    budget = _Budget(DIGEST_MAX_PARTS, deadline)
    budget.spend(1)
    _canonical(value, digest, budget)
    return digest.hexdigest()[:20]


def _canonical(value, digest, budget: _Budget) -> None:
    kind = type(value)
    if kind is float:
        digest.update(b"f" + format(value, ".9g").encode())
    elif kind is complex:
        digest.update(b"c" + format(value.real, ".9g").encode() + b"," + format(value.imag, ".9g").encode())
    elif kind in (list, tuple):
        budget.spend(len(value))
        digest.update(b"[" if kind is list else b"(")
        for item in value:
            _canonical(item, digest, budget)
            digest.update(b",")
        digest.update(b"]")
    elif kind in (set, frozenset, dict):
        budget.spend(len(value) * (2 if kind is dict else 1))
        items = []
        for item in (value.items() if kind is dict else value):
            part = hashlib.sha256()
            if kind is dict:
                _canonical(item[0], part, budget)
                part.update(b":")
                _canonical(item[1], part, budget)
            else:
                _canonical(item, part, budget)
            items.append(part.digest())
        digest.update({set: b"{", frozenset: b"F{", dict: b"D{"}[kind])
        for item in sorted(items):
            digest.update(item)
        digest.update(b"}")
    elif kind in (str, bytes):
        data = value.encode("utf-8", "surrogatepass") if kind is str else value
        digest.update((b"s" if kind is str else b"b") + str(len(data)).encode() + b":" + data)
    elif kind is int:  # hexadecimal: linear in the size, and free of the decimal digit limit
        digest.update(b"int:" + format(value, "x").encode())
    else:  # None, bool: exact
        digest.update(kind.__name__.encode() + b":" + repr(value).encode())


@dataclass
class CallRecord:
    call: str
    got: str | None = None
    raised: str | None = None
    observed: str | None = None
    value: object = None  # values jobs: the returned value, encoded


@dataclass
class _Session:
    """One candidate process, from `start` to its death or the job's end."""

    channel: Channel
    entry_point: str
    observe: bool = False
    values: bool = False
    deadline: float = 0.0
    calls: list[CallRecord] = field(default_factory=list)
    aborted: Abort | None = None
    last_raise: tuple[BaseException, dict] | None = None

    def abort(self, error: Abort) -> Abort:
        self.aborted = error
        return error

    def receive_candidate(self) -> dict:
        """The candidate's next frame; executor frames other than exits are protocol noise."""
        while True:
            try:
                who, message = self.channel.receive(self.deadline)
            except ChannelTimeout:
                raise self.abort(CandidateTimeout("timed out")) from None
            except ChannelClosed as exc:
                raise self.abort(CandidateCrashed(f"the sandbox went away: {exc}")) from None
            except TransportLost as exc:
                raise self.abort(HostLost(str(exc))) from None
            if who == "candidate":
                if message.get("op") != "large":
                    return message
                try:
                    return decode_large_reply(message["payload"], self.deadline)
                except DecodeTimeout:
                    raise self.abort(CandidateTimeout("timed out")) from None
                except CodecError as exc:
                    raise self.abort(InvalidValue(f"the candidate returned an invalid value: {exc}")) from None
            if message.get("op") == "exited":
                status = message.get("status")
                detail = f" (status {status})" if type(status) is int else ""
                raise self.abort(CandidateCrashed(f"the candidate process exited{detail}"))

    def call(self, args: tuple, kwargs: dict):
        if self.aborted is not None:
            raise self.aborted
        shown = ", ".join([_safe_repr(a) for a in args] + [f"{k}={_safe_repr(v)}" for k, v in kwargs.items()])
        record = CallRecord(call=f"{self.entry_point}({shown})")
        self.calls.append(record)
        try:
            request = {"op": "call", "args": encode(args), "kwargs": encode(kwargs)}
        except CodecError as exc:
            raise self.abort(Abort(f"the test passed a value the sandbox cannot carry: {exc}")) from None
        try:
            self.channel.send(request)
        except FrameError:
            raise self.abort(Abort(f"the test passed a value over {MAX_FRAME >> 20} MiB")) from None
        except ChannelClosed as exc:
            raise self.abort(CandidateCrashed(f"the sandbox went away: {exc}")) from None
        except TransportLost as exc:
            raise self.abort(HostLost(str(exc))) from None
        reply = self.receive_candidate()
        op = reply.get("op")
        if op == "return":
            try:
                decoded = decode_return(reply, self.deadline)
            except DecodeTimeout:
                raise self.abort(CandidateTimeout("timed out")) from None
            except (CodecError, TypeError, ValueError) as exc:
                raise self.abort(InvalidValue(f"the candidate returned an invalid value: {exc}")) from None
            value = decoded.value
            _mirror_mutations(args, decoded.mutated)
            record.got = _safe_repr(value)
            if self.values:
                try:
                    record.value = encode(value)
                except CodecError as exc:
                    raise self.abort(InvalidValue(f"the candidate returned a value that cannot be kept: {exc}")
                                     ) from None
            if self.observe:
                try:
                    record.observed = "=" + behaviour_digest(value, self.deadline)
                except DecodeTimeout:
                    raise self.abort(CandidateTimeout("timed out")) from None
                except CodecError:
                    record.observed = "too_large"
            return value
        if op == "raise" and isinstance(reply.get("error"), dict):
            error = reply["error"]
            kind, message = _text(error.get("type"), 100), _text(error.get("message"), REPR_LIMIT)
            record.raised = f"{kind}: {message}" if message else kind
            record.observed = "!" + kind
            cls = _SAFE_EXCEPTIONS.get(kind)
            if cls is None and kind in ("SystemExit", "KeyboardInterrupt", "GeneratorExit"):
                raise self.abort(CandidateCrashed(f"the candidate raised {kind}"))
            try:
                exc = cls(message) if cls is not None else CandidateError(message)
            except Exception:  # noqa: BLE001 - constructors with other signatures
                exc = CandidateError(message)
            self.last_raise = (exc, error)
            raise exc
        if op == "invalid":
            raise self.abort(InvalidValue(_text(reply.get("message"), REPR_LIMIT) or "invalid value"))
        raise self.abort(InvalidValue(f"the candidate sent an unexpected {op!r} frame"))


def _mirror_mutations(args: tuple, mutated: dict[int, object]) -> None:
    """Applies the candidate's in-place changes to the test's own argument objects."""
    for index, value in mutated.items():
        if not 0 <= index < len(args):
            continue
        target = args[index]
        if type(target) is list and type(value) is list:
            target[:] = value
        elif type(target) is dict and type(value) is dict:
            target.clear()
            target.update(value)
        elif type(target) is set and type(value) is set:
            target.clear()
            target.update(value)


@functools.lru_cache(maxsize=4096)
def _compile(source: str, filename: str):
    return compile_code(source, filename)


@functools.lru_cache(maxsize=4096)
def _asserts(source: str) -> tuple[ast.Assert, ...]:
    return tuple(node for node in ast.walk(parse(source)) if isinstance(node, ast.Assert))


def _mentions(node: ast.AST, names: set[str]) -> bool:
    return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))


def _explain_assertion(exc: AssertionError, source: str, filename: str, names: set[str]) -> dict:
    """The failing assert's text and, where it compares, the expected value."""
    tb, frame, line = exc.__traceback__, None, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            frame, line = tb.tb_frame, tb.tb_lineno
        tb = tb.tb_next
    if frame is None:
        return {}
    node = next((n for n in _asserts(source) if n.lineno <= line <= (n.end_lineno or n.lineno)), None)
    if node is None:
        return {}
    info = {"statement": _short(ast.get_source_segment(source, node) or "")}
    test = node.test
    sides: list[ast.expr] = []
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], (ast.Eq, ast.Is)):
        sides = [test.left, test.comparators[0]]
    elif (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], (ast.Lt, ast.LtE))
          and isinstance(test.left, ast.Call) and isinstance(test.left.func, ast.Name) and test.left.func.id == "abs"
          and len(test.left.args) == 1 and isinstance(test.left.args[0], ast.BinOp)
          and isinstance(test.left.args[0].op, ast.Sub)):
        sides = [test.left.args[0].left, test.left.args[0].right]  # abs(got - expected) < tolerance
    if sides:
        plain = [s for s in sides if not _mentions(s, names)]
        if len(plain) == 1:
            try:
                expected = eval(compile_node(ast.Expression(plain[0]), filename, "eval"), frame.f_globals, frame.f_locals)
                info["expected"] = _safe_repr(expected)
            except Exception:  # noqa: BLE001 - best effort
                pass
    elif _mentions(test, names):
        info["expected"] = "a false value" if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) else "a true value"
    return info


def _start_message(job: Job) -> dict:
    return {"op": "start", "program": job.program, "entry_point": job.entry_point, "setup": job.setup}


def _start(session: _Session, job: Job) -> dict | None:
    """Starts a fresh candidate process; returns its load error, if any."""
    try:
        session.channel.send(_start_message(job))
    except ChannelClosed as exc:
        raise session.abort(CandidateCrashed(f"the sandbox went away: {exc}")) from None
    except TransportLost as exc:
        raise session.abort(HostLost(str(exc))) from None
    reply = session.receive_candidate()
    if reply.get("op") != "ready":
        raise session.abort(InvalidValue(f"the candidate sent an unexpected {reply.get('op')!r} frame"))
    if reply.get("ok") is True:
        return None
    error = reply.get("error") if isinstance(reply.get("error"), dict) else {}
    return {
        "type": _text(error.get("type"), 100) or "Exception",
        "message": _text(error.get("message"), REPR_LIMIT),
        "traceback": _text(error.get("traceback"), TRACEBACK_LIMIT),
    }


def _load_failure(name: str, error: dict, observe: bool = False) -> TestResult:
    kind: ErrorKind = "exception"
    if error["type"] in ("SyntaxError", "IndentationError", "TabError"):
        kind = "syntax"
    elif error["type"] in ("NameError", "ImportError", "ModuleNotFoundError"):
        kind = "name"
    return TestResult(
        name=name,
        passed=False,
        kind=kind,
        message=f"failed: {error['message']}",
        exception=f"{error['type']}: {error['message']}",
        traceback=error["traceback"] or None,
        observed="load " + error["type"] if observe else None,
    )


def _run_test(session: _Session, job: Job, index: int) -> TestResult:
    test = job.tests[index]
    filename = f"<test {test.name}>"
    names = {"candidate", job.entry_point}
    namespace: dict = {}
    try:
        exec(_compile(job.trusted_prelude, "<prompt>"), namespace)
    except Exception as exc:  # noqa: BLE001 - the problem's fault, not the candidate's
        message = f"failed: the problem's prompt does not run on the trusted side: {type(exc).__name__}: {exc}"
        return TestResult(name=test.name, passed=False, kind="sandbox", message=_short(message))
    proxy = _make_proxy(session)
    namespace["candidate"] = namespace[job.entry_point] = proxy
    session.calls.clear()
    session.last_raise = None
    result = TestResult(name=test.name, passed=False, kind="passed")
    try:
        exec(_compile(test.source, filename), namespace)
    except Abort as exc:
        result.kind, result.message = exc.kind, _abort_message(exc)
    except BaseException as exc:  # noqa: BLE001 - whatever the test raised is a failure
        raised = session.last_raise
        if raised is not None and raised[0] is exc:
            error = raised[1]
            message = _text(error.get("message"), REPR_LIMIT)
            result.kind, result.message = "exception", f"failed: {message}"
            result.exception = f"{_text(error.get('type'), 100)}: {message}"
            result.traceback = _text(error.get("traceback"), TRACEBACK_LIMIT) or None
        elif isinstance(exc, AssertionError):
            result.kind, result.message = "assertion", f"failed: {_exception_text(exc)}"
            info = _explain_assertion(exc, test.source, filename, names)
            result.statement, result.expected = info.get("statement"), info.get("expected")
        else:
            result.kind, result.message = "exception", f"failed: {_exception_text(exc)}"
            result.exception = f"{type(exc).__name__}: {_exception_text(exc)}"
    else:
        if session.aborted is not None:  # the test swallowed an abort with a bare except
            result.kind, result.message = session.aborted.kind, _abort_message(session.aborted)
        else:
            result.passed, result.message = True, "passed"
    if session.calls and (job.observe or not result.passed):
        last = session.calls[-1]
        result.call, result.got = last.call, last.got if last.raised is None else None
        if result.exception is None and last.raised is not None and not result.passed:
            result.exception = last.raised
    if job.values and result.passed and session.calls:
        result.value = session.calls[-1].value
    if job.observe:
        aborted = result.kind in ("timeout", "crash", "invalid_value", "sandbox")
        last_observed = session.calls[-1].observed if session.calls else None
        result.observed = result.kind if aborted or last_observed is None else last_observed
    return result


def _make_proxy(session: _Session):
    def candidate(*args, **kwargs):
        return session.call(args, kwargs)

    candidate.__name__ = candidate.__qualname__ = session.entry_point
    return candidate


def _human_eval_result(results: list[TestResult]) -> str:
    failure = next((r for r in results if not r.passed), None)
    return "passed" if failure is None else failure.message


def too_large(job: Job, duration: float = 0.0) -> Verdict:
    """The verdict of a job too large to send: every test failed, nothing run."""
    message = f"failed: program too large (over {MAX_FRAME >> 20} MiB as sent)"
    results = [TestResult(name=t.name, passed=False, kind="invalid_value", message=message,
                          observed="invalid_value" if job.observe else None) for t in job.tests]
    return Verdict(passed=False, result=message, tests=results, duration=duration)


def judge(job: Job, channel: Channel) -> tuple[Verdict, bool]:
    """Runs every test of `job` against the candidate; returns the verdict and whether
    the executor behind `channel` may serve another job (no timeout, crash or taint)."""
    started = time.monotonic()
    try:  # checked before anything is sent: then `_start` cannot meet an oversized frame
        pack(_start_message(job))
    except FrameError:
        return too_large(job, time.monotonic() - started), True
    results: list[TestResult] = []
    session: _Session | None = None
    load_error: dict | None = None
    clean = True
    timeouts = 0
    for index, test in enumerate(job.tests):
        test_started = time.monotonic()
        if load_error is not None:
            results.append(_load_failure(test.name, load_error, job.observe))
            continue
        if job.observe and timeouts >= OBSERVED_TIMEOUTS:
            results.append(TestResult(name=test.name, passed=False, kind="timeout", message="timed out (not run: "
                                      "the candidate timed out on earlier inputs)", observed="timeout"))
            continue
        if session is not None and session.aborted is not None:
            # The candidate timed out or died: kill what is left before a fresh start.
            clean = clean and isinstance(session.aborted, InvalidValue)
            if channel.closed or not _finish(channel)[0]:
                results.append(_repeat_failure(test.name, results[-1]))
                continue
            session = None
        if session is None:
            session = _Session(channel=channel, entry_point=job.entry_point, observe=job.observe,
                               values=job.values, deadline=test_started + job.timeout)
            try:
                load_error = _start(session, job)
            except HostLost as exc:
                raise TransportLost(exc.message) from None
            except Abort as exc:
                results.append(TestResult(name=test.name, passed=False, kind=exc.kind, message=_abort_message(exc),
                                          observed=exc.kind if job.observe else None))
                continue
            if load_error is not None:
                results.append(_load_failure(test.name, load_error, job.observe))
                continue
        session.deadline = test_started + job.timeout
        result = _run_test(session, job, index)
        if isinstance(session.aborted, HostLost):
            raise TransportLost(session.aborted.message)
        result.duration = time.monotonic() - test_started
        timeouts += result.kind == "timeout"
        results.append(result)

    if session is not None and session.aborted is not None:
        clean = clean and isinstance(session.aborted, InvalidValue)
    output, output_bytes = "", 0
    if channel.closed:
        clean = False
    else:
        finished, output, output_bytes = _finish(channel)
        clean = clean and finished
    verdict = Verdict(
        passed=bool(results) and all(r.passed for r in results),
        result=_human_eval_result(results) if results else "failed: no tests",
        tests=results,
        output=output,
        output_bytes=output_bytes,
        duration=time.monotonic() - started,
    )
    return verdict, clean


def _abort_message(exc: Abort) -> str:
    return "timed out" if exc.kind == "timeout" else f"failed: {exc.message}"


def _repeat_failure(name: str, previous: TestResult) -> TestResult:
    return TestResult(name=name, passed=False, kind=previous.kind, message=previous.message,
                      observed=previous.kind if previous.observed is not None else None)


def _finish(channel: Channel) -> tuple[bool, str, int]:
    """Ends the job: the executor kills the candidate, wipes the scratch and checks itself."""
    deadline = time.monotonic() + FINISH_GRACE
    try:
        channel.send({"op": "finish"})
        while True:
            who, message = channel.receive(deadline)
            if who == "executor" and message.get("op") == "finished":
                break
    except (ChannelClosed, ChannelTimeout):
        return False, "", 0
    tainted = message.get("tainted")
    output = message.get("output") if type(message.get("output")) is str else ""
    size = message.get("output_bytes") if type(message.get("output_bytes")) is int else 0
    return tainted == [], output, size
