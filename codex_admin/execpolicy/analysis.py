"""Everything a command will run: through wrappers, shells, scripts, aliases and git itself.

:func:`analyse` starts from the commands the runtime evaluates and follows, recursively,

* wrappers and their options (:mod:`delegators`: ``sudo -Eu root X``, ``env -iS 'X'``,
  ``find -exec X``, ``xargs X``, ``timeout 5 X``, ``flock F X``, ``setpriv ... X``...);
* shells and scripts (``sh -c``, ``su -c``, ``script -c``, heredocs fed to a shell, ``eval``,
  ``trap``, ``alias``), scanned completely (:mod:`scan`), substitutions and all;
* git's own command line (:mod:`gitcli`: global options, ``-c alias.*``, ``-c core.pager=...``,
  ``submodule foreach``...).

It returns every *invocation* reached, each with its words (static or dynamic), and the
*problems*: whatever could run that the analysis cannot see (a computed command name, a script
file, ``parallel``, a git alias from a config file, a variable such as ``BASH_ENV``...). The
caller (:mod:`decide`) matches the prompt/forbidden rules against every invocation and treats a
command with problems as opaque while such rules exist.

``direct`` invocations were reached through argv-level wrappers only (``sudo X``, ``find -exec
X``): they are commands in their own right, and need their own ``allow`` to run outside the
sandbox. Invocations found inside scripts only ever add restrictions. Depth is capped at 8 and
the number of invocations at 128; beyond that the command is opaque.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from codex_admin.execpolicy.delegators import targets
from codex_admin.execpolicy.gitcli import normalize
from codex_admin.execpolicy.scan import code_env, scan_script
from codex_admin.execpolicy.target import Argv, Opaque, Script, program_name
from codex_admin.execpolicy.words import Word

__all__ = [
    "MAX_DEPTH",
    "MAX_INVOCATIONS",
    "Analysis",
    "Invocation",
    "analyse",
    "delegated_commands",
    "invocation_of",
]

MAX_DEPTH = 8
MAX_INVOCATIONS = 128


@dataclass(frozen=True)
class Invocation:
    """One command that runs: its words, how it was reached, and what feeds its stdin."""

    words: list[Word]
    via: str | None = None
    direct: bool = True
    assignments: tuple[str, ...] = ()
    stdin: str | None = None
    stdin_dynamic: bool = False
    scanned: bool = False  # a command of a scanned script (its scan reported a computed name)

    @property
    def texts(self) -> list[str]:
        return [word.text for word in self.words]

    def literal_prefix(self) -> list[str]:
        """The words before the first dynamic one."""
        out: list[str] = []
        for word in self.words:
            if not word.static:
                break
            out.append(word.text)
        return out

    @property
    def dynamic(self) -> bool:
        return not all(word.static for word in self.words)


@dataclass
class Analysis:
    invocations: list[Invocation] = field(default_factory=list)
    # git invocations as git will run them (global options removed, aliases expanded)
    normalized: list[Invocation] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def problem(self, text: str) -> None:
        if text not in self.problems:
            self.problems.append(text)


def invocation_of(argv: list[str]) -> Invocation:
    return Invocation([Word(arg) for arg in argv])


def analyse(roots: list[Invocation], restricted: frozenset[str] = frozenset()) -> Analysis:
    """Follow ``roots`` (see the module docstring). ``restricted``: program names that
    prompt/forbidden rules name (inline interpreter code mentioning one is opaque)."""
    result = Analysis()
    pending: list[tuple[Invocation, int]] = [(root, 0) for root in reversed(roots)]
    seen = 0
    while pending:
        invocation, depth = pending.pop()
        if depth > 0:
            result.invocations.append(invocation)
        seen += 1
        if depth > MAX_DEPTH or seen > MAX_INVOCATIONS:
            result.problem("the command nests wrappers and shells too deeply to inspect")
            break
        words = invocation.words
        if not words:
            continue
        if not words[0].static:
            if not invocation.scanned:
                result.problem(f"the command name `{words[0].text}` is computed at run time")
            continue
        for name in invocation.assignments:
            if code_env(name):
                result.problem(f"`{name}` is set, which can make programs run other code")
        found = _targets(invocation, restricted, result)
        for target in reversed(found):
            if isinstance(target, Opaque):
                result.problem(target.reason)
            elif isinstance(target, Argv):
                # a wrapper's command inherits its standard input (`sudo sh <<EOF`)
                child = Invocation(
                    target.words,
                    target.via,
                    invocation.direct,
                    target.assignments,
                    invocation.stdin,
                    invocation.stdin_dynamic,
                )
                pending.append((child, depth + 1))
            else:
                pending.extend((child, depth + 1) for child in reversed(_script(target, result)))
    return result


def _targets(
    invocation: Invocation, restricted: frozenset[str], result: Analysis
) -> list[Argv | Script | Opaque]:
    words = invocation.words
    if program_name(words[0]) == "git":
        git = normalize(words)
        result.problems.extend(p for p in git.problems if p not in result.problems)
        if git.words is not None and git.globals:
            result.normalized.append(Invocation(git.words, "git", invocation.direct))
        # git feeds its pager, editor, hooks and helpers on standard input
        found: list[Argv | Script | Opaque] = [
            Script(s, "git", stdin_dynamic=True) for s in git.scripts
        ]
        found += [Argv(c, "git") for c in git.commands]
        return found
    return list(
        targets(
            words,
            stdin=invocation.stdin,
            stdin_dynamic=invocation.stdin_dynamic,
            restricted=restricted,
        )
    )


def _script(target: Script, result: Analysis) -> list[Invocation]:
    if not target.text.static:
        result.problem(f"`{target.via}` runs a script computed at run time: `{target.text.text}`")
        return []
    scan = scan_script(target.text.text)
    for problem in scan.problems:
        result.problem(f"in `{target.via}`'s script: {problem}")
    return [
        Invocation(
            command.words,
            target.via,
            False,
            tuple(command.assignments),
            command.stdin,
            command.stdin_dynamic or target.stdin_dynamic,
            scanned=True,
        )
        for command in scan.commands
    ]


def delegated_commands(argv: list[str]) -> tuple[list[list[str]], bool]:
    """The static commands ``argv`` runs besides itself, and whether something it runs could
    not be inspected (the older, string-only view of :func:`analyse`)."""
    result = analyse([invocation_of(list(argv))])
    commands = [inv.literal_prefix() for inv in result.invocations if inv.words]
    return [c for c in commands if c], bool(result.problems)
