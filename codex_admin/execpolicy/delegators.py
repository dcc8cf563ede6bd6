"""Programs that run other programs, and how to find what they run (argv level).

Prefix rules match argv[0], so ``sudo -Eu root git push`` or ``flock F git push`` would escape a
``git push`` forbid unless the runtime looks through the wrapper. :func:`targets` reads one
invocation the way the program's own parser does and returns what it will run, as
:mod:`target` values: an :class:`~codex_admin.execpolicy.target.Argv` (a command), a
:class:`~codex_admin.execpolicy.target.Script` (shell text to analyse) or an
:class:`~codex_admin.execpolicy.target.Opaque` (something whose effect cannot be seen).

This module is the dispatcher, one family of programs per module:

* :mod:`posix_shells` -- ``sh -c``, ``bash -s``, script files, standard input; other shells'
  syntax (fish, csh, PowerShell...) is never analysed;
* :mod:`wrappers` + :mod:`wrapper_table` -- argv wrappers read by their option grammar
  (``env``, ``sudo``, ``timeout``, ``flock``, ``unshare``, ``bwrap``...);
* :mod:`runners` -- ``find -exec``, ``xargs``, ``su -c``, ``watch``, ``sg``, ``eval``,
  ``trap``, ``alias``;
* :mod:`interpreters` -- inline code (``python -c``, ``perl -e``, ``awk``, ``sed``'s ``e``);
* :mod:`option_commands` -- commands in option values (``rsync -e``, ``tar --to-command``)
  and ``ssh HOST COMMAND``;
* here -- programs that are opaque as soon as they get arguments (``source``, ``parallel``,
  ``at``, editors, ``tmux``, ``crontab``, pagers).

:mod:`analysis` applies :func:`targets` recursively with depth and size limits.
"""

from __future__ import annotations

from codex_admin.execpolicy.interpreters import interpreter_targets, is_interpreter, sed_targets
from codex_admin.execpolicy.option_commands import option_targets
from codex_admin.execpolicy.posix_shells import OTHER_SHELLS, POSIX_SHELLS, shell_targets
from codex_admin.execpolicy.runners import (
    eval_targets,
    find_targets,
    sg_targets,
    su_targets,
    watch_targets,
    xargs_targets,
)
from codex_admin.execpolicy.target import Opaque, Target, program_name
from codex_admin.execpolicy.words import Word
from codex_admin.execpolicy.wrapper_table import SPECS
from codex_admin.execpolicy.wrappers import wrapper_targets

__all__ = ["targets"]

# programs that are never analysed when they get commands or code: their language is too large
_OPAQUE_WITH_ARGS = {
    "parallel": "GNU parallel runs commands built from its arguments and input",
    ".": "`.` runs a script file",
    "source": "`source` runs a script file",
    "at": "`at` runs commands read later",
    "batch": "`batch` runs commands read later",
    "screen": "`screen` runs a command in a new terminal",
    "vim": "vim can run commands", "vi": "vi can run commands", "nvim": "nvim can run commands",
    "ex": "ex can run commands", "view": "vim can run commands", "emacs": "emacs can run code",
    "gdb": "gdb can run commands",
}  # fmt: skip
_TMUX_QUERIES = frozenset(
    {
        "ls",
        "list-sessions",
        "list-windows",
        "list-panes",
        "list-clients",
        "kill-server",
        "kill-session",
        "has-session",
        "-V",
    }
)


def targets(
    words: list[Word],
    *,
    stdin: str | None = None,
    stdin_dynamic: bool = False,
    restricted: frozenset[str] = frozenset(),
) -> list[Target]:
    """What the invocation ``words`` runs besides itself (see the module docstring).

    ``stdin`` is a static script fed to it (heredoc), ``stdin_dynamic`` says its input comes
    from elsewhere; ``restricted`` are program names prompt/forbidden rules name (inline code
    mentioning one is opaque).
    """
    if not words or not words[0].static:
        return []
    name = program_name(words[0])
    if name == "busybox" and len(words) > 1 and words[1].static:
        applet = program_name(words[1])
        if applet in ("sh", "ash", "hush"):
            return shell_targets(applet, words[1:], stdin, stdin_dynamic)
    if name in POSIX_SHELLS:
        return shell_targets(name, words, stdin, stdin_dynamic)
    if name in OTHER_SHELLS:
        if len(words) > 1 or stdin is not None or stdin_dynamic:
            return [Opaque(f"`{name}` scripts are not analysed")]
        return []
    if name in SPECS:
        return wrapper_targets(name, SPECS[name], words, stdin)
    if name == "find":
        return find_targets(words)
    if name == "xargs":
        return xargs_targets(words)
    if name in ("su", "runuser"):
        return su_targets(name, words)
    if name == "sg":
        return sg_targets(words)
    if name == "watch":
        return watch_targets(words)
    if name in ("eval", "trap", "alias"):
        return eval_targets(name, words)
    if name in _OPAQUE_WITH_ARGS:
        return [Opaque(_OPAQUE_WITH_ARGS[name])] if len(words) > 1 or stdin else []
    if name == "tmux":
        if len(words) > 1 and words[1].text not in _TMUX_QUERIES:
            return [Opaque("tmux runs commands it is given")]
        return []
    if name == "crontab":
        if any(w.text not in ("-l", "-r", "-i") for w in words[1:]) or stdin is not None:
            return [Opaque("`crontab` installs commands that run later")]
        return []
    if name in ("less", "more", "most"):
        if any(w.text.startswith("+") and ("!" in w.text or "|" in w.text) for w in words[1:]):
            return [Opaque(f"`{name}` runs a shell command it is given")]
        return []
    if name == "man":
        if any(w.text.startswith(("-P", "--pager", "-H", "--html")) for w in words[1:]):
            return [Opaque("`man` runs a pager or browser it is given")]
        return []
    if name == "sed":
        return sed_targets(words)
    if is_interpreter(name):
        return interpreter_targets(name, words, stdin, restricted)
    return option_targets(name, words)
