"""Audit events and the blocked-request ring buffer (spec §12).

Every policy decision becomes one :class:`AuditEvent`; every block also becomes a
:class:`BlockedRequest` kept in a FIFO of the last 200. Observers (the telemetry exporter, the
approval flow) subscribe with :meth:`AuditLog.subscribe`; an optional JSONL file (0600) receives
one line per event. No URL, path or query is ever recorded — only host, port and method.

Each line reaches the file in one ``write(2)`` on an ``O_APPEND`` descriptor, so processes
sharing the file (the workers of `codex proxy run --workers N`) append whole lines: the kernel
positions and writes each append atomically on a local file, and no buffer of ours splits one.
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from codex_admin.errors import CodexError
from codex_admin.proxy.policy import Decision

__all__ = ["BLOCKED_CAPACITY", "AuditEvent", "AuditLog", "AuditObserver", "BlockedRequest"]

BLOCKED_CAPACITY = 200


def _now() -> str:
    """RFC 3339 UTC timestamp with milliseconds, as Codex's audit events use."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class AuditEvent:
    """``codex.network_proxy.policy_decision``: one per decision, allows included."""

    timestamp: str
    scope: str  # "domain" (host policy) | "non_domain" (mode guard, proxy state, protocol)
    decision: str  # "allow" | "deny" | "ask"
    source: str  # "baseline_policy" | "mode_guard" | "proxy_state" | "decider"
    reason: str
    protocol: str  # "http" | "https_connect" | "socks5_tcp" | "socks5_udp" | "https_mitm"
    host: str
    port: int
    method: str = "none"
    client: str = "unknown"
    override: bool = False
    matched_pattern: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "event.name": "codex.network_proxy.policy_decision",
            "event.timestamp": self.timestamp,
            "network.policy.scope": self.scope,
            "network.policy.decision": self.decision,
            "network.policy.source": self.source,
            "network.policy.reason": self.reason,
            "network.policy.override": self.override,
            "network.policy.matched_pattern": self.matched_pattern,
            "network.transport.protocol": self.protocol,
            "server.address": self.host,
            "server.port": self.port,
            "http.request.method": self.method,
            "client.address": self.client,
        }


@dataclass(frozen=True)
class BlockedRequest:
    """One refused request, as kept in the ring buffer."""

    host: str
    reason: str
    client: str
    method: str
    mode: str
    protocol: str
    decision: str
    source: str
    port: int
    timestamp: str

    def to_json(self) -> dict[str, object]:
        return asdict(self)


AuditObserver = Callable[[AuditEvent], None]


class AuditLog:
    """Fan-out of decisions: ring buffer, observers and an optional JSONL file."""

    def __init__(self, *, mode: str, jsonl_path: Path | None = None) -> None:
        self.mode = mode
        self.blocked: deque[BlockedRequest] = deque(maxlen=BLOCKED_CAPACITY)
        self.blocked_total = 0
        self._observers: list[AuditObserver] = []
        self._fd: int | None = None
        if jsonl_path is not None:
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW
            try:
                fd = os.open(jsonl_path, flags, 0o600)
            except OSError as err:
                raise CodexError(
                    f"cannot open audit log {jsonl_path}: {err.strerror or err}",
                    hint="give a writable path whose directory exists (symlinks are refused)",
                ) from None
            self._fd = fd

    def subscribe(self, observer: AuditObserver) -> None:
        self._observers.append(observer)

    def record(
        self, decision: Decision, *, protocol: str, method: str = "none", client: str = "unknown"
    ) -> AuditEvent | None:
        """Record one decision: the one audit helper every protocol handler goes through.

        Returns the event, or None for an allow nobody listens to (no observer, no file):
        building and time-stamping an event per plain-HTTP request nobody reads is measurable.
        """
        blocked = decision.decision != "allow"
        if not blocked and not self._observers and self._fd is None:
            return None
        event = AuditEvent(
            timestamp=_now(),
            scope=decision.scope,
            decision=decision.decision,
            source=decision.source,
            reason=decision.reason,
            protocol=protocol,
            host=decision.host,
            port=decision.port,
            method=method,
            client=client,
            override=decision.override,
            matched_pattern=decision.matched_pattern,
        )
        if blocked:
            self.blocked_total += 1
            self.blocked.append(
                BlockedRequest(
                    host=event.host,
                    reason=event.reason,
                    client=client,
                    method=method,
                    mode=self.mode,
                    protocol=protocol,
                    decision=event.decision,
                    source=event.source,
                    port=event.port,
                    timestamp=event.timestamp,
                )
            )
        if self._fd is not None:
            line = json.dumps(event.to_json(), separators=(",", ":")) + "\n"
            _append(self._fd, line.encode("utf-8"))
        for observer in self._observers:
            observer(event)
        return event

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _append(fd: int, data: bytes) -> None:
    """Append ``data`` with one ``write`` (a short write, e.g. a full disk, continues)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
