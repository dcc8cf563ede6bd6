"""The effective network policy: the validated value :mod:`.netconfig` builds from config and
requirements, and the decision engine (:mod:`.policy`) reads.

A module of its own so that building a policy -- every `--network proxy` sandbox run does,
before the command starts -- loads only this value and its patterns, not the engine's request
types. For the same reason :class:`NetworkPolicy` is a ``NamedTuple``, not a frozen dataclass:
creating the dataclass (six generated methods compiled at import) took 9.3M instructions on
Python 3.11, a third of what a proxied `codex sandbox linux -- true` does on top of
`--network none`; the named tuple takes 3.1M. It is as immutable (more: no
``object.__setattr__`` gets around a tuple).
"""

from __future__ import annotations

from typing import NamedTuple

from codex_admin.errors import CodexError
from codex_admin.proxy.patterns import PatternSet

__all__ = ["NetworkPolicy"]


class NetworkPolicy(NamedTuple):
    """The effective, validated network policy (what `build_network_policy` returns)."""

    enabled: bool = False
    mode: str = "full"
    allowed: PatternSet = PatternSet()  # immutable, so one shared empty default is safe
    denied: PatternSet = PatternSet()
    allow_local_binding: bool = False
    mitm: bool = False
    http_port: int | None = None
    socks_port: int | None = None
    enable_socks5: bool = True
    enable_socks5_udp: bool = False
    allow_upstream_proxy: bool = False
    dangerously_allow_non_loopback_proxy: bool = False
    managed_allowed_domains_only: bool = False
    warnings: tuple[str, ...] = ()
    # Requirement floors that no user layer (config, -c, --config-file, network_rule, a CLI
    # flag) can lift; see `build_network_policy`.
    local_literals: PatternSet | None = None  # allow entries that may admit a local literal
    non_loopback_forbidden: bool = False  # requirements: dangerously_allow_non_loopback_proxy
    pinned_ports: tuple[str, ...] = ()  # "http_port" / "socks_port" set by requirements

    @property
    def inspects_https(self) -> bool:
        """TLS is terminated when inspection is on (the default in limited mode)."""
        return self.mitm

    @property
    def literal_allowed(self) -> PatternSet:
        """The allow entries whose explicit literals (``127.0.0.1``, ``localhost``) may admit a
        local/private target: every entry, or only managed ones when requirements set
        ``allow_local_binding = false``."""
        return self.allowed if self.local_literals is None else self.local_literals

    def listener_port(self, kind: str, requested: int | None) -> int:
        """The port of the standalone proxy's ``kind`` (``http``/``socks``) listener.

        ``requested`` (a command-line choice) wins over the configured port, but never over a
        port requirements pin: a conflicting request raises :class:`CodexError`.
        """
        key = f"{kind}_port"
        configured = self.http_port if kind == "http" else self.socks_port
        if key in self.pinned_ports and requested not in (None, configured):
            raise CodexError(
                f"requirements pin the {kind} listener to port {configured}; "
                f"cannot listen on port {requested}",
                hint=f"leave out the port (or use {configured}): "
                f"experimental_network.{key} is set by your administrator",
            )
        return (configured or 0) if requested is None else requested

    def to_json(self) -> dict[str, object]:
        return {
            "enabled": self.enabled,
            "mode": self.mode,
            "allowed_domains": self.allowed.texts(),
            "denied_domains": self.denied.texts(),
            "allow_local_binding": self.allow_local_binding,
            "mitm": self.inspects_https,
            "http_port": self.http_port,
            "socks_port": self.socks_port,
            "enable_socks5": self.enable_socks5,
            "enable_socks5_udp": self.enable_socks5_udp,
            "allow_upstream_proxy": self.allow_upstream_proxy,
            "managed_allowed_domains_only": self.managed_allowed_domains_only,
        }
