"""Programs with a grammar of their own for the command they run.

``find -exec ... ;`` (``{}`` is a file name: a dynamic word), ``xargs`` (its input becomes
arguments), ``su``/``runuser`` (``-c`` scripts, options after the user, ``runuser -u USER
CMD``), ``watch`` (a script, or ``-x`` argv), ``sg GROUP CMD`` and the shell builtins ``eval``,
``trap`` and ``alias`` (their strings are scripts).
"""

from __future__ import annotations

from codex_admin.execpolicy.posix_shells import shell_targets
from codex_admin.execpolicy.target import Argv, Opaque, Script, Target
from codex_admin.execpolicy.words import Word
from codex_admin.execpolicy.wrapper_table import XARGS
from codex_admin.execpolicy.wrappers import wrapper_targets

__all__ = [
    "eval_targets",
    "find_targets",
    "sg_targets",
    "su_targets",
    "watch_targets",
    "xargs_targets",
]


def find_targets(words: list[Word]) -> list[Target]:
    """``find ... -exec|-execdir|-ok|-okdir COMMAND ;|+``: each command, ``{}`` dynamic."""
    out: list[Target] = []
    args = words[1:]
    i = 0
    while i < len(args):
        if args[i].text in ("-exec", "-execdir", "-ok", "-okdir"):
            end = i + 1
            while end < len(args) and args[end].text not in (";", "+"):
                end += 1
            command = [w if "{}" not in w.text else Word(w.text, False) for w in args[i + 1 : end]]
            out.append(
                Argv(command, "find") if command else Opaque("`find -exec` without a command")
            )
            i = end
        elif not args[i].static and i > 0 and args[i - 1].text in ("-exec", "-execdir"):
            out.append(Opaque("`find -exec` runs a command computed at run time"))
        i += 1
    return out


def xargs_targets(words: list[Word]) -> list[Target]:
    """``xargs [options] [COMMAND]``: the command (default ``echo``) plus words from its input."""
    args = words[1:]
    replace: str | None = None
    for index, word in enumerate(args):
        text = word.text
        if text == "-I" and index + 1 < len(args):
            replace = args[index + 1].text
        elif text.startswith("-I") and len(text) > 2:
            replace = text[2:]
        elif text == "-i" or text == "--replace":
            replace = "{}"
        elif text.startswith(("-i", "--replace=")):
            replace = text.split("=", 1)[1] if "=" in text else text[2:]
    out: list[Target] = []
    for target in wrapper_targets("xargs", XARGS, words, None):
        if isinstance(target, Argv):
            command = [
                Word(w.text, False) if replace and replace in w.text else w for w in target.words
            ]
            out.append(Argv([*command, Word("<input>", False)], "xargs"))
        else:
            out.append(target)
    if not any(isinstance(t, Argv) for t in out):
        out.append(Argv([Word("echo"), Word("<input>", False)], "xargs"))
    return out


def su_targets(name: str, words: list[Word]) -> list[Target]:
    """``su``/``runuser``: -c/--command/--session-command is a shell command; options may come
    after the user (util-linux permutes them); other arguments after the user go to the shell."""
    args = words[1:]
    out: list[Target] = []
    shell_args: list[Word] = []
    seen_user = False
    i = 0
    while i < len(args):
        word = args[i]
        text = word.text
        if not word.static:
            return [Opaque(f"`{name}` gets an argument computed at run time: `{text}`")]
        if text == "--":
            shell_args.extend(args[i + 1 + (0 if seen_user else 1) :])
            break
        option, eq, value = text.partition("=")
        if option in ("-c", "--command", "--session-command"):
            script = Word(value) if eq else (args[i + 1] if i + 1 < len(args) else None)
            if script is not None:
                out.append(Script(script, name))
            i += 1 if eq else 2
            continue
        if name == "runuser" and option in ("-u", "--user"):
            rest = args[i + 2 :] if not eq else args[i + 1 :]
            if rest and rest[0].text == "--":
                rest = rest[1:]
            if rest:
                out.append(Argv(list(rest), name))
            return out
        if text.startswith("-") and text != "-":
            if "c" in text[1:] and not text.startswith("--"):  # a cluster such as -lc
                attached = text[text.index("c") + 1 :]
                if attached:
                    out.append(Script(Word(attached), name))
                elif i + 1 < len(args):
                    out.append(Script(args[i + 1], name))
                    i += 1
            elif (
                option
                in (
                    "-s",
                    "--shell",
                    "-g",
                    "--group",
                    "-G",
                    "--supp-group",
                    "-w",
                    "--whitelist-environment",
                )
                and not eq
            ):
                i += 1
            i += 1
            continue
        if text == "-":
            i += 1
            continue
        if not seen_user:
            seen_user = True
        else:
            shell_args.append(word)
        i += 1
    if shell_args:
        out.extend(shell_targets("sh", [Word("sh"), *shell_args], None, False))
    elif not out:
        out.append(Opaque(f"`{name}` starts a shell that reads commands as they come"))
    return out


def watch_targets(words: list[Word]) -> list[Target]:
    args = words[1:]
    direct = False
    i = 0
    while i < len(args) and args[i].text.startswith("-"):
        text = args[i].text
        if text == "--":
            i += 1
            break
        if text in ("-x", "--exec"):
            direct = True
        if text in ("-n", "--interval", "-q", "--equexit", "--shotsdir") or (
            text.startswith("-") and not text.startswith("--") and text[-1] in "nq"
        ):
            i += 1
        i += 1
    rest = args[i:]
    if not rest:
        return []
    if direct:
        return [Argv(list(rest), "watch")]
    if not all(w.static for w in rest):
        return [Opaque("`watch` runs a command computed at run time")]
    return [Script(Word(" ".join(w.text for w in rest)), "watch")]


def eval_targets(name: str, words: list[Word]) -> list[Target]:
    args = words[1:]
    if name == "eval":
        if not all(w.static for w in args):
            return [Opaque("`eval` runs a string computed at run time")]
        return [Script(Word(" ".join(w.text for w in args)), "eval")] if args else []
    if name == "trap":
        if (
            not args
            or args[0].text in ("-l", "-p", "-P", "-")
            or (len(args) == 1 and args[0].static)
        ):
            return []
        first = args[1] if args[0].text == "--" and len(args) > 1 else args[0]
        if not first.static:
            return [Opaque("`trap` runs a string computed at run time")]
        return [Script(first, "trap")]
    # alias name=value ...
    out: list[Target] = []
    for word in args:
        if "=" in word.text and word.static:
            out.append(Script(Word(word.text.split("=", 1)[1]), "alias"))
        elif not word.static:
            out.append(Opaque("`alias` defines a command computed at run time"))
    return out


def sg_targets(words: list[Word]) -> list[Target]:
    """``sg GROUP [-c] COMMAND``: the command is a script run by ``sh -c``."""
    rest = [w for w in words[2:] if w.text != "-c"]
    if not rest:
        return []
    if not all(w.static for w in rest):
        return [Opaque("`sg` runs a command computed at run time")]
    return [Script(Word(" ".join(w.text for w in rest)), "sg")]
