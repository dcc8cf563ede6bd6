"""Inline code given to an interpreter (``python -c``, ``perl -e``, ``awk``, ``sed``, ``psql -c``).

Such code is a language we do not parse, so it is judged by what it mentions: each interpreter
lists the options whose value is code and a pattern of what in that code can start a program
(``system``, ``subprocess``, backticks, ``open("|cmd")``, ``\\!`` in psql...). Code that matches,
that names a program a prompt/forbidden rule names, or that is computed at run time is opaque;
an interpreter reading code from its standard input (a REPL) is opaque too. ``sed`` is here for
its ``e`` command.
"""

from __future__ import annotations

import itertools
import re

from codex_admin.execpolicy.target import Opaque, Target
from codex_admin.execpolicy.words import Word

__all__ = ["INTERPRETERS", "interpreter_targets", "is_interpreter", "sed_targets"]


def _s(*names: str) -> frozenset[str]:
    return frozenset(names)


# Inline-code interpreters: options whose value is code, and what in that code can start a
# program. Code that matches (or names a program a restrictive rule names) is opaque.
_SPAWN_GENERIC = (
    r"system|exec|spawn|popen|subprocess|fork|shell|child_process|proc_open|passthru|pcntl"
    r"|__import__|importlib|getattr|__dict__|globals|\beval\b|compile|ctypes|runpy|breakpoint"
    r"|\bpdb\b|webbrowser|`|%x|\bqx\b|readpipe|\bpty\b|Open3|Process|Runtime|IO\.popen|Kernel"
    r"|\bdo shell script\b|\btell\b|Deno\.(run|Command)|Bun\.|\brun\(|\bload\b|dofile|require"
    r"|include|ffi|dlopen|dl\("
)
_SPAWN_OPEN = r"|\bopen\b|\|"  # perl/ruby/tcl: open("|cmd") starts a program
INTERPRETERS: dict[str, tuple[frozenset[str], str]] = {
    "python": (_s("-c"), _SPAWN_GENERIC),
    "pypy": (_s("-c"), _SPAWN_GENERIC),
    "perl": (_s("-e", "-E"), _SPAWN_GENERIC + _SPAWN_OPEN),
    "ruby": (_s("-e"), _SPAWN_GENERIC + _SPAWN_OPEN),
    "node": (_s("-e", "--eval", "-p", "--print"), _SPAWN_GENERIC + r"|Function|import"),
    "nodejs": (_s("-e", "--eval", "-p", "--print"), _SPAWN_GENERIC + r"|Function|import"),
    "deno": (_s("eval"), _SPAWN_GENERIC + r"|Function|import"),
    "bun": (_s("-e", "--eval", "-p", "--print"), _SPAWN_GENERIC + r"|Function|import|\$"),
    "php": (_s("-r"), _SPAWN_GENERIC + r"|assert|create_function|mail|putenv"),
    "lua": (_s("-e"), _SPAWN_GENERIC + r"|os\.|io\."),
    "luajit": (_s("-e"), _SPAWN_GENERIC + r"|os\.|io\."),
    "tclsh": (_s(), _SPAWN_GENERIC + _SPAWN_OPEN + r"|source|uplevel|interp"),
    "wish": (_s(), _SPAWN_GENERIC + _SPAWN_OPEN + r"|source|uplevel|interp"),
    "expect": (_s("-c"), _SPAWN_GENERIC + _SPAWN_OPEN + r"|source|uplevel|interp"),
    "osascript": (_s("-e"), _SPAWN_GENERIC + r"|script|application"),
    "rscript": (_s("-e"), _SPAWN_GENERIC + r"|pipe|processx|callr|source|parse|\.Call"),
    "r": (_s("-e"), _SPAWN_GENERIC + r"|pipe|processx|callr|source|parse|\.Call"),
    "julia": (_s("-e", "-E", "--eval", "--print"), _SPAWN_GENERIC + r"|Cmd|ccall|Meta\."),
    "awk": (_s(), r"system|\||getline|@load|@include"),
    "sqlite3": (_s("-cmd"), r"\.sh|\.sy|\.read|\.import|\.once|\.output|\.open|load_extension|\|"),
    "psql": (_s("-c", "--command"), r"\\!|\\o|\\g|\\i|\\copy|program|\\setenv|\\gexec"),
    "mysql": (_s("-e", "--execute"), r"system|\\!|tee|pager|source|\\\.|\\P"),
    "dc": (_s("-e", "--expression"), r"!"),
}
_INTERPRETER_ALIASES = {
    "gawk": "awk", "mawk": "awk", "nawk": "awk", "busybox-awk": "awk", "original-awk": "awk",
    "Rscript": "rscript", "R": "r", "python2": "python", "python3": "python", "pypy3": "pypy",
}  # fmt: skip
_PYTHON = re.compile(r"(python|pypy)[0-9.]*(-dbg|-config)?")


def is_interpreter(name: str) -> bool:
    """Whether ``name`` (a program name) is an interpreter this module judges."""
    return (
        name in INTERPRETERS or name in _INTERPRETER_ALIASES or _PYTHON.fullmatch(name) is not None
    )


def interpreter_targets(
    name: str, words: list[Word], stdin: str | None, restricted: frozenset[str]
) -> list[Target]:
    key = _INTERPRETER_ALIASES.get(name, name)
    if _PYTHON.fullmatch(name):
        key = "pypy" if name.startswith("pypy") else "python"
    options, primitives = INTERPRETERS[key]
    args = words[1:]
    codes: list[Word] = []
    for index, word in enumerate(args):
        option, eq, value = word.text.partition("=")
        if word.text in options and index + 1 < len(args):
            codes.append(args[index + 1])
        elif eq and option in options:
            codes.append(Word(value, word.static))
        elif key == "python" and word.text.startswith("-c") and len(word.text) > 2:
            codes.append(Word(word.text[2:], word.static))
    if key == "awk":
        if any(w.text.startswith(("-f", "--file", "-E", "--exec")) for w in args):
            return [Opaque("awk runs a program file")]
        operands = [w for w in args if not w.text.startswith("-")]
        codes.extend(operands[:1])
    if key == "sqlite3":
        codes.extend(w for w in args if w.text.lstrip().startswith("."))
        codes.extend(args[1:2] if len(args) > 1 and not args[1].text.startswith("-") else [])
    if stdin is not None and not codes:
        codes.append(Word(stdin))
    repl = not codes and not any(not w.text.startswith("-") for w in args)
    if repl and key not in ("sqlite3", "psql", "mysql", "dc"):  # (those REPLs run SQL or maths)
        return [Opaque(f"`{name}` reads code from its standard input")]
    pattern = re.compile(primitives, re.IGNORECASE)
    for code in codes:
        if not code.static:
            return [Opaque(f"{name} runs code computed at run time")]
        lowered = code.text.lower()
        named = next((p for p in restricted if p and p.lower() in lowered), None)
        if named is not None:
            return [Opaque(f"{name} runs code that names `{named}`")]
        if pattern.search(code.text):
            return [Opaque(f"{name} runs code that can start programs")]
    return []


def sed_targets(words: list[Word]) -> list[Target]:
    args = words[1:]
    scripts = [b for a, b in itertools.pairwise(args) if a.text in ("-e", "--expression")]
    scripts += [Word(w.text.split("=", 1)[1]) for w in args if w.text.startswith("--expression=")]
    if not scripts:
        operands = [w for w in args if not w.text.startswith("-")]
        scripts = operands[:1]
    if any(w.text.startswith(("-f", "--file")) for w in args):
        return [Opaque("sed runs a script file")]
    for script in scripts:
        if not script.static or re.search(
            r"(^|[;\n{}])\s*[0-9$,!/~\\a-z]*?\s*e(\s|;|$|})|/[gpIiMm0-9]*e[gpIiMm0-9w]*(\s|;|$|})",
            script.text,
        ):
            return [Opaque("sed's `e` command runs programs")]
    return []
