"""Bounded, fast evaluation of one Starlark rules file with starlark-pyo3.

Rules files come from users and from MDM, so evaluating one must neither hang nor crash the
process, and a generated file with 100,000 rules must load in seconds.

**Bounds.** starlark-pyo3 offers ``EvalOptions(check_cancelled=..., max_callstack_size=...)``;
the callback is polled by the interpreter loop, which gives a wall-clock deadline (loops over
``range(2**31)``) and a memory budget check (``x = x + x`` doubling). The Rust parser/compiler
recursing on deeply nested source (SIGSEGV at ~3,000 nested ``[``) is closed by a lexical bound
on the syntax-tree depth (:mod:`nesting`) and by evaluating on a worker thread with a 256 MiB
stack. Allocation failures abort the process from inside Rust and one huge operation cannot be
interrupted, so by default the evaluation runs in a forked child with an address-space limit
and a deadline (:mod:`isolation`). Rust panics surface as ``pyo3_runtime.PanicException``.

**Speed.** Calling a Python function from Starlark converts every argument through pyo3, which
costs tens of microseconds per rule. So the builtins are Starlark functions (the prelude below):
when the arguments have the expected Starlark types (nearly always) the call is appended as a
*record* ``[kind, call_stack, args...]`` to a Starlark list, and every few hundred calls the list
crosses to Python as one ``json.encode`` string. Only calls with unexpected types take the slow
path, a Python builtin that sees each value's Starlark ``type()`` name and raises Codex's type
error. In a child, record batches stream to the parent over the pipe as they are produced and the
parent validates them while the child keeps evaluating; each record is validated exactly once,
by the parent's ``on_records`` callback. A validation error carries the line of its call, and
records are validated in call order before an evaluation error is reported, so the first failing
call is the one reported, as in Codex.

The prelude captures ``json.encode`` and ``call_stack`` and then hides both names from the rules
file, which sees Codex's globals plus the three builtins.
"""

from __future__ import annotations

import json
import os
import resource
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from codex_admin.errors import CodexError
from codex_admin.execpolicy.isolation import ChildFailure, can_isolate, run_streaming
from codex_admin.execpolicy.nesting import nesting_estimate

__all__ = [
    "BuiltinError",
    "Limits",
    "OnRecords",
    "SlowBuiltins",
    "StarlarkFailure",
    "caller_line",
    "check_source",
    "evaluate_rules_source",
]

PRELUDE_NAME = "<execpolicy-builtins>"
PRELUDE = """
__encode = json.encode
__stack = call_stack
__marker = __label()
__pending = []
__batch = 256

def __scalar(v):
    t = type(v)
    return [t, v if t in ("string", "int", "bool", "NoneType", "float") else None]

def __enc1(v):
    t = type(v)
    if t == "list" or t == "tuple":
        return [t, [__scalar(x) for x in v]]
    return __scalar(v)

def __enc2(v):
    t = type(v)
    if t == "list" or t == "tuple":
        return [t, [__enc1(x) for x in v]]
    return __scalar(v)

def __line():
    s = __stack(strip_frames = 2)
    i = s.rfind(__marker)
    if i < 0:
        return 0
    i += len(__marker)
    digits = s[i:s.find(",", i)]
    return int(digits) if digits.isdigit() else 0

def __tokens(v):
    if type(v) != "list":
        return False
    for x in v:
        if type(x) != "string":
            if type(x) != "list":
                return False
            for y in x:
                if type(y) != "string":
                    return False
    return True

def __flush():
    if __pending:
        __records(__encode(__pending))
        __pending.clear()

def prefix_rule(pattern, decision = None, match = None, not_match = None, justification = None):
    if ((decision == None or type(decision) == "string") and
            (justification == None or type(justification) == "string") and __tokens(pattern) and
            (match == None or __tokens(match)) and (not_match == None or __tokens(not_match))):
        __pending.append(["p", __line(), pattern, decision, match, not_match, justification])
        if len(__pending) >= __batch:
            __flush()
    else:
        __flush()
        __prefix_rule(
            __enc2(pattern), __scalar(decision), __enc2(match), __enc2(not_match),
            __scalar(justification), __line())

def network_rule(host, protocol, decision, justification = None):
    __flush()
    if (type(host) == "string" and type(protocol) == "string" and type(decision) == "string" and
            (justification == None or type(justification) == "string")):
        __pending.append(["n", __line(), host, protocol, decision, justification])
        __flush()
    else:
        __network_rule(
            __scalar(host), __scalar(protocol), __scalar(decision), __scalar(justification),
            __line())

def host_executable(name, paths):
    __flush()
    if type(name) == "string" and type(paths) == "list" and __tokens([paths]):
        __pending.append(["h", __line(), name, paths])
        __flush()
    else:
        __host_executable(__scalar(name), __enc1(paths), __line())
"""
HIDE = "json = None\ncall_stack = None\n"
FLUSH = "__flush()\n"

# A slow-path builtin validates encoded arguments (raising BuiltinError) and returns the record.
SlowBuiltins = Mapping[str, Callable[..., list[Any]]]
# Receives validated-in-order record batches; raises BuiltinError to stop the evaluation.
OnRecords = Callable[[list[Any]], None]

_MIB = 1024 * 1024


def _env_number(name: str, default: float, minimum: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= minimum:
        raise CodexError(
            f"invalid {name}={raw!r}: expected a number >= {minimum:g}",
            hint=f"unset {name} to use the default ({default:g})",
        )
    return value


@dataclass(frozen=True)
class Limits:
    """Bounds for evaluating one rules file; :meth:`from_env` applies the knobs below.

    ``CODEX_EXECPOLICY_MEMORY_MB`` (default 512), ``CODEX_EXECPOLICY_TIMEOUT`` (seconds,
    default 10) and ``CODEX_EXECPOLICY_MAX_FILE_MB`` (default 16) raise them for very large
    generated policies.
    """

    max_source_bytes: int = 16 * _MIB
    max_nesting: int = 1000
    timeout_seconds: float = 10.0
    memory_budget_bytes: int = 512 * _MIB
    max_callstack: int = 200
    isolate: bool = True  # evaluate in a forked child (see isolation.py)
    thread_stack_bytes: int = 256 * _MIB

    @classmethod
    def from_env(cls) -> Limits:
        return cls(
            max_source_bytes=int(_env_number("CODEX_EXECPOLICY_MAX_FILE_MB", 16, 1) * _MIB),
            timeout_seconds=_env_number("CODEX_EXECPOLICY_TIMEOUT", 10, 0.1),
            memory_budget_bytes=int(_env_number("CODEX_EXECPOLICY_MEMORY_MB", 512, 16) * _MIB),
        )

    def memory_hint(self) -> str:
        mib = self.memory_budget_bytes // _MIB
        return (
            f"its memory budget is {mib} MiB; for a legitimately large policy raise it with "
            f"CODEX_EXECPOLICY_MEMORY_MB={mib * 2}"
        )

    def timeout_hint(self) -> str:
        return (
            f"for a legitimately large policy raise the limit with "
            f"CODEX_EXECPOLICY_TIMEOUT={self.timeout_seconds * 2:g}"
        )


class BuiltinError(Exception):
    """Raised by a builtin's Python side; its text becomes ``starlark error: <text>``.

    ``line`` is set when the error belongs to a recorded call (its ``prefix_rule`` line).
    """

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


class StarlarkFailure(Exception):
    """Evaluation failed. ``line``/``column`` are 1-based positions in the rules file."""

    def __init__(
        self,
        message: str,
        line: int | None = None,
        column: int | None = None,
        hint: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.hint = hint


def caller_line(call_stack: object, label: str) -> int | None:
    """The line of the innermost frame in ``label`` of a ``call_stack()`` rendering."""
    if not isinstance(call_stack, str):
        return None
    marker = f"  * {label}:"
    end = call_stack.rfind(marker)
    if end < 0:
        return None
    start = end + len(marker)
    stop = call_stack.find(",", start)
    digits = call_stack[start:stop] if stop > 0 else ""
    return int(digits) if digits.isdigit() else None


def _locate(text: str, label: str) -> tuple[int | None, int | None]:
    """The innermost position inside the user's file named by a starlark error text."""
    arrow = f"--> {label}:"
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith(arrow):
            parts = stripped[len(arrow) :].split(":")
            if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
                return int(parts[0]), int(parts[1])
    return caller_line(text, label), None


def _core_message(text: str) -> str:
    """The ``error: ...`` line of a starlark-rust diagnostic, without the prefix."""
    for raw in text.splitlines():
        if raw.startswith("error: "):
            return raw[len("error: ") :].strip()
    return text.strip().splitlines()[0] if text.strip() else "evaluation failed"


def _decode_batch(payload: str | bytes) -> list[Any]:
    try:
        batch = json.loads(payload, strict=False)
    except ValueError:
        batch = None
    if not isinstance(batch, list):
        raise BuiltinError("internal error: a malformed builtin record")
    return batch


def _run(
    label: str,
    source: str,
    slow: SlowBuiltins,
    sink_text: Callable[[str], None],
    sink_records: OnRecords,
    limits: Limits,
    raised: list[BuiltinError],
) -> StarlarkFailure | None:
    import starlark as sl  # on first use: flat generated files never need the interpreter

    dialect = sl.Dialect.extended()
    dialect.enable_f_strings = True
    globals_ = sl.Globals.extended_by([sl.LibraryExtension.CallStack, sl.LibraryExtension.Json])

    def guarded(func: Callable[..., None]) -> Callable[..., None]:
        def call(*args: Any) -> None:
            try:
                func(*args)
            except BuiltinError as err:
                raised.append(err)
                raise

        return call

    def records(text: Any) -> None:
        if not isinstance(text, str):
            raise BuiltinError("internal error: a malformed builtin record")
        sink_text(text)

    def slow_call(func: Callable[..., list[Any]]) -> Callable[..., None]:
        return lambda *args: sink_records([func(*args)])

    try:
        ast = sl.parse(label, source, dialect)
        module = sl.Module()
        module.add_callable("__records", guarded(records))
        module.add_callable("__label", lambda: f"  * {label}:")
        for name, func in slow.items():
            module.add_callable(f"__{name}", guarded(slow_call(func)))
        sl.eval(module, sl.parse(PRELUDE_NAME, PRELUDE, dialect), globals_)
        sl.eval(module, sl.parse(PRELUDE_NAME, HIDE, dialect), globals_)
        deadline = time.monotonic() + limits.timeout_seconds
        base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

        def cancelled() -> bool:
            # Polled by the interpreter loop (about every few microseconds of work, and at
            # every loop iteration); both checks cost well under a microsecond.
            if time.monotonic() > deadline:
                raised.append(BuiltinError(f"evaluation exceeded {limits.timeout_seconds:g}s"))
                return True
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            if rss - base_rss > limits.memory_budget_bytes:
                raised.append(BuiltinError("evaluation exceeded its memory budget"))
                return True
            return False

        options = sl.EvalOptions(check_cancelled=cancelled, max_callstack_size=limits.max_callstack)
        flush = sl.parse(PRELUDE_NAME, FLUSH, dialect)
        try:
            sl.eval_with(options, module, ast, globals_)
        except sl.StarlarkError:
            if not raised:  # calls before a failing statement are validated first
                sl.eval(module, flush, globals_)
            raise
        sl.eval(module, flush, globals_)
    except sl.StarlarkError as err:
        text = str(err)
        if raised:
            first = raised[0]
            if first.line is not None:
                return StarlarkFailure(str(first), first.line)
            line, column = _locate(text, label)
            return StarlarkFailure(str(first), line, column)
        line, column = _locate(text, label)
        return StarlarkFailure(_core_message(text), line, column)
    except BaseException as err:
        if type(err).__name__ != "PanicException":
            raise
        detail = str(err).strip().splitlines()[0] if str(err).strip() else "internal error"
        return StarlarkFailure(f"evaluation aborted by the interpreter: {detail}")
    return None


def evaluate_rules_source(
    label: str,
    source: str,
    slow: SlowBuiltins,
    on_records: OnRecords,
    limits: Limits,
) -> None:
    """Evaluate ``source``; ``on_records`` receives every builtin call, in order, as records.

    Raises :class:`StarlarkFailure` on any error, including a :class:`BuiltinError` raised by
    ``on_records`` (located on the failing call's line).
    """
    check_source(source, limits)
    depth, depth_line = nesting_estimate(source, limits.max_nesting)
    if depth > limits.max_nesting:
        raise StarlarkFailure(
            f"expression nesting too deep (estimated depth {depth}, limit {limits.max_nesting}); "
            "split it into smaller expressions or variables",
            depth_line,
        )
    if limits.isolate and can_isolate():
        _evaluate_isolated(label, source, slow, on_records, limits)
        return
    failure = _evaluate_here(
        label,
        source,
        slow,
        lambda text: on_records(_decode_batch(text)),
        on_records,
        limits,
    )
    if failure is not None:
        raise failure


def check_source(source: str, limits: Limits) -> None:
    """The checks every rules source passes before any evaluation: size and NUL bytes."""
    if len(source) > limits.max_source_bytes:
        raise StarlarkFailure(
            f"rules file is too large ({len(source)} bytes; the limit is "
            f"{limits.max_source_bytes} bytes)",
            hint="raise CODEX_EXECPOLICY_MAX_FILE_MB for a legitimately large policy",
        )
    if "\0" in source:
        raise StarlarkFailure(
            "rules file contains a NUL byte", source[: source.index("\0")].count("\n") + 1
        )


def _evaluate_isolated(
    label: str, source: str, slow: SlowBuiltins, on_records: OnRecords, limits: Limits
) -> None:
    """Evaluate in a child (see :mod:`isolation`); record batches stream to ``on_records``."""
    # Import before forking so the child never takes the import lock.
    import starlark  # noqa: F401

    def child(emit: Callable[[bytes], None]) -> bytes:
        failure = _evaluate_here(
            label,
            source,
            slow,
            lambda text: emit(text.encode("utf-8", "surrogatepass")),
            lambda batch: emit(json.dumps(batch).encode("utf-8", "surrogatepass")),
            limits,
        )
        if failure is None:
            return b"null"
        return json.dumps([failure.message, failure.line, failure.column]).encode()

    stopped: list[BuiltinError] = []

    def on_frame(payload: bytes) -> None:
        try:
            on_records(_decode_batch(payload))
        except BuiltinError as err:
            stopped.append(err)
            raise

    try:
        result = run_streaming(
            child,
            on_frame,
            timeout=limits.timeout_seconds + 2.0,
            memory_bytes=limits.memory_budget_bytes + limits.thread_stack_bytes,
        )
    except BuiltinError as err:
        raise StarlarkFailure(str(err), err.line) from None
    except ChildFailure as err:
        raise _child_failure(err, limits) from None
    outcome = json.loads(result)
    if outcome is not None:
        message, line, column = outcome
        hint = limits.memory_hint() if message == "evaluation exceeded its memory budget" else None
        if message.startswith("evaluation exceeded ") and message.endswith("s"):
            hint = limits.timeout_hint()
        raise StarlarkFailure(message, line, column, hint)


def _child_failure(err: ChildFailure, limits: Limits) -> StarlarkFailure:
    if err.kind == "timeout":
        return StarlarkFailure(str(err), hint=limits.timeout_hint())
    if err.kind in ("memory", "signal"):
        return StarlarkFailure(
            f"{err}: the file builds a value larger than the evaluator's memory budget, or "
            "crashed the interpreter",
            hint=limits.memory_hint(),
        )
    return StarlarkFailure(f"{err}", hint=limits.memory_hint())


def _evaluate_here(
    label: str,
    source: str,
    slow: SlowBuiltins,
    sink_text: Callable[[str], None],
    sink_records: OnRecords,
    limits: Limits,
) -> StarlarkFailure | None:
    """Evaluate in this process, on a worker thread with a large stack."""
    raised: list[BuiltinError] = []
    outcome: list[StarlarkFailure | None] = []
    failure: list[BaseException] = []

    def worker() -> None:
        try:
            outcome.append(_run(label, source, slow, sink_text, sink_records, limits, raised))
        except BaseException as err:  # noqa: BLE001 - handed to the calling thread, re-raised
            failure.append(err)

    old = threading.stack_size(limits.thread_stack_bytes)
    try:
        thread = threading.Thread(target=worker, name="execpolicy-starlark", daemon=True)
        thread.start()
    finally:
        threading.stack_size(old)
    thread.join()
    if failure:
        raise failure[0]
    return outcome[0] if outcome else None
