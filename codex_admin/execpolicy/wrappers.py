"""Reading a wrapper's options the way its own parser does, to find the command it runs.

A wrapper (``sudo``, ``env``, ``timeout``, ``flock``, ``bwrap`` ...) is described by a
:class:`Spec` (its table is :mod:`wrapper_table`); :func:`wrapper_targets` reads one invocation:
clusters such as ``-Eu root`` or ``-iS 'git push'``, ``--opt=value`` and ``--opt value``,
``NAME=VALUE`` assignments, operands such as ``timeout DURATION``, ``env -S`` strings split into
words, and options whose value is a shell command. An unknown option may or may not take a
value, so both readings are returned (at most 8).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from codex_admin.execpolicy.target import Argv, Opaque, Script, Target
from codex_admin.execpolicy.words import Word

__all__ = ["Spec", "wrapper_targets"]


@dataclass(frozen=True)
class Spec:
    """How a wrapper parses its options before the command it runs."""

    flags: str = ""  # short options without a value
    values: str = ""  # short options with a value (attached or the next word)
    optional: str = ""  # short options whose value can only be attached (-t[file])
    long_flags: frozenset[str] = frozenset()
    long_values: frozenset[str] = frozenset()
    long_optional: frozenset[str] = frozenset()  # only --opt=value takes a value
    long_pairs: frozenset[str] = frozenset()  # long options with two values (SRC DEST)
    scripts: frozenset[str] = frozenset()  # options whose value is a shell command
    split: frozenset[str] = frozenset()  # options whose value is split into more arguments
    no_command: frozenset[str] = frozenset()  # options after which nothing is run
    operands: int = 0  # operands before the command (timeout DURATION, chroot NEWROOT)
    assignments: bool = False  # NAME=VALUE operands before the command
    numeric_flags: bool = False  # nice -10
    shell_default: bool = False  # no command: an interactive shell (reads standard input)


@dataclass
class _Parse:
    """The state of reading one wrapper's options."""

    args: list[Word]
    index: int
    assignments: list[str] = field(default_factory=list)
    scripts: list[Word] = field(default_factory=list)
    stop: str | None = None  # "none": nothing runs; else an opaque reason


def _read_options(spec: Spec, name: str, args: list[Word]) -> list[_Parse]:
    """All plausible readings (several when an unknown option may or may not take a value)."""
    results: list[_Parse] = []
    pending = [_Parse(list(args), 0)]
    while pending and len(results) < 8:
        results.append(_read_from(spec, name, pending.pop(), pending))
    return results


def _fork(state: _Parse, index: int) -> _Parse:
    return _Parse(state.args, index, list(state.assignments), list(state.scripts))


def _split_value(state: _Parse, at: int, width: int, value: Word, name: str) -> bool:
    """Replace ``env -S VALUE`` by VALUE's words; False (and an opaque stop) when unknowable."""
    if not value.static or "$" in value.text or "\\" in value.text:
        state.stop = f"`{name} -S` splits a string with its own expansions: `{value.text}`"
        return False
    try:
        words = [Word(token) for token in shlex.split(value.text)]
    except ValueError:
        state.stop = f"`{name} -S` gets a string it cannot split: `{value.text}`"
        return False
    state.args = [*state.args[:at], *words, *state.args[at + width :]]
    return True


def _read_from(spec: Spec, name: str, state: _Parse, pending: list[_Parse]) -> _Parse:
    i = state.index
    while i < len(state.args):
        args = state.args
        word = args[i]
        text = word.text
        if not word.static:
            break  # the command starts here (its name is computed: the caller says so)
        if text == "--":
            i += 1
            break
        if spec.assignments and "=" in text and _is_name(text.split("=", 1)[0]):
            state.assignments.append(text.split("=", 1)[0])
            i += 1
            continue
        if not text.startswith("-") or text == "-":
            break
        if text in spec.no_command or text.split("=", 1)[0] in spec.no_command:
            state.stop = "none"
            return state
        if text.startswith("--"):
            option, eq, value = text.partition("=")
            if option in spec.split:
                if eq and _split_value(state, i, 1, Word(value), name):
                    continue
                if not eq and i + 1 < len(args) and _split_value(state, i, 2, args[i + 1], name):
                    continue
                state.index = i
                return state
            if option in spec.scripts:
                if eq:
                    state.scripts.append(Word(value))
                    i += 1
                elif i + 1 < len(args):
                    state.scripts.append(args[i + 1])
                    i += 2
                else:
                    i += 1
            elif option in spec.long_values or option in spec.long_pairs:
                width = 2 if option in spec.long_pairs else 1
                i += 1 if eq and width == 1 else 1 + width
            elif (
                option in spec.long_flags
                or option in spec.long_optional
                or (name in ("firejail", "valgrind"))
            ):
                i += 1
            else:
                if not eq:
                    pending.append(_fork(state, i + 2))
                i += 1
            continue
        # a cluster of short options
        j = 1
        consumed = 0
        split = False
        while j < len(text):
            letter = text[j]
            if f"-{letter}" in spec.no_command:
                state.stop = "none"
                return state
            if f"-{letter}" in spec.split:
                attached = text[j + 1 :]
                head = [Word(text[:j])] if j > 1 else []
                following = args[i + 1] if i + 1 < len(args) else None
                split_word = Word(attached) if attached else following
                if split_word is None:
                    break
                width = 1 if attached else 2
                state.args = [*args[:i], *head, *args[i + width :]]
                if not _split_value(state, i + len(head), 0, split_word, name):
                    state.index = i
                    return state
                split = True
                break
            if f"-{letter}" in spec.scripts:
                value = text[j + 1 :]
                if value:
                    state.scripts.append(Word(value))
                elif i + 1 < len(args):
                    state.scripts.append(args[i + 1])
                    consumed = 1
                break
            if letter in spec.values:
                consumed = 0 if text[j + 1 :] else 1
                break
            if letter in spec.optional:
                break
            if letter in spec.flags or (spec.numeric_flags and letter in "0123456789+-"):
                j += 1
                continue
            if j + 1 == len(text):  # an unknown last letter may take the next word
                pending.append(_fork(state, i + 2))
            break
        if split:
            i += 1 if j > 1 else 0  # re-read: the split words follow the flags before -S
            continue
        i += 1 + consumed
    state.index = i
    return state


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _is_name(text: str) -> bool:
    return _NAME.fullmatch(text) is not None


def wrapper_targets(name: str, spec: Spec, words: list[Word], stdin: str | None) -> list[Target]:
    """What the wrapper ``name`` (read by ``spec``) runs in every plausible reading of ``words``;
    without a command, a wrapper that starts a shell runs ``stdin`` or is opaque."""
    args = words[1:]
    out: list[Target] = []
    for state in _read_options(spec, name, args):
        if state.stop == "none":
            continue
        if state.stop is not None:
            out.append(Opaque(state.stop))
            continue
        out.extend(Script(script, name) for script in state.scripts)
        rest = state.args[state.index :]
        if spec.operands:
            if name == "chrt" and rest and not rest[0].text.isdigit():
                pass  # chrt --other cmd: the priority is optional
            else:
                rest = rest[spec.operands :]
            if name == "flock" and rest and rest[0].text in ("-c", "--command"):
                if len(rest) > 1:
                    out.append(Script(rest[1], name))
                continue
        if name == "script":
            rest = []  # its operand is the typescript file, not a command
        assigned = tuple(state.assignments)
        if name == "coproc" and len(rest) > 1:
            out.append(Argv(rest[1:], name, assigned))  # coproc NAME command
        if rest:
            out.append(Argv(list(rest), name, assigned))
        elif (spec.shell_default or _shell_flag(name, state.args[: state.index])) and not (
            state.scripts
        ):
            if stdin is not None:
                out.append(Script(Word(stdin), f"{name} (standard input)"))
            else:  # an interactive shell: whatever is typed into it is never evaluated
                out.append(Opaque(f"`{name}` starts a shell that reads commands as they come"))
    return out


def _shell_flag(name: str, options: list[Word]) -> bool:
    """``sudo -s``/``sudo -i`` (and clusters such as ``-iu root``) without a command start a
    shell."""
    if name != "sudo":
        return False
    for word in options:
        text = word.text
        if text in ("--shell", "--login") or (
            text.startswith("-") and not text.startswith("--") and ("s" in text or "i" in text)
        ):
            return True
    return False
