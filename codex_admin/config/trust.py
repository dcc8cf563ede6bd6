"""Trust records: a trusted project's `.codex` folders load only as they were when trusted.

The threat: a sandboxed command may write inside the workspace. If it creates
`sub/.codex/config.toml` or `sub/.codex/rules/x.rules`, the next run from `sub/` must not load
them as if the user had trusted them. `trust_level = "trusted"` says "I trust this project's
configuration as I reviewed it", so the decision is recorded together with what was trusted:

* When a project is trusted (`codex config trust DIR`, or the first load of a project whose
  trust entry has no record yet -- an entry written by Codex or by hand; recorded before the
  run can execute anything, and even when the project has no `.codex` folder yet), every
  `.codex` folder under the project root is fingerprinted: the relative path of each file,
  folder and symlink inside it, with a SHA-256 of each file's contents and each link's target
  text. The record (project root, time, fingerprints) is kept in
  ``$CODEX_HOME/trusted-projects.json`` (0600; `$CODEX_HOME` is read-only inside the sandbox).
* A recorded folder that disappears is reported (it may have held the user's own `forbidden`
  rules).
* On every load, each trusted project layer is fingerprinted again and must match its record.
  A `.codex` folder that was not recorded (it appeared later) or whose contents differ (a file
  added, changed or removed) is refused: the layer is disabled -- so neither its config nor its
  rules, hooks or skills are used -- with a warning naming the file and the command that
  re-trusts the current contents after a review.
* Whatever the record says, a `.codex` folder, or anything inside it, that is a symlink whose
  target leaves the project is refused, and so is anything that is not a file, folder or link
  (a FIFO would hang the reader). Symlinks that stay inside the project are followed and their
  targets fingerprinted.

Fingerprints compare contents, not times: a file's times can be set by the command that wrote
it, and clocks differ between machines (network file systems). The scan is bounded
(:data:`MAX_SCANNED_DIRS` folders per project, :data:`MAX_ENTRIES` entries and
:data:`MAX_BYTES` per `.codex` folder); a folder the scan did not reach is refused like a new
one, and `codex config trust <that folder>` records it.
"""

from __future__ import annotations

import json
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codex_admin.config.files import read_file_bytes, read_text_file, write_file_atomic
from codex_admin.config.project import Canonical, ProjectDir
from codex_admin.errors import CodexError, Location

__all__ = [
    "MAX_BYTES",
    "MAX_ENTRIES",
    "MAX_SCANNED_DIRS",
    "TRUST_STATE_NAME",
    "LayerRefused",
    "ProjectRecord",
    "TrustGate",
    "TrustStore",
    "fingerprint",
    "layer_key",
    "layer_refusal",
    "now_iso",
    "scan_project",
]

TRUST_STATE_NAME = "trusted-projects.json"
MAX_SCANNED_DIRS = 20_000
MAX_ENTRIES = 4096
MAX_BYTES = 32 * 1024 * 1024
_VERSION = 1

Fingerprint = dict[str, str]  # relative path -> "dir" | "sha256:<hex>" | "link:<target> ..."


class LayerRefused(Exception):
    """A `.codex` folder that may not load whatever the record says (its reason is the text)."""


@dataclass
class ProjectRecord:
    """What was trusted: the project root, when, and each `.codex` folder's fingerprint."""

    root: str
    trusted_at: str
    complete: bool
    layers: dict[str, Fingerprint] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "trusted_at": self.trusted_at,
            "complete": self.complete,
            "layers": self.layers,
        }


class TrustStore:
    """``$CODEX_HOME/trusted-projects.json``: project root -> :class:`ProjectRecord`."""

    def __init__(self, path: Path, records: dict[str, ProjectRecord]) -> None:
        self.path = path
        self.records = records

    @classmethod
    def load(cls, codex_home: Path) -> TrustStore:
        path = codex_home / TRUST_STATE_NAME
        text = read_text_file(path, what="trust record file")
        if text is None:
            return cls(path, {})
        try:
            data = json.loads(text)
            records = {
                root: ProjectRecord(
                    root=root,
                    trusted_at=str(entry["trusted_at"]),
                    complete=bool(entry["complete"]),
                    layers={
                        str(key): {str(k): str(v) for k, v in value.items()}
                        for key, value in entry["layers"].items()
                    },
                )
                for root, entry in data["projects"].items()
            }
        except (ValueError, KeyError, TypeError, AttributeError):
            raise CodexError(
                f"{path} is not a valid trust record file",
                location=Location(path),
                hint="delete it and run `codex config trust DIR` for each project you trust",
            ) from None
        return cls(path, records)

    def save(self) -> None:
        body = {
            "version": _VERSION,
            "projects": {root: rec.to_json() for root, rec in sorted(self.records.items())},
        }
        write_file_atomic(self.path, json.dumps(body, indent=1, sort_keys=True) + "\n")


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def fingerprint(
    codex_dir: Path, project_root: Path, canonical: Canonical | None = None
) -> Fingerprint:
    """The fingerprint of one `.codex` folder; raises :class:`LayerRefused`.

    ``canonical`` shares the loader's cache of canonical paths (deep trees would otherwise
    resolve every component of every path again).
    """
    canon = canonical or Canonical()
    root, top = str(canon(project_root)), str(canon(codex_dir))
    if not _inside(top, root):
        raise LayerRefused(
            f"{codex_dir} is a symlink to {top}, outside the project {project_root}; project"
            " configuration must live inside the project"
        )
    out: Fingerprint = {}
    _walk(top, "", root, out, {top}, [MAX_ENTRIES, MAX_BYTES], codex_dir)
    return out


def _walk(
    real_dir: str,
    prefix: str,
    root: str,
    out: Fingerprint,
    seen: set[str],
    budget: list[int],
    shown: Path,
) -> None:
    """Fingerprint ``real_dir`` into ``out``. Strings, not Paths: this runs on every load, and
    building a Path from a deep absolute path costs more than the system calls."""
    try:
        entries = sorted(os.scandir(real_dir), key=lambda e: e.name)
    except OSError as err:
        raise LayerRefused(f"cannot list {shown / prefix}: {err.strerror or err}") from None
    for entry in entries:
        rel = prefix + entry.name
        budget[0] -= 1
        if budget[0] < 0:
            raise LayerRefused(
                f"{shown} holds more than {MAX_ENTRIES} entries, too many to fingerprint"
            )
        path = entry.path
        info = entry.stat(follow_symlinks=False)
        note = ""
        if stat.S_ISLNK(info.st_mode):
            target = os.path.realpath(path)
            if not _inside(target, root):
                raise LayerRefused(
                    f"{shown / rel} is a symlink to {target}, outside the project; it is"
                    " not loaded (remove the link, or copy what it should load into the"
                    " project)"
                )
            note = f"link:{os.readlink(path)} "
            try:
                info = os.stat(target)
            except OSError:
                out[rel] = note + "dangling"
                continue
            path = target
        if stat.S_ISDIR(info.st_mode):
            out[rel] = note + "dir"
            if path not in seen:
                seen.add(path)
                _walk(path, rel + "/", root, out, seen, budget, shown)
        elif stat.S_ISREG(info.st_mode):
            out[rel] = note + "sha256:" + _digest(path, shown, rel, budget)
        else:
            raise LayerRefused(
                f"{shown / rel} is not a regular file, folder or symlink; configuration"
                " folders may hold only those"
            )


def _inside(path: str, root: str) -> bool:
    """``path`` is canonical ``root`` or below it (both canonical; a string test, no I/O)."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _digest(path: str, shown: Path, rel: str, budget: list[int]) -> str:
    import hashlib  # (with OpenSSL) only when a trusted project has configuration to check

    try:
        data = read_file_bytes(path, what="project file", max_bytes=max(budget[1], 0))
    except CodexError as err:
        raise LayerRefused(f"{shown / rel}: {err.message}") from None
    if data is None:
        raise LayerRefused(f"{shown / rel} disappeared while it was being fingerprinted")
    budget[1] -= len(data)
    return hashlib.sha256(data).hexdigest()


def layer_key(canonical_dir: Path) -> str:
    """How records name the layer of ``canonical_dir/.codex`` (its location, not its target)."""
    return str(canonical_dir / ".codex")


def scan_project(
    root: Path, canonical: Canonical | None = None, codex_home: Path | None = None
) -> tuple[dict[str, Fingerprint], bool]:
    """Fingerprint every `.codex` folder under canonical ``root``: (layers, scan completed).

    Folders that are refused outright are not recorded (a later load refuses them with their
    reason), nor is ``codex_home`` (never a project layer). `.git` folders are not entered;
    symlinked folders are not followed (what they point to inside the project is scanned in
    place, under its canonical name).
    """
    canon = canonical or Canonical()
    home = str(canon(codex_home)) if codex_home is not None else None
    layers: dict[str, Fingerprint] = {}
    stack = [root]
    visited = 0
    while stack:
        directory = stack.pop()
        visited += 1
        if visited > MAX_SCANNED_DIRS:
            return layers, False
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            if entry.name == ".codex":
                try:
                    if entry.is_dir() and os.path.realpath(entry.path) != home:
                        layers[layer_key(directory)] = fingerprint(Path(entry.path), root, canon)
                except (LayerRefused, OSError):
                    pass
                continue
            if entry.name != ".git" and entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
    return layers, True


def layer_refusal(
    record: ProjectRecord,
    key: str,
    codex_dir: Path,
    project_root: Path,
    canonical: Canonical | None = None,
) -> str | None:
    """Why the trusted layer at ``codex_dir`` may not load (None when it matches its record)."""
    again = f"Review it, then run `codex config trust {record.root}` to trust the current contents."
    try:
        current = fingerprint(codex_dir, project_root, canonical)
    except LayerRefused as refused:
        return (
            f"{codex_dir} is not loaded: {refused}. Fix it, then run"
            f" `codex config trust {record.root}`."
        )
    recorded = record.layers.get(key)
    since = f"you trusted {record.root} ({record.trusted_at})"
    if recorded is None:
        scan = "" if record.complete else " or lay beyond the folders scanned then"
        return (
            f"{codex_dir} appeared after {since}{scan}; a sandboxed command may have created"
            f" it, so it is not loaded. {again}"
        )
    if current == recorded:
        return None
    for rel in sorted(set(current) | set(recorded)):
        if rel not in recorded:
            change = "was added"
        elif rel not in current:
            change = "was removed"
        elif current[rel] != recorded[rel]:
            change = "changed"
        else:
            continue
        return (
            f"{codex_dir / rel} {change} after {since}; a sandboxed command may have written"
            f" it, so {codex_dir} is not loaded. {again}"
        )
    return None  # pragma: no cover - unequal dicts always differ in some key


class TrustGate:
    """Decides, for one load, whether each trusted project layer's contents may load.

    The store is read on first need; a project whose trust has no record yet (an entry Codex or
    the user wrote) is recorded now, before anything of this run can write to it.
    """

    def __init__(self, home: Path, root: Path, canon: Canonical) -> None:
        self.home, self.root, self.canon = home, root, canon
        self._record: ProjectRecord | None = None
        self._failure: str | None = None

    def refusal(self, project: ProjectDir) -> str | None:
        record = self._record or self._load()
        if record is None:
            return self._failure
        return layer_refusal(
            record, layer_key(self.canon(project.dir)), project.codex_dir, self.root, self.canon
        )

    def vanished(self, cwd: Path, present: set[Path]) -> list[str]:
        """Warnings for recorded `.codex` folders between root and cwd that are gone.

        Removing a folder can only take configuration away, but what it takes away may be
        the user's own protection (a `forbidden` rule), so it is said rather than silent.
        """
        record = self._record or self._load()
        if record is None:
            return []
        out = []
        for directory in [cwd, *cwd.parents]:
            key = layer_key(self.canon(directory))
            if directory not in present and key in record.layers:
                out.append(
                    f"{key} was removed after you trusted {record.root} ({record.trusted_at});"
                    " its configuration and rules no longer apply. If you did not remove it,"
                    " restore it (for example with `git checkout`)."
                )
            if directory == self.root:
                break
        return out

    def _load(self) -> ProjectRecord | None:
        if self._failure is not None:
            return None
        key = str(self.canon(self.root))
        try:
            store = TrustStore.load(self.home)
            record = store.records.get(key)
            if record is None:
                layers, complete = scan_project(self.canon(self.root), self.canon, self.home)
                record = ProjectRecord(key, now_iso(), complete, layers)
                store.records[key] = record
                store.save()
        except CodexError as err:
            # Fail closed for the project only: the user's own layers still load.
            self._failure = (
                f"{key} is trusted, but its trust record could not be read or written"
                f" ({err.message}); its project configuration is not loaded. Fix"
                f" {self.home / TRUST_STATE_NAME}, then run `codex config trust {key}`."
            )
            return None
        self._record = record
        return record
