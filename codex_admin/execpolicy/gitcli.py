"""How git reads its own command line: global options, aliases and commands that run commands.

A ``git push`` rule matches ``git push`` only as argv tokens, but git accepts *global* options
before its subcommand (``git -C . push``, ``git --git-dir=.git push``, ``git -c k=v push``) and
expands aliases (``git -c alias.p=push p``). :func:`normalize` returns the invocation as git
will run it -- ``git SUBCOMMAND ARGS`` -- plus whatever it cannot see through:

* an alias given on the command line (``-c alias.NAME=...``) is expanded; a ``!shell`` alias
  becomes a script to analyse;
* an alias from elsewhere (config files, ``--config-env``, ``GIT_CONFIG_*`` variables) cannot be
  seen, so a subcommand that is not one of git's own is a *problem* (it may be an alias of
  ``push``, or a ``git-NAME`` program on ``PATH``); git's own commands cannot be aliased;
* ``--exec-path=DIR`` makes git run its subcommands from DIR: a problem;
* ``-c KEY=VALUE`` for a key whose value is a command (``core.pager``, ``core.sshCommand``,
  ``core.fsmonitor``, ``diff.external``, ``credential.helper``, filter and merge drivers...) is
  a script to analyse; keys that load or redirect elsewhere (``include.path``, ``protocol.*``,
  ``url.*``, ``core.hooksPath``) are problems;
* options that run a command (``submodule foreach``, ``rebase --exec``, ``bisect run``,
  ``--upload-pack``, ``--receive-pack``, ``difftool --extcmd``, ``filter-branch --*-filter``)
  become scripts or commands to analyse.

The list of git's own commands is ``git --list-cmds=main,nohelpers`` of git 2.39 plus later
additions; a newer built-in missing here only makes the runtime ask instead of allowing.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from codex_admin.execpolicy.option_commands import option_value
from codex_admin.execpolicy.words import Word

__all__ = ["GIT_COMMANDS", "GitCommand", "normalize"]

GIT_COMMANDS = frozenset(
    {
        "add", "am", "annotate", "apply", "archimport", "archive", "bisect", "blame", "branch",
        "bugreport", "bundle", "cat-file", "check-attr", "check-ignore", "check-mailmap",
        "check-ref-format", "checkout", "checkout-index", "cherry", "cherry-pick", "citool",
        "clean", "clone", "column", "commit", "commit-graph", "commit-tree", "config",
        "count-objects", "credential", "credential-cache", "credential-store", "cvsexportcommit",
        "cvsimport", "cvsserver", "daemon", "describe", "diagnose", "diff", "diff-files",
        "diff-index", "diff-pairs", "diff-tree", "difftool", "fast-export", "fast-import",
        "fetch", "fetch-pack", "filter-branch", "fmt-merge-msg", "for-each-ref", "for-each-repo",
        "format-patch", "fsck", "fsck-objects", "fsmonitor--daemon", "gc", "get-tar-commit-id",
        "gitk", "gitweb", "grep", "gui", "hash-object", "help", "hook", "http-backend",
        "http-fetch", "http-push", "imap-send", "index-pack", "init", "init-db", "instaweb",
        "interpret-trailers", "last-modified", "log", "ls-files", "ls-remote", "ls-tree",
        "mailinfo", "mailsplit", "maintenance", "merge", "merge-base", "merge-file",
        "merge-index", "merge-octopus", "merge-one-file", "merge-ours", "merge-recursive",
        "merge-recursive-ours", "merge-recursive-theirs", "merge-resolve", "merge-subtree",
        "merge-tree", "mergetool", "mktag", "mktree", "multi-pack-index", "mv", "name-rev",
        "notes", "p4", "pack-objects", "pack-redundant", "pack-refs", "patch-id", "pickaxe",
        "prune", "prune-packed", "pull", "push", "quiltimport", "range-diff", "read-tree",
        "rebase", "receive-pack", "reflog", "refs", "remote", "remote-ext", "remote-fd",
        "remote-ftp", "remote-ftps", "remote-http", "remote-https", "repack", "replace",
        "replay", "repo", "request-pull", "rerere", "reset", "restore", "rev-list", "rev-parse",
        "revert", "rm", "scalar", "send-email", "send-pack", "shell", "shortlog", "show",
        "show-branch", "show-index", "show-ref", "sparse-checkout", "stage", "stash", "status",
        "stripspace", "submodule", "subtree", "svn", "switch", "symbolic-ref", "tag",
        "unpack-file", "unpack-objects", "update-index", "update-ref", "update-server-info",
        "upload-archive", "upload-pack", "var", "verify-commit", "verify-pack", "verify-tag",
        "version", "whatchanged", "worktree", "write-tree",
    }
)  # fmt: skip
_FLAGS = frozenset(
    {"-p", "--paginate", "-P", "--no-pager", "--bare", "--no-replace-objects", "--no-lazy-fetch",
     "--no-optional-locks", "--no-advice", "--literal-pathspecs", "--glob-pathspecs",
     "--noglob-pathspecs", "--icase-pathspecs"}
)  # fmt: skip
_VALUES = frozenset({"-C", "-c", "--git-dir", "--work-tree", "--namespace", "--super-prefix",
                     "--config-env", "--attr-source", "--list-cmds"})  # fmt: skip
_COMMAND_KEYS = re.compile(
    r"core\.(pager|editor|sshcommand|fsmonitor|askpass|gitproxy|alternaterefscommand)"
    r"|pager\..*|sequence\.editor|diff\.external|diff\..*\.(command|textconv)"
    r"|merge\..*\.driver|filter\..*\.(clean|smudge|process)|credential(\..*)?\.helper"
    r"|gpg(\..*)?\.program|remote\..*\.(uploadpack|receivepack|proxy)|sendemail\..*cmd"
    r"|uploadpack\.packobjectshook|(difftool|mergetool|browser|man)\..*\.(cmd|path)"
    r"|tar\..*\.command|web\.browser|instaweb\..*|ssh\.variant"
)
_OPAQUE_KEYS = re.compile(
    r"include\.path|includeif\..*|protocol\..*|url\..*|core\.hookspath|init\.templatedir"
    r"|core\.worktree|safe\.directory"
)
_QUERIES = frozenset({"--version", "-v", "--help", "-h", "--html-path", "--man-path",
                      "--info-path"})  # fmt: skip
# subcommand options whose value is a shell command (run locally)
_SCRIPT_OPTIONS = {
    "rebase": frozenset({"-x", "--exec"}),
    "fetch": frozenset({"--upload-pack"}),
    "pull": frozenset({"--upload-pack"}),
    "clone": frozenset({"-u", "--upload-pack"}),
    "ls-remote": frozenset({"--upload-pack"}),
    "archive": frozenset({"--exec"}),
    "push": frozenset({"--receive-pack", "--exec"}),
    "send-pack": frozenset({"--receive-pack", "--exec"}),
    "difftool": frozenset({"-x", "--extcmd"}),
    "filter-branch": frozenset({"--env-filter", "--tree-filter", "--index-filter",
                                "--parent-filter", "--msg-filter", "--commit-filter",
                                "--tag-name-filter"}),
}  # fmt: skip


@dataclass
class GitCommand:
    """``words`` as git runs them (``git SUBCOMMAND ...``; None when no subcommand runs),
    the shell scripts and commands it runs on the way, and what cannot be seen."""

    words: list[Word] | None
    scripts: list[Word] = field(default_factory=list)
    commands: list[list[Word]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    globals: bool = False  # global options were given (they change what a rule matched)


def normalize(words: list[Word], depth: int = 0) -> GitCommand:
    """``git [GLOBAL OPTIONS] SUBCOMMAND ARGS`` read as git reads it (see the module docstring)."""
    result = GitCommand(None)
    aliases: dict[str, str] = {}
    args = words[1:]
    i = 0
    while i < len(args):
        word = args[i]
        text = word.text
        if not word.static:
            result.problems.append(f"`git` gets a global option computed at run time: `{text}`")
            return result
        if not text.startswith("-"):
            break
        result.globals = True
        option, eq, value = text.partition("=")
        if text in _QUERIES:
            return result
        if option == "--exec-path":
            if eq:
                result.problems.append("`git --exec-path=DIR` runs git commands from DIR")
            else:
                return result  # prints the path
            i += 1
            continue
        if text in _FLAGS:
            i += 1
            continue
        if option in _VALUES:
            if not eq:
                if i + 1 >= len(args):
                    return result
                value_word = args[i + 1]
                if not value_word.static:
                    result.problems.append(f"`git {option}` gets a value computed at run time")
                value = value_word.text
                i += 2
            else:
                i += 1
            if option == "-c":
                key, _, setting = value.partition("=")
                lowered = key.lower()
                if lowered.startswith("alias."):
                    aliases[key[len("alias.") :]] = setting
                elif _COMMAND_KEYS.fullmatch(lowered):
                    result.scripts.append(Word(setting.removeprefix("!")))
                elif _OPAQUE_KEYS.fullmatch(lowered):
                    result.problems.append(f"`git -c {key}` loads or redirects to code elsewhere")
            elif option == "--config-env" and value.lower().startswith("alias."):
                result.problems.append(
                    "`git --config-env=alias.*` defines an alias from a variable"
                )
            continue
        result.problems.append(f"`git {text}` is a global option this analysis does not know")
        i += 1
    rest = args[i:]
    if not rest:
        return result
    sub = rest[0].text
    if sub in aliases and sub not in GIT_COMMANDS:
        expansion = aliases[sub]
        if expansion.startswith("!"):
            result.scripts.append(Word(expansion[1:] + "".join(" " + w.text for w in rest[1:])))
            return result
        try:
            expanded = [Word(token) for token in shlex.split(expansion)]
        except ValueError:
            result.problems.append(f"`git {sub}` is an alias git cannot split")
            return result
        if depth >= 8 or not expanded:
            result.problems.append(f"`git {sub}` is an alias that expands too deeply")
            return result
        inner = normalize([words[0], *expanded, *rest[1:]], depth + 1)
        inner.globals = True
        inner.problems[:0] = result.problems
        return inner
    if sub not in GIT_COMMANDS:
        result.problems.append(
            f"`git {sub}` is not one of git's own commands: it may be an alias or a `git-{sub}` "
            "program"
        )
    result.words = [words[0], *rest]
    _runs_commands(sub, rest[1:], result)
    return result


def _runs_commands(sub: str, args: list[Word], result: GitCommand) -> None:
    if sub == "submodule" and "foreach" in [w.text for w in args]:
        after = [w for w in args[[w.text for w in args].index("foreach") + 1 :]]
        after = [w for w in after if w.text not in ("--recursive", "-q", "--quiet")]
        if after:
            if all(w.static for w in after):
                result.scripts.append(Word(" ".join(w.text for w in after)))
            else:
                result.problems.append("`git submodule foreach` runs a computed command")
        return
    if sub == "bisect" and args and args[0].text == "run":
        if len(args) > 1:
            result.commands.append(list(args[1:]))
        return
    options = _SCRIPT_OPTIONS.get(sub, frozenset())
    for index in range(len(args)):
        script = option_value(args, index, options)
        if script is not None:
            result.scripts.append(script)
