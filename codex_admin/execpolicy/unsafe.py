"""Option forms that make a "read" command run programs or write files.

An ``allow`` rule is a prefix, and a prefix can always be extended: ``prefix_rule(["find",
"."])`` also matches ``find . -delete`` and ``find . -exec sh -c ... ;``; ``["git", "log"]``
matches ``git log --output=/etc/x``. Since an explicit allow lets a command skip approval and,
where permitted, run outside the sandbox, :func:`unsafe_option` names the option forms below;
the runtime then ignores the allow rule for that command (it falls back to the heuristics and
stays sandboxed) and says why.

The shipped packs do not rely on this (they allow only prefixes that no extension makes
dangerous, and prove it with ``not_match`` examples Codex itself accepts); this is defence in
depth for rules an administrator writes.
"""

from __future__ import annotations

import itertools
import posixpath
import re
from collections.abc import Sequence

__all__ = ["unsafe_option"]

_FIND = frozenset(
    {"-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fprint0", "-fprintf", "-fls"}
)
_GIT_HARMLESS_GLOBALS = frozenset(
    {"-P", "--no-pager", "--no-optional-locks", "--literal-pathspecs", "--no-advice"}
)
_GIT_OPTIONS = re.compile(
    r"--(output|ext-diff|textconv|upload-pack|receive-pack|exec|extcmd|open-files-in-pager"
    r"|paginate|edit-description|edit|tool|format=.*%\(.*\))(=.*)?|-O.*"
)
_CURL = re.compile(
    r"-[a-zA-Z]*[oODcK].*|--(output|remote-name|remote-name-all|dump-header|cookie-jar"
    r"|trace|trace-ascii|libcurl|config|output-dir|etag-save|hsts|alt-svc|stderr|create-dirs"
    r"|upload-file)(=.*)?|-T.*"
)
_SED_WRITES = re.compile(
    r"(^|[;\n{}])\s*[0-9$,!~/\\a-zA-Z]*?\s*[wWeErR](\s|;|$|})|/[gpIiMm0-9]*[we]"
)


def _git(args: Sequence[str]) -> str | None:
    if args and args[0].startswith("-") and args[0] not in _GIT_HARMLESS_GLOBALS:
        return f"`{args[0]}` before the subcommand changes what git runs or reads"
    for arg in args:
        if _GIT_OPTIONS.fullmatch(arg):
            return f"`{arg}` makes git write a file or run a program"
    return None


def _operands(args: Sequence[str]) -> list[str]:
    return [a for a in args if not a.startswith("-") or a == "-"]


def unsafe_option(argv: Sequence[str]) -> str | None:
    """Why ``argv`` runs programs or writes files despite its read-only prefix, or None."""
    if not argv:
        return None
    name = posixpath.basename(argv[0])
    args = list(argv[1:])
    if name == "find":
        hit = next((a for a in args if a in _FIND), None)
        return f"`find {hit}` runs a program or writes files" if hit else None
    if name == "rg":
        for arg in args:
            if arg.startswith(("--pre", "--hostname-bin", "--search-zip")) or (
                arg.startswith("-") and not arg.startswith("--") and "z" in arg[1:]
            ):
                return f"`rg {arg}` runs a program for each file"
        return None
    if name == "ag":
        hit = next((a for a in args if a.startswith("--pager")), None)
        return f"`ag {hit}` runs a pager program" if hit else None
    if name == "tree":
        hit = next((a for a in args if a.startswith(("-o", "-R", "--output"))), None)
        return f"`tree {hit}` writes files" if hit else None
    if name == "git":
        return _git(args)
    if name == "sort":
        hit = next(
            (a for a in args if a.startswith(("-o", "--output", "--compress-program"))), None
        )
        return f"`sort {hit}` writes a file or runs a program" if hit else None
    if name == "sed":
        if any(a.startswith(("-i", "--in-place", "-f", "--file")) for a in args):
            return "`sed -i` or a script file edits files"
        scripts = [b for a, b in itertools.pairwise(args) if a in ("-e", "--expression")]
        scripts = scripts or _operands(args)[:1]
        if any(_SED_WRITES.search(s) for s in scripts):
            return "the sed script writes files (`w`) or runs programs (`e`)"
        return None
    if name in ("awk", "gawk", "mawk", "nawk"):
        program = next(iter(_operands(args)), "")
        if any(a.startswith(("-f", "-i", "--include", "-E", "--exec")) for a in args) or re.search(
            r"system|\||>|getline|print[f]?\s*>", program
        ):
            return "the awk program writes files or runs programs"
        return None
    if name == "tee" and _operands(args):
        return "`tee FILE` writes files"
    if name == "file" and any(a in ("-C", "--compile") for a in args):
        return "`file -C` writes a compiled magic file"
    if name in ("xxd", "uniq") and len(_operands(args)) >= 2:
        return f"`{name} INPUT OUTPUT` writes OUTPUT"
    if name == "base64" and any(a.startswith(("-o", "--output")) for a in args):
        return "`base64 -o` writes a file"
    if name == "curl":
        hit = next((a for a in args if _CURL.fullmatch(a)), None)
        return f"`curl {hit}` writes files or reads a config that can" if hit else None
    if name == "wget":
        if any(a in ("-O-", "--output-document=-", "--spider") for a in args) or any(
            a == "-O" and b == "-" for a, b in itertools.pairwise(args)
        ):
            return None
        return "wget writes the files it downloads"
    if name in ("less", "more"):
        hit = next((a for a in args if a.startswith(("+", "-o", "-O", "--log-file"))), None)
        return f"`{name} {hit}` runs a command or writes a file" if hit else None
    if name == "man" and any(a.startswith(("-P", "--pager", "-H", "--html")) for a in args):
        return "`man -P` runs a pager program"
    if name == "date" and any(a.startswith(("-s", "--set")) for a in args):
        return "`date -s` sets the clock"
    if name == "yq" and any(a in ("-i", "--inplace") for a in args):
        return "`yq -i` edits files"
    return None
