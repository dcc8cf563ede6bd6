"""The deterministic tier: decide the clear cases from the rule table, without a model.

:func:`decide_deterministic` returns a :class:`RuleDecision` naming the rule, or None when no
rule decides (the model tier's job; offline, the guardian then fails closed). Decision order:

1. every ``deny`` rule, in table order -- the first that matches names the decision;
2. then the ``allow`` rules (``read_only``, ``workspace_patch``) -- all of their conditions
   must hold;
3. otherwise None.

A deny always beats an allow, and an allow needs positive proof: only execpolicy's
structured, literal split of a script (never the lexical view, see :mod:`.shellview`) can make
a shell action low risk, and an opaque script never is. The matchers below implement the
kinds listed in :data:`codex_admin.guardian.rules.KINDS`; their parameters come from the table.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

from codex_admin.guardian.hosts import HostSet, hosts_in_text, hosts_in_word
from codex_admin.guardian.paths import PathEnv, PathPattern, path_candidates
from codex_admin.guardian.request import (
    ActionKind,
    NetworkAction,
    PatchAction,
    ReviewRequest,
    ShellAction,
)
from codex_admin.guardian.rules import Rule, RuleTable
from codex_admin.guardian.shellview import ShellView, view_shell
from codex_admin.guardian.verdict import Outcome, RiskLevel

__all__ = ["DeterministicContext", "RuleDecision", "decide_deterministic"]

_VAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
_GLOB_CHARS = re.compile(r"[*?\[]")
_VALUE_OPTIONS = {
    "git": frozenset({"-C", "-c", "--git-dir", "--work-tree", "--namespace", "--exec-path"}),
    "npm": frozenset({"--prefix", "-w", "--workspace"}),
    "systemctl": frozenset({"-H", "--host", "-M", "--machine"}),
}
_WRITE_ALL_OPERANDS = frozenset(
    {"tee", "touch", "truncate", "chmod", "chown", "chgrp", "chattr", "rm", "unlink", "shred",
     "mv", "sed", "gsed", "perl"}
)  # fmt: skip
_WRITE_LAST_OPERAND = frozenset({"cp", "install", "ln", "rsync", "scp", "gcp", "ditto"})
_FETCH_CLIENTS = frozenset({"curl", "wget", "http", "https", "xh", "httpie", "aria2c"})


@dataclass(frozen=True)
class DeterministicContext:
    """Where the review happens: home / $CODEX_HOME, and the workspace's writable roots."""

    paths: PathEnv
    workspace_roots: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuleDecision:
    rule: Rule

    @property
    def outcome(self) -> Outcome:
        return self.rule.decision

    @property
    def risk(self) -> RiskLevel:
        return self.rule.risk

    @property
    def reason(self) -> str:
        return self.rule.reason


def _operands(args: Sequence[str], program: str = "") -> list[str]:
    """Non-option arguments (everything after ``--`` counts as an operand)."""
    out: list[str] = []
    takes_value = _VALUE_OPTIONS.get(program, frozenset())
    skip = False
    for index, arg in enumerate(args):
        if skip:
            skip = False
            continue
        if arg == "--":
            out.extend(args[index + 1 :])
            break
        if arg in takes_value:
            skip = True
            continue
        if arg.startswith("-") and arg != "-":
            continue
        out.append(arg)
    return out


def _glob_any(patterns: Iterable[str], values: Iterable[str]) -> bool:
    lowered = [v.lower() for v in values]
    return any(fnmatch.fnmatchcase(v, p.lower()) for p in patterns for v in lowered)


def _host_covered(host: str, mentions: set[str]) -> bool:
    return any(host == m or host.endswith("." + m) for m in mentions)


@dataclass(frozen=True)
class _PatternSet:
    """Several path globs as one regex, plus their anchors for ancestor checks."""

    regex: re.Pattern[str] | None
    anchors: tuple[str, ...]

    def within(self, path: str) -> bool:
        if path == "/":
            return bool(self.anchors)
        prefix = path.rstrip("/") + "/"
        return any(anchor == path or anchor.startswith(prefix) for anchor in self.anchors)


@lru_cache(maxsize=256)
def _pattern_set(patterns: tuple[str, ...], env: PathEnv) -> _PatternSet:
    compiled: list[PathPattern] = [env.pattern(p) for p in patterns]
    regex = "|".join(f"(?:{c.regex.pattern})" for c in compiled)
    anchors = tuple(c.anchor for c in compiled if c.anchor is not None)
    return _PatternSet(re.compile(regex) if regex else None, anchors)


@dataclass
class _Subject:
    """One request plus everything derived from it, computed at most once per review."""

    request: ReviewRequest
    context: DeterministicContext

    @property
    def env(self) -> PathEnv:
        return self.context.paths

    def path_matches(self, path: str, patterns: Sequence[str], *, within: bool) -> bool:
        compiled = _pattern_set(tuple(patterns), self.env)
        if compiled.regex is not None and compiled.regex.fullmatch(path):
            return True
        return within and compiled.within(path)

    @cached_property
    def action_hosts(self) -> tuple[str, ...]:
        view = self.view
        if view is None:
            return ()
        words = dict.fromkeys((*view.argv, *view.words))
        return tuple(dict.fromkeys(h for w in words for h in hosts_in_word(w)))

    @cached_property
    def view(self) -> ShellView | None:
        action = self.request.action
        if isinstance(action, ShellAction):
            return view_shell(action.command, action.cwd)
        if isinstance(action, NetworkAction) and action.trigger:
            return view_shell(
                action.trigger,
                self.context.workspace_roots[0] if self.context.workspace_roots else "/",
            )
        return None

    def word_paths(self, view: ShellView) -> Iterator[str]:
        for word in view.words:
            for candidate in path_candidates(word):
                resolved = self.env.resolve(candidate, view.cwd)
                if resolved is not None:
                    yield resolved

    @cached_property
    def resolved_words(self) -> tuple[str, ...]:
        view = self.view
        return tuple(dict.fromkeys(self.word_paths(view))) if view else ()

    @cached_property
    def real_words(self) -> tuple[str, ...]:
        """:attr:`resolved_words` plus, for paths that exist, where their symlinks lead
        (``cat notes.txt`` where notes.txt -> ~/.ssh/id_rsa reads the key)."""
        return tuple(dict.fromkeys(p for w in self.resolved_words for p in (w, _real(w))))

    @cached_property
    def write_targets(self) -> tuple[str, ...]:
        view = self.view
        if view is None:
            return ()
        raw: list[str] = list(view.redirect_targets)
        for command in view.commands:
            if not command:
                continue
            name = posixpath.basename(command[0])
            args = list(command[1:])
            operands = _operands(args, name)
            if name in ("sed", "gsed", "perl") and not any(
                a.startswith("-i")
                or a.startswith("--in-place")
                or (a.startswith("-") and "i" in a and name == "perl")
                for a in args
            ):
                continue
            if name in _WRITE_ALL_OPERANDS:
                raw.extend(operands)
            elif name in _WRITE_LAST_OPERAND and operands:
                raw.append(operands[-1])
                for index, arg in enumerate(args[:-1]):
                    if arg in ("-t", "--target-directory"):
                        raw.append(args[index + 1])
            elif name == "dd":
                raw.extend(a[3:] for a in args if a.startswith("of="))
            elif name in _FETCH_CLIENTS:
                for index, arg in enumerate(args[:-1]):
                    if arg in ("-o", "--output", "-O", "--output-document"):
                        raw.append(args[index + 1])
                raw.extend(
                    a.split("=", 1)[1]
                    for a in args
                    if a.startswith(("--output=", "--output-document="))
                )
        out: list[str] = []
        for target in raw:
            resolved = self.env.resolve(target, view.cwd)
            if resolved is not None:
                out.append(resolved)
        return tuple(dict.fromkeys(out))

    @cached_property
    def patch_added(self) -> str:
        action = self.request.action
        if not isinstance(action, PatchAction):
            return ""
        lines: list[str] = []
        adding = False
        for line in action.patch.splitlines():
            if line.startswith("*** Add File:"):
                adding = True
                continue
            if line.startswith("*** "):
                adding = False
                continue
            if line.startswith("+") or (adding and not line.startswith("-")):
                lines.append(line[1:] if line.startswith("+") else line)
        return "\n".join(lines)

    @cached_property
    def mentions(self) -> tuple[set[str], set[str]]:
        """Hosts mentioned by (trusted, untrusted) transcript entries."""
        trusted: set[str] = set()
        untrusted: set[str] = set()
        for entry in self.request.transcript:
            (trusted if entry.trusted else untrusted).update(hosts_in_text(entry.text))
        return trusted, untrusted


# ----------------------------------------------------------------------------------- matchers


def _command_hosts(command: Sequence[str]) -> list[str]:
    return [host for word in command[1:] for host in hosts_in_word(word)]


def _match_host(rule: Rule, subject: _Subject) -> bool:
    action = subject.request.action
    if isinstance(action, NetworkAction):
        return rule.hosts.contains(action.host)
    return any(rule.hosts.contains(host) for host in subject.action_hosts)


def _sent_words(command: Sequence[str], auth_options: Sequence[str]) -> Iterator[str]:
    """A command's words minus the values of options that authenticate the sender itself."""
    skip = False
    for word in command:
        if skip:
            skip = False
            continue
        if word in auth_options:
            skip = True
            continue
        if any(word.startswith(option + "=") for option in auth_options if option.startswith("--")):
            continue
        yield word


def _secret_source(rule: Rule, subject: _Subject, view: ShellView) -> bool:
    secrets = rule.strings("secrets")
    env_globs = rule.strings("secret_env")
    auth = rule.strings("auth_options")
    for command in view.commands:
        for word in _sent_words(command, auth):
            if word == view.script:  # the wrapper's whole script: its commands are listed too
                continue
            for candidate in path_candidates(word):
                path = subject.env.resolve(candidate, view.cwd)
                if path is not None and (
                    subject.path_matches(path, secrets, within=True)
                    or subject.path_matches(_real(path), secrets, within=True)
                ):
                    return True
            if _glob_any(env_globs, _VAR.findall(word)):
                return True
    dumps = set(rule.strings("env_dumps"))
    for command in view.commands:
        name = posixpath.basename(command[0]) if command else ""
        if name not in dumps:
            continue
        operands = [a for a in _operands(command[1:]) if "=" not in a]
        if name == "printenv" and operands:
            if _glob_any(env_globs, operands):
                return True
            continue
        if name == "export" and "-p" not in command[1:]:
            continue
        if name == "declare" and not any(a in ("-p", "-x", "-xp", "-px") for a in command[1:]):
            continue
        if not operands:
            return True
    return False


def _senders(rule: Rule, view: ShellView) -> list[tuple[str, ...]]:
    programs = set(rule.strings("senders"))
    pairs = {tuple(s.split()) for s in rule.strings("sender_subcommands")}
    found: list[tuple[str, ...]] = []
    for command in view.commands:
        if not command:
            continue
        name = posixpath.basename(command[0])
        first = _operands(command[1:], name)[:1]
        if name in ("rsync", "scp", "sftp") and not _command_hosts(command):
            continue  # a local copy, not a transfer
        if (
            name in programs
            or (first and (name, first[0]) in pairs)
            or any("/dev/tcp/" in w or "/dev/udp/" in w for w in command)
        ):
            found.append(command)
    return found


def _match_secret_egress(rule: Rule, subject: _Subject) -> bool:
    view = subject.view
    if view is None:
        return False
    senders = _senders(rule, view)
    if not senders or not _secret_source(rule, subject, view):
        return False
    destinations = [h for c in senders for h in _command_hosts(c)]
    action = subject.request.action
    if isinstance(action, NetworkAction):
        destinations.append(action.host)
    trusted: HostSet = rule.hosts
    return not (trusted and destinations and all(trusted.contains(h) for h in destinations))


def _is_upload(rule: Rule, command: Sequence[str]) -> bool:
    name = posixpath.basename(command[0])
    args = list(command[1:])
    if name in rule.strings("upload_programs"):
        return True
    if name not in _FETCH_CLIENTS:
        return False
    flags = [a.split("=", 1)[0] for a in args if a.startswith("-")]
    if _glob_any(rule.strings("upload_flags"), flags):
        return True
    methods = {m.upper() for m in rule.strings("upload_methods")}
    for index, arg in enumerate(args):
        following = args[index + 1].upper() if index + 1 < len(args) else ""
        if arg in ("-X", "--request", "--method") and following in methods:
            return True
        if arg.startswith("-X") and arg[2:].upper() in methods:
            return True
        if arg.startswith(("--request=", "--method=")) and arg.split("=", 1)[1].upper() in methods:
            return True
    return name in ("http", "https", "xh") and bool(args) and args[0].upper() in methods


def _match_untrusted_upload(rule: Rule, subject: _Subject) -> bool:
    view = subject.view
    if view is None:
        return False
    trusted, untrusted = subject.mentions
    if not untrusted:
        return False
    for command in view.commands:
        if not command or not _is_upload(rule, command):
            continue
        for host in _command_hosts(command):
            if _host_covered(host, untrusted) and not _host_covered(host, trusted):
                return True
    return False


def _deletion_targets(view: ShellView) -> Iterator[str]:
    for command in view.commands:
        if not command:
            continue
        name = posixpath.basename(command[0])
        args = list(command[1:])
        if name == "rm":
            before = args[: args.index("--")] if "--" in args else args
            recursive = any(
                a == "--recursive"
                or (a.startswith("-") and not a.startswith("--") and ("r" in a or "R" in a))
                for a in before
            )
            if recursive:
                yield from _operands(args)
        elif name == "find":
            deleting = "-delete" in args or any(
                a in ("-exec", "-execdir", "-ok", "-okdir")
                and i + 1 < len(args)
                and posixpath.basename(args[i + 1]) in ("rm", "shred", "unlink")
                for i, a in enumerate(args)
            )
            if deleting:
                for arg in args:
                    if arg.startswith(("-", "(", "!")):
                        break
                    yield arg
        elif name == "rsync" and any(a.startswith("--delete") for a in args):
            operands = _operands(args)
            if operands:
                yield operands[-1]


def _match_delete(rule: Rule, subject: _Subject) -> bool:
    view = subject.view
    if view is None:
        return False
    env = subject.env
    protected = rule.strings("protected")
    for word in _deletion_targets(view):
        target = env.resolve(word, view.cwd)
        if target is None:
            continue
        globbed = bool(_GLOB_CHARS.search(word))
        if globbed:
            parts = target.split("/")
            fixed = []
            for part in parts:
                if _GLOB_CHARS.search(part):
                    break
                fixed.append(part)
            target = "/".join(fixed) or "/"
        target = target.rstrip("/") or "/"
        if subject.path_matches(target, protected, within=False):
            return True
        if rule.params.get("home_ancestors", True) and (
            target == env.home or env.home.startswith(target.rstrip("/") + "/") or target == "/"
        ):
            return True
        if rule.params.get("git_dirs", True) and (
            posixpath.basename(target) == ".git"
            or "/.git/objects" in target + "/"
            or "/.git/refs" in target + "/"
        ):
            return True
    return False


def _match_command(rule: Rule, subject: _Subject) -> bool:
    view = subject.view
    if view is None:
        return False
    programs = set(rule.strings("program"))
    subcommands = rule.strings("subcommand")
    groups: Sequence[Sequence[str]] = rule.params.get("args", ())
    excluded = rule.strings("not_args")
    for command in view.commands:
        if not command:
            continue
        name = posixpath.basename(command[0])
        if name not in programs:
            continue
        args = list(command[1:])
        if subcommands:
            first = _operands(args, name)[:1]
            if not first or not _glob_any(subcommands, first):
                continue
        if all(_glob_any(group, args) for group in groups) and not _glob_any(excluded, args):
            return True
    return False


def _match_writes(rule: Rule, subject: _Subject) -> bool:
    paths = rule.strings("paths")
    action = subject.request.action
    if isinstance(action, PatchAction):
        return any(subject.path_matches(f, paths, within=False) for f in action.files)
    return any(subject.path_matches(t, paths, within=True) for t in subject.write_targets)


def _match_mentions(rule: Rule, subject: _Subject) -> bool:
    paths = rule.strings("paths")
    return any(subject.path_matches(p, paths, within=False) for p in subject.resolved_words)


def _payload(rule: Rule, text: str) -> bool:
    return any(regex.search(text) for regex in rule.regexes)


def _match_startup_fetch(rule: Rule, subject: _Subject) -> bool:
    paths = rule.strings("paths")
    action = subject.request.action
    if isinstance(action, PatchAction):
        touched = any(subject.path_matches(f, paths, within=False) for f in action.files)
        return touched and _payload(rule, subject.patch_added)
    view = subject.view
    if view is None:
        return False
    writes = any(subject.path_matches(t, paths, within=False) for t in subject.write_targets)
    schedulers = set(rule.strings("programs"))
    scheduled = any(
        command
        and posixpath.basename(command[0]) in schedulers
        and not any(a in ("-l", "--list", "-r") for a in command[1:])
        for command in view.commands
    )
    return (writes or scheduled) and _payload(rule, view.text)


def _match_pattern(rule: Rule, subject: _Subject) -> bool:
    if isinstance(subject.request.action, PatchAction):
        return _payload(rule, subject.patch_added)
    view = subject.view
    return view is not None and _payload(rule, view.text)


def _match_read_only(rule: Rule, subject: _Subject) -> bool:
    view = subject.view
    if view is None or not isinstance(subject.request.action, ShellAction) or not view.known_safe():
        return False
    excluded = (*rule.strings("exclude_paths"), *subject.request.unreadable_paths)
    if any(subject.path_matches(p, excluded, within=True) for p in subject.real_words):
        return False
    env_globs = rule.strings("exclude_env")
    return not any(_glob_any(env_globs, _VAR.findall(word)) for word in view.words)


def _real(path: str) -> str:
    """``path`` with the symlinks of its existing components followed (lexical otherwise)."""
    try:
        return os.path.realpath(path)
    except (OSError, ValueError):
        return path


def _inside(path: str, roots: Sequence[str], resolve: bool) -> bool:
    """``path`` strictly inside one of ``roots``; with ``resolve``, after following the symlinks
    of every component that exists (a link inside the workspace may point out of it)."""
    norm = os.path.realpath if resolve else posixpath.normpath
    target = norm(path)
    for root in roots:
        base = norm(root).rstrip("/")
        if target != base and target.startswith(base + "/"):
            return True
    return False


def _match_workspace_patch(rule: Rule, subject: _Subject) -> bool:
    action = subject.request.action
    if not isinstance(action, PatchAction) or not action.files:
        return False
    if len(action.files) > int(rule.params.get("max_files", 10)):
        return False
    if len(action.patch.encode("utf-8")) > int(rule.params.get("max_bytes", 64 * 1024)):
        return False
    if rule.params.get("require_user_message", True) and not any(
        e.role == "user" for e in subject.request.transcript
    ):
        return False
    roots = subject.context.workspace_roots or (action.cwd,)
    excluded = rule.strings("exclude")
    for path in action.files:
        if not _inside(path, roots, resolve=False) or not _inside(path, roots, resolve=True):
            return False
        real = os.path.realpath(path)
        if subject.path_matches(path, excluded, within=False) or subject.path_matches(
            real, excluded, within=False
        ):
            return False
    return True


_MATCHERS = {
    "host": _match_host,
    "secret_egress": _match_secret_egress,
    "untrusted_upload": _match_untrusted_upload,
    "delete": _match_delete,
    "command": _match_command,
    "writes": _match_writes,
    "mentions": _match_mentions,
    "startup_fetch": _match_startup_fetch,
    "pattern": _match_pattern,
    "read_only": _match_read_only,
    "workspace_patch": _match_workspace_patch,
}


def decide_deterministic(
    request: ReviewRequest, table: RuleTable, context: DeterministicContext
) -> RuleDecision | None:
    """The rule that decides ``request``, or None (see the module docstring)."""
    subject = _Subject(request, context)
    kind: ActionKind = request.action.kind
    for rules in (table.deny_rules, table.allow_rules):
        for rule in rules:
            if kind in rule.actions and _MATCHERS[rule.kind](rule, subject):
                return RuleDecision(rule)
    return None
