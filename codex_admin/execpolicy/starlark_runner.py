"""Bounded evaluation of one Starlark rules file with starlark-pyo3.

Rules files come from users and from MDM, so evaluating one must neither hang nor crash the
process. starlark-pyo3 offers ``EvalOptions(check_cancelled=..., max_callstack_size=...)``; the
callback is polled by the interpreter loop, which gives us a wall-clock deadline (loops over
``range(2**31)``) and a memory budget check (``x = x + x`` doubling). What it does *not* offer is
protection from the Rust parser/compiler recursing on deeply nested source: ~3,000 nested ``[`` or
``1+1+...`` terms overflow the native stack and kill the process with SIGSEGV. We close that with
two cheap layers: a lexical pre-scan that bounds an upper estimate of the syntax-tree depth
(:func:`_nesting_estimate`) and rejects the file with a located error, and evaluation in a worker
thread with a 256 MiB stack so the accepted depth has a wide margin. Rust panics surface as
``pyo3_runtime.PanicException`` (a BaseException) and are turned into errors too.

Allocation failures abort the process from inside Rust and a single huge operation cannot be
interrupted, so by default the evaluation runs in a forked child with an address-space limit
and a deadline (:mod:`isolation`); the child's builtin calls are replayed in the parent.

The builtins are defined in a small Starlark prelude evaluated into the same module. The prelude
passes every argument to Python together with its Starlark ``type()`` name, because
starlark-pyo3 converts tuples to lists and Codex's error texts name the Starlark type
(``got tuple``).
"""

from __future__ import annotations

import re
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from codex_admin.execpolicy.isolation import ChildFailure, can_isolate, run_in_child

__all__ = [
    "LIMITS",
    "BuiltinError",
    "Limits",
    "StarlarkFailure",
    "caller_line",
    "evaluate_rules_source",
]

PRELUDE_NAME = "<execpolicy-builtins>"
PRELUDE = """
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

def prefix_rule(pattern, decision = None, match = None, not_match = None, justification = None):
    __prefix_rule(
        __enc2(pattern), __scalar(decision), __enc2(match), __enc2(not_match),
        __scalar(justification), call_stack())

def network_rule(host, protocol, decision, justification = None):
    __network_rule(
        __scalar(host), __scalar(protocol), __scalar(decision), __scalar(justification),
        call_stack())

def host_executable(name, paths):
    __host_executable(__scalar(name), __enc1(paths))
"""


@dataclass(frozen=True)
class Limits:
    max_source_bytes: int = 16 * 1024 * 1024
    max_nesting: int = 1000
    timeout_seconds: float = 10.0
    memory_budget_bytes: int = 512 * 1024 * 1024
    max_callstack: int = 200
    isolate: bool = True  # evaluate in a forked child (see isolation.py)
    thread_stack_bytes: int = 256 * 1024 * 1024


LIMITS = Limits()


class BuiltinError(Exception):
    """Raised by a builtin's Python side; its text becomes ``starlark error: <text>``."""


class StarlarkFailure(Exception):
    """Evaluation failed. ``line``/``column`` are 1-based positions in the rules file."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


# A tokenizer good enough to bound nesting: strings and comments are skipped whole.
_TOKEN = re.compile(
    r"""(?P<str>[rRbBfF]{0,2}(?:'''(?:\\.|[^\\])*?'''|\"\"\"(?:\\.|[^\\])*?\"\"\"|'(?:\\.|[^\\'\n])*'|"(?:\\.|[^\\"\n])*"))"""
    r"|(?P<comment>\#[^\n]*)"
    r"|(?P<nl>\n[ \t]*)"
    r"|(?P<open>[\[({])|(?P<close>[\])}])|(?P<comma>,)|(?P<semi>;)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<num>[0-9][0-9a-zA-Z_.]*)"
    r"|(?P<op>\*\*|//|<<|>>|[<>=!]=|->|[-+*/%&|^~<>.@=:])"
    r"|(?P<ws>[ \t\r\\]+)",
)
_OPERATOR_WORDS = frozenset({"not", "and", "or", "if", "else", "in", "lambda", "for"})


def _nesting_estimate(source: str) -> tuple[int, int]:
    """An upper bound on syntax-tree depth and the line where it peaks.

    Depth grows with open brackets, with operator chains between commas at one bracket level
    (``1+1+1`` is a left-deep tree), with postfix calls/subscripts and with indentation.
    """
    counters: list[int] = [0]
    total = 0
    indents: list[int] = [0]
    worst, worst_line, line = 0, 1, 1
    prev_value = False  # previous token ends a value (name, literal, closing bracket)
    for m in _TOKEN.finditer(source):
        kind = m.lastgroup
        if kind == "str":
            line += m.group().count("\n")
            prev_value = True
            continue
        if kind in ("comment", "ws"):
            continue
        if kind == "nl":
            line += 1
            if len(counters) == 1:
                total -= counters[0]
                counters[0] = 0
                width = len(m.group()) - 1
                while indents and width < indents[-1]:
                    indents.pop()
                if width > indents[-1]:
                    indents.append(width)
            prev_value = False
            continue
        if kind == "open":
            if prev_value:
                counters[-1] += 1
                total += 1
            counters.append(0)
            prev_value = False
        elif kind == "close":
            if len(counters) > 1:
                total -= counters.pop()
            prev_value = True
        elif kind in ("comma", "semi"):
            total -= counters[-1]
            counters[-1] = 0
            prev_value = False
        elif (kind == "name" and m.group() in _OPERATOR_WORDS) or kind == "op":
            counters[-1] += 1
            total += 1
            prev_value = False
        else:
            prev_value = True
        depth = total + len(counters) + len(indents)
        if depth > worst:
            worst, worst_line = depth, line
    return worst, worst_line


_FRAME = re.compile(r"^\s*\* (.*):(\d+), in ", re.MULTILINE)
_ARROW = re.compile(r"^\s*--> (.*):(\d+):(\d+)\s*$", re.MULTILINE)


def _locate(text: str, label: str) -> tuple[int | None, int | None]:
    """The innermost position inside the user's file named by a starlark error text."""
    for m in _ARROW.finditer(text):
        if m.group(1) == label:
            return int(m.group(2)), int(m.group(3))
    line = None
    for m in _FRAME.finditer(text):
        if m.group(1) == label:
            line = int(m.group(2))
    return line, None


def caller_line(call_stack: object, label: str) -> int | None:
    """The line of the innermost frame in ``label`` of a ``call_stack()`` rendering."""
    line = None
    if isinstance(call_stack, str):
        for m in _FRAME.finditer(call_stack):
            if m.group(1) == label:
                line = int(m.group(2))
    return line


def _core_message(text: str) -> str:
    """The ``error: ...`` line of a starlark-rust diagnostic, without the prefix."""
    for raw in text.splitlines():
        if raw.startswith("error: "):
            return raw[len("error: ") :].strip()
    return text.strip().splitlines()[0] if text.strip() else "evaluation failed"


def _run(
    label: str,
    source: str,
    builtins: dict[str, Callable[..., None]],
    limits: Limits,
    raised: list[BuiltinError],
) -> StarlarkFailure | None:
    import starlark as sl

    dialect = sl.Dialect.extended()
    dialect.enable_f_strings = True
    # CallStack adds call_stack(), which the prelude uses to learn the caller's line.
    globals_ = sl.Globals.extended_by([sl.LibraryExtension.CallStack])
    try:
        ast = sl.parse(label, source, dialect)
        module = sl.Module()
        for name, func in builtins.items():
            module.add_callable(name, func)
        sl.eval(module, sl.parse(PRELUDE_NAME, PRELUDE, dialect), globals_)
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
        sl.eval_with(options, module, ast, globals_)
    except sl.StarlarkError as err:
        text = str(err)
        line, column = _locate(text, label)
        message = str(raised[-1]) if raised else _core_message(text)
        return StarlarkFailure(message, line, column)
    except BaseException as err:
        if type(err).__name__ != "PanicException":
            raise
        detail = str(err).strip().splitlines()[0] if str(err).strip() else "internal error"
        return StarlarkFailure(f"evaluation aborted by the interpreter: {detail}")
    return None


def evaluate_rules_source(
    label: str,
    source: str,
    builtins: dict[str, Callable[..., None]],
    limits: Limits = LIMITS,
) -> None:
    """Evaluate ``source`` with ``builtins`` bound; raise :class:`StarlarkFailure` on error.

    Builtins signal user errors by raising :class:`BuiltinError`; the message is kept verbatim.
    """
    if len(source) > limits.max_source_bytes:
        raise StarlarkFailure(
            f"rules file is too large ({len(source)} bytes; the limit is "
            f"{limits.max_source_bytes} bytes)"
        )
    if "\0" in source:
        raise StarlarkFailure(
            "rules file contains a NUL byte", source[: source.index("\0")].count("\n") + 1
        )
    depth, depth_line = _nesting_estimate(source)
    if depth > limits.max_nesting:
        raise StarlarkFailure(
            f"expression nesting too deep (estimated depth {depth}, limit {limits.max_nesting}); "
            "split it into smaller expressions or variables",
            depth_line,
        )
    if limits.isolate and can_isolate():
        _evaluate_isolated(label, source, builtins, limits)
    else:
        failure = _evaluate_here(label, source, builtins, limits)
        if failure is not None:
            raise failure


def _evaluate_isolated(
    label: str, source: str, builtins: dict[str, Callable[..., None]], limits: Limits
) -> None:
    """Evaluate in a child (see :mod:`isolation`), then replay its builtin calls here.

    The child runs the real builtins (so errors carry Starlark positions) and records each
    successful call; the parent replays the recorded arguments, which re-validates them cheaply.
    """
    # Import before forking so the child never takes the import lock.
    import starlark  # noqa: F401

    def child() -> tuple[str, Any]:
        calls: list[tuple[str, tuple[Any, ...]]] = []

        def recording(name: str, func: Callable[..., None]) -> Callable[..., None]:
            def call(*args: Any) -> None:
                func(*args)
                calls.append((name, args))

            return call

        wrapped = {name: recording(name, func) for name, func in builtins.items()}
        failure = _evaluate_here(label, source, wrapped, limits)
        if failure is not None:
            return "error", (failure.message, failure.line, failure.column)
        return "ok", calls

    try:
        kind, payload = run_in_child(
            child,
            timeout=limits.timeout_seconds + 2.0,
            memory_bytes=limits.memory_budget_bytes + limits.thread_stack_bytes,
        )
    except ChildFailure as err:
        raise StarlarkFailure(str(err)) from None
    if kind == "error":
        message, line, column = payload
        raise StarlarkFailure(message, line, column)
    for name, args in payload:
        try:
            builtins[name](*args)
        except BuiltinError as err:  # only if validation were not deterministic
            raise StarlarkFailure(str(err)) from None


def _evaluate_here(
    label: str, source: str, builtins: dict[str, Callable[..., None]], limits: Limits
) -> StarlarkFailure | None:
    """Evaluate in this process, on a worker thread with a large stack."""
    raised: list[BuiltinError] = []

    def wrap(func: Callable[..., None]) -> Callable[..., None]:
        def call(*args: Any) -> None:
            try:
                func(*args)
            except BuiltinError as err:
                raised.append(err)
                raise

        return call

    wrapped = {f"__{name}": wrap(func) for name, func in builtins.items()}
    outcome: list[StarlarkFailure | None] = []
    failure: list[BaseException] = []

    def worker() -> None:
        try:
            outcome.append(_run(label, source, wrapped, limits, raised))
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
