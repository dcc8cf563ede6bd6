"""Judge a patch's targets against plain sandbox data before anything is read or written.

In the agent a patch is a write, so before :func:`~.apply.preview` reads a file the targets are
checked here. Input is plain data (:class:`TargetPolicy`: writable roots, protected names and
paths, ``deny_read``), so the governance layer builds it from its sandbox plan and tests build it
by hand. Every target is resolved on the filesystem view exactly as the applier will resolve it
(Codex's lexical join, then the kernel's walk through every symlink component), and gets:

========  ======================================================================================
verdict   when
========  ======================================================================================
deny      the write goes through a symlink from inside the writable roots to a place outside
          them; the target or a file read is covered by ``deny_read`` (a requirement: approval
          cannot lift it); the target is a FIFO/socket/device; the path cannot be resolved
ask       outside the writable roots; inside a protected name (``.git``, ``.codex``,
          ``.agents`` at any depth) or under a protected path (``$CODEX_HOME``, the system dir);
          a regular file with more than one hard link
allow     everything else
========  ======================================================================================

Hard links: the applier never writes through a hard link (it replaces the name with a new
inode, so other names keep the old bytes) and never creates one. A target with ``st_nlink > 1``
still needs approval, because its other names cannot be found cheaply: one of them may be a
protected or ``deny_read`` file, and the preview would show its contents in a diff.

The verdicts are advice for the approval layer: "ask" under ``approval_policy = never`` is a
refusal. The check and the write are separate steps, so :func:`~.apply.commit` takes the report
that was approved, judges the targets again just before writing and refuses if any now lands
elsewhere or judges differently (a symlink swapped in meanwhile), and re-reads every file it
replaces; what is left is the window between that re-check and the ``rename`` itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import PurePosixPath

from codex_admin.apply_patch.fs_types import FileKind, FileSystem
from codex_admin.apply_patch.model import AddFile, DeleteFile, Patch, UpdateFile
from codex_admin.apply_patch.paths import Resolved, absolute, normalize, resolve
from codex_admin.pathrules import DenyReadRules, is_glob

__all__ = [
    "PROTECTED_NAMES",
    "TargetCheck",
    "TargetPolicy",
    "TargetReport",
    "Verdict",
    "check_targets",
]

#: Names kept read-only inside every writable root (the sandbox mounts them read-only too).
PROTECTED_NAMES: tuple[str, ...] = (".git", ".codex", ".agents")


class Verdict(StrEnum):
    ALLOW = "allow"
    ASK = "ask"
    DENY = "deny"


_RANK = {Verdict.ALLOW: 0, Verdict.ASK: 1, Verdict.DENY: 2}


@dataclass(frozen=True)
class TargetPolicy:
    """Plain data describing where the agent may write (absolute paths; globs in deny_read)."""

    writable_roots: tuple[str, ...] = ()
    protected_names: tuple[str, ...] = PROTECTED_NAMES
    protected_paths: tuple[str, ...] = ()
    deny_read: tuple[str, ...] = ()


@dataclass(frozen=True)
class TargetCheck:
    """One path a patch touches, where it really lands, and the verdict with its reasons.

    ``operation`` is add, update, delete, move_from (read, then removed) or move_to.
    """

    path: str
    absolute: PurePosixPath
    real: PurePosixPath
    operation: str
    verdict: Verdict
    reasons: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "absolute": str(self.absolute),
            "real": str(self.real),
            "operation": self.operation,
            "verdict": self.verdict.value,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class TargetReport:
    """Every target of a patch; ``verdict`` is the strictest of them."""

    targets: tuple[TargetCheck, ...] = field(default_factory=tuple)
    #: the policy the targets were judged against (so :func:`~.apply.commit` can judge again).
    policy: TargetPolicy | None = None

    @property
    def verdict(self) -> Verdict:
        worst = Verdict.ALLOW
        for target in self.targets:
            if _RANK[target.verdict] > _RANK[worst]:
                worst = target.verdict
        return worst

    @property
    def reasons(self) -> list[str]:
        return [f"{t.path}: {r}" for t in self.targets for r in t.reasons]

    def to_json(self) -> dict[str, object]:
        return {"verdict": self.verdict.value, "targets": [t.to_json() for t in self.targets]}


class _Judge:
    def __init__(self, fs: FileSystem, policy: TargetPolicy) -> None:
        self.fs = fs
        self.policy = policy
        self.roots = self._both(policy.writable_roots)
        self.protected = self._both(policy.protected_paths)
        resolved_deny = [
            str(self._real(PurePosixPath(e))) for e in policy.deny_read if not is_glob(e)
        ]
        self.deny = DenyReadRules([*policy.deny_read, *resolved_deny])

    def _real(self, path: PurePosixPath) -> PurePosixPath:
        try:
            return resolve(self.fs, normalize(path)).path
        except OSError:
            return normalize(path)

    def _both(self, paths: tuple[str, ...]) -> tuple[PurePosixPath, ...]:
        """Each path as written and as resolved (so either spelling counts)."""
        out: list[PurePosixPath] = []
        for text in paths:
            lexical = normalize(text)
            out += [lexical, self._real(lexical)]
        return tuple(dict.fromkeys(out))

    def root_of(self, path: PurePosixPath) -> PurePosixPath | None:
        best: PurePosixPath | None = None
        for root in self.roots:
            if (path == root or root in path.parents) and (
                best is None or len(root.parts) > len(best.parts)
            ):
                best = root
        return best

    def protected_name(self, path: PurePosixPath) -> str | None:
        root = self.root_of(path)
        inside = path.relative_to(root).parts if root is not None else path.parts[1:]
        for name in inside:
            if name in self.policy.protected_names:
                return name
        return None

    def protected_path(self, path: PurePosixPath) -> PurePosixPath | None:
        for protected in self.protected:
            if path == protected or protected in path.parents:
                return protected
        return None

    def check(self, raw: str, operation: str) -> TargetCheck:
        lexical = absolute(self.fs.cwd, raw)
        reasons: list[tuple[Verdict, str]] = []
        removes = operation in ("delete", "move_from")
        reads = operation in ("update", "move_from")
        try:
            landing = self._landing(lexical, follow=not removes)
            read = resolve(self.fs, lexical) if reads else None
        except OSError as error:
            reason = f"cannot be resolved: {error.strerror or error}"
            return TargetCheck(raw, lexical, lexical, operation, Verdict.DENY, (reason,))
        real = landing.path
        self._judge_location(lexical, landing, reasons)
        for checked in (lexical, real, *([read.path] if read is not None else [])):
            entry = self.deny.match(checked)
            if entry is not None:
                reasons.append((Verdict.DENY, f"{checked} is covered by deny_read ({entry})"))
                break
        for resolved in (landing, read):
            if resolved is None or resolved.stat is None:
                continue
            if resolved.stat.kind is FileKind.OTHER and not removes:
                reasons.append((Verdict.DENY, f"{resolved.path} is not a regular file"))
            if resolved.stat.kind is FileKind.FILE and resolved.stat.nlink > 1:
                reasons.append(
                    (
                        Verdict.ASK,
                        f"{resolved.path} has {resolved.stat.nlink} hard links; its other names"
                        " may be outside the writable roots or protected",
                    )
                )
        verdict = Verdict.ALLOW
        for level, _ in reasons:
            if _RANK[level] > _RANK[verdict]:
                verdict = level
        unique = tuple(dict.fromkeys(text for _, text in reasons))
        return TargetCheck(raw, lexical, real, operation, verdict, unique)

    def _landing(self, lexical: PurePosixPath, *, follow: bool) -> Resolved:
        """Where the write (or, for a delete, the unlinked entry) really is."""
        if follow:
            return resolve(self.fs, lexical)
        parent = resolve(self.fs, lexical.parent)
        entry = parent.path / lexical.name
        stat = self.fs.lstat(entry) if parent.stat is not None else None
        return Resolved(path=entry, stat=stat, missing=0 if stat else 1, links=parent.links)

    def _judge_location(
        self, lexical: PurePosixPath, landing: Resolved, reasons: list[tuple[Verdict, str]]
    ) -> None:
        real = landing.path
        if self.root_of(real) is None:
            if landing.links and self.root_of(lexical) is not None:
                reasons.append(
                    (
                        Verdict.DENY,
                        f"the path goes through a symlink ({landing.links[0]}) to {real}, outside"
                        " the writable roots",
                    )
                )
            else:
                reasons.append((Verdict.ASK, f"{real} is outside the writable roots"))
        for path in dict.fromkeys((lexical, real, *landing.links)):
            name = self.protected_name(path)
            if name is not None:
                reasons.append((Verdict.ASK, f"{path} is inside a protected {name}"))
                break
        for path in dict.fromkeys((lexical, real)):
            protected = self.protected_path(path)
            if protected is not None:
                reasons.append((Verdict.ASK, f"{path} is under the protected path {protected}"))
                break


def check_targets(patch: Patch, fs: FileSystem, policy: TargetPolicy) -> TargetReport:
    """Resolve and judge every path ``patch`` names; reads nothing but ``lstat``/``readlink``."""
    judge = _Judge(fs, policy)
    targets: list[TargetCheck] = []
    for hunk in patch.hunks:
        if isinstance(hunk, AddFile):
            targets.append(judge.check(hunk.path, "add"))
        elif isinstance(hunk, DeleteFile):
            targets.append(judge.check(hunk.path, "delete"))
        elif isinstance(hunk, UpdateFile) and hunk.move_path is None:
            targets.append(judge.check(hunk.path, "update"))
        elif isinstance(hunk, UpdateFile) and hunk.move_path is not None:
            targets.append(judge.check(hunk.path, "move_from"))
            targets.append(judge.check(hunk.move_path, "move_to"))
    return TargetReport(tuple(targets), policy)


def same_judgement(before: TargetReport, after: TargetReport) -> bool:
    """True when every target still lands on the same real path with the same verdict."""

    def key(report: TargetReport) -> list[tuple[str, PurePosixPath, Verdict]]:
        return [(t.operation, t.real, t.verdict) for t in report.targets]

    return key(before) == key(after)
