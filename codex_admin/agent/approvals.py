"""Approval requests: what a reviewer is asked (spec runtime §7.1), and what it may look at.

A tool call reaches a reviewer only at an approval boundary the policy defines: an execpolicy
``prompt`` rule, a command asking to run outside the sandbox (``require_escalated``), a retry
without the sandbox after a denial (``on-failure``), a patch writing outside the writable roots,
or a network host outside the allow list. Each boundary asks with one concrete request
(:data:`ApprovalRequest`) and a :class:`ReviewContext`; who answers, and how, is
:mod:`.reviewers`.

Apart from the reviewers because only a request needs these classes: they load with the first
command, patch or network review, not with the session (start-up; pinned in
tests/test_structure.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codex_admin.vocabulary import SandboxPermissions

__all__ = [
    "ApprovalRequest",
    "NetworkApproval",
    "PatchApproval",
    "ReviewContext",
    "ShellApproval",
]


@dataclass(frozen=True)
class ShellApproval:
    """A command that needs approval: why, and with which permissions it wants to run."""

    argv: tuple[str, ...]
    cwd: Path
    reason: str
    sandbox_permissions: SandboxPermissions = SandboxPermissions.USE_DEFAULT
    justification: str | None = None
    prefix_rule: tuple[str, ...] | None = None
    retry_reason: str | None = None
    kind: str = field(init=False, default="shell")

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": self.kind,
            "command": list(self.argv),
            "cwd": str(self.cwd),
            "sandbox_permissions": self.sandbox_permissions.value,
        }
        if self.justification:
            data["justification"] = self.justification
        if self.retry_reason:
            data["retry_reason"] = self.retry_reason
        return data


@dataclass(frozen=True)
class PatchApproval:
    """A patch that writes where the sandbox would not let a command write."""

    cwd: Path
    files: tuple[str, ...]
    patch: str
    reason: str
    kind: str = field(init=False, default="apply_patch")

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.kind,
            "cwd": str(self.cwd),
            "files": list(self.files),
            "patch": self.patch,
        }


@dataclass(frozen=True)
class NetworkApproval:
    """A connection to a host outside the network allow list."""

    host: str
    protocol: str
    port: int
    trigger: tuple[str, ...] | None = None
    kind: str = field(init=False, default="network_access")

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": self.kind,
            "host": self.host,
            "protocol": self.protocol,
            "port": self.port,
        }
        if self.trigger:
            data["trigger"] = list(self.trigger)
        return data


ApprovalRequest = ShellApproval | PatchApproval | NetworkApproval


@dataclass(frozen=True)
class ReviewContext:
    """What a reviewer may look at: the thread, the turn, and the transcript so far."""

    thread_id: str
    turn_id: str
    transcript: Sequence[dict[str, Any]] = ()
    sandbox_mode: str = "read-only"
