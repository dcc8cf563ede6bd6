"""Build the effective :class:`NetworkPolicy` from the ``[network]`` table and requirements.

Input is plain TOML-shaped dicts (so this works without the config engine). The user table::

    [network]
    enabled = true
    mode = "limited"                 # "full" | "limited"
    allow_local_binding = false
    mitm = false
    http_port = 3128                 # used by standalone `codex proxy run` only
    socks_port = 8081
    allow_upstream_proxy = false
    [network.domains]
    "**.example.com" = "allow"
    "ads.example.com" = "deny"       # "allow" | "deny" | "none"; deny wins on duplicates

Legacy ``allowed_domains`` / ``denied_domains`` lists are accepted too. The managed
``experimental_network`` requirements clamp it (spec §2.3): ``false`` in requirements turns a
feature off, managed denies are a floor, managed allows a baseline (unioned with the user's
unless ``managed_allowed_domains_only``), the managed ``mode`` is a ceiling (limited < full),
ports may be pinned, and the global wildcard ``*`` is refused in managed allow lists and every
deny list. Problems raise :class:`~codex_admin.errors.CodexError` naming the source and key.

Requirements are a floor no user layer can lift, whichever way the user tries: the user table,
``-c``, ``--config-file``, a rules file's ``network_rule`` or a command-line flag. Each
restrictive managed value is enforced where the looser behaviour would otherwise come from:

* ``enabled = false`` beats `proxy run` / `network check` assuming true;
* ``allow_local_binding = false`` beats a user's explicit literal allow (``127.0.0.1``,
  ``169.254.169.254``, ``localhost``): only managed allow entries can then admit a
  local/private target (:attr:`NetworkPolicy.literal_allowed`);
* ``dangerously_allow_non_loopback_proxy = false`` beats ``--dangerously-allow-non-loopback``;
* ``http_port`` / ``socks_port`` beat ``--http`` / ``--socks`` on another port
  (:meth:`NetworkPolicy.listener_port`);
* ``mode = "limited"`` beats ``--mode full``; ``mitm``, ``allow_upstream_proxy``,
  ``enable_socks5`` and ``enable_socks5_udp`` ``= false`` beat ``--mitm`` and a user ``true``;
* ``denied_domains`` beat every user allow, ``*`` included;
* ``managed_allowed_domains_only = true`` beats user and ``network_rule`` allows and the
  decider.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from codex_admin.errors import CodexError, Location
from codex_admin.proxy.hosts import is_local_literal
from codex_admin.proxy.netpolicy import NetworkPolicy
from codex_admin.proxy.patterns import PatternError, PatternSet

__all__ = ["build_network_policy"]

_MODES = {"limited": 0, "full": 1}
_BOOL_KEYS = (
    "enabled",
    "allow_local_binding",
    "mitm",
    "allow_upstream_proxy",
    "enable_socks5",
    "enable_socks5_udp",
    "dangerously_allow_non_loopback_proxy",
)
_KNOWN = {
    *_BOOL_KEYS,
    "mode",
    "domains",
    "allowed_domains",
    "denied_domains",
    "http_port",
    "socks_port",
    "proxy_url",
    "socks_url",
    "unix_sockets",
    "dangerously_allow_all_unix_sockets",
}
_MANAGED_KNOWN = {
    *_KNOWN,
    "managed_allowed_domains_only",
    "danger_full_access_denylist_only",
    "dangerously_allow_non_loopback_admin",
    "allow_unix_sockets",
}


class _Reader:
    """Typed access to one table with errors that name the source and the key."""

    def __init__(self, table: Mapping[str, Any], source: str, prefix: str) -> None:
        self.table = table
        self.source = source
        self.prefix = prefix

    def error(self, key: str, message: str, hint: str | None = None) -> CodexError:
        return CodexError(
            f"{self.prefix}.{key}: {message}", location=Location(self.source), hint=hint
        )

    def flag(self, key: str) -> bool | None:
        value = self.table.get(key)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {value!r}")
        return value

    def port(self, key: str, *, allow_zero: bool) -> int | None:
        """A port; 0 (an ephemeral port) is accepted in user config only."""
        value = self.table.get(key)
        if value is None:
            return None
        low = 0 if allow_zero else 1
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 65535:
            raise self.error(key, f"expected a port number {low}-65535, got {value!r}")
        return value

    def mode(self) -> str | None:
        value = self.table.get("mode")
        if value is None:
            return None
        if value not in _MODES:
            raise self.error("mode", f'expected "full" or "limited", got {value!r}')
        return str(value)

    def domains(self) -> tuple[list[str], list[str]]:
        """(allow, deny) from the ``domains`` map plus the legacy lists; deny wins."""
        allow: list[str] = []
        deny: list[str] = []
        for key, target in (("allowed_domains", allow), ("denied_domains", deny)):
            value = self.table.get(key)
            if value is None:
                continue
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise self.error(key, "expected a list of domain patterns (strings)")
            target.extend(value)
        mapping = self.table.get("domains")
        if mapping is not None:
            if not isinstance(mapping, Mapping):
                raise self.error("domains", 'expected a table of "pattern" = "allow" | "deny"')
            for pattern, verdict in mapping.items():
                if verdict == "allow":
                    allow.append(pattern)
                elif verdict == "deny":
                    deny.append(pattern)
                elif verdict != "none":
                    raise self.error(
                        f"domains.{pattern!r}",
                        f'expected "allow", "deny" or "none", got {verdict!r}',
                    )
        return allow, deny

    def unknown(self, known: set[str]) -> list[str]:
        return [
            f"{self.source}: unknown key {self.prefix}.{k} ignored"
            for k in self.table
            if k not in known
        ]


def _compile(reader: _Reader, key: str, items: Iterable[str], *, allow_global: bool) -> PatternSet:
    try:
        return PatternSet.build(list(items), allow_global=allow_global)
    except PatternError as err:
        raise reader.error(
            key,
            str(err),
            hint="use an exact host, *.domain (subdomains) or **.domain (apex and subdomains)",
        ) from None


def build_network_policy(
    network: Mapping[str, Any] | None,
    managed: Mapping[str, Any] | None,
    *,
    extra_allowed: Iterable[str] = (),
    extra_denied: Iterable[str] = (),
    network_source: str = "config.toml",
    managed_source: str = "requirements.toml",
) -> NetworkPolicy:
    """Merge the user ``[network]`` table with managed ``experimental_network`` requirements.

    ``extra_allowed``/``extra_denied`` carry execpolicy ``network_rule`` decisions; they are
    treated like user entries (so managed-only allow lists ignore extra allows).
    """
    user = _Reader(network or {}, network_source, "network")
    req = _Reader(managed or {}, managed_source, "experimental_network")
    warnings = user.unknown(_KNOWN) + req.unknown(_MANAGED_KNOWN)

    user_allow, user_deny = user.domains()
    user_allow += list(extra_allowed)
    user_deny += list(extra_denied)
    managed_allow, managed_deny = req.domains()
    _compile(req, "allowed_domains", managed_allow, allow_global=False)
    _compile(req, "denied_domains", managed_deny, allow_global=False)
    _compile(user, "denied_domains", user_deny, allow_global=False)

    only_managed = req.flag("managed_allowed_domains_only") is True
    if only_managed:
        dropped = [p for p in user_allow if p not in managed_allow]
        if dropped:
            warnings.append(
                f"{managed_source}: managed_allowed_domains_only ignores user allow entries "
                + ", ".join(dropped)
            )
        allow_items = managed_allow
    else:
        allow_items = managed_allow + user_allow
    allowed = _compile(user, "allowed_domains", allow_items, allow_global=True)
    denied = _compile(user, "denied_domains", managed_deny + user_deny, allow_global=False)

    def clamp(key: str, default: bool) -> bool:
        value = user.flag(key)
        value = default if value is None else value
        if req.flag(key) is False and value:
            warnings.append(f"{key} = true is not permitted by {managed_source}; using false")
            return False
        return value

    mode = user.mode() or "full"
    ceiling = req.mode()
    if ceiling is not None and _MODES[mode] > _MODES[ceiling]:
        warnings.append(
            f'network.mode = "{mode}" is wider than {managed_source} allows; using "{ceiling}"'
        )
        mode = ceiling

    http_port = req.port("http_port", allow_zero=False) or user.port("http_port", allow_zero=True)
    socks_port = req.port("socks_port", allow_zero=False) or user.port(
        "socks_port", allow_zero=True
    )
    local_literals = None
    if req.flag("allow_local_binding") is False:
        # A floor: the explicit-literal exception of the local guard is the admin's to grant.
        local_literals = _compile(req, "allowed_domains", managed_allow, allow_global=False)
        lifted = sorted(
            {
                p.text
                for p in PatternSet.build(allow_items, allow_global=True).patterns
                if p.is_explicit
                and is_local_literal(p.text)
                and local_literals.explicit(p.text) is None
            }
        )
        if lifted:
            warnings.append(
                f"allow entries {', '.join(lifted)} cannot reach local/private addresses: "
                f"{managed_source} sets allow_local_binding = false"
            )
    pinned = tuple(k for k in ("http_port", "socks_port") if req.port(k, allow_zero=False))
    return NetworkPolicy(
        enabled=clamp("enabled", False),
        mode=mode,
        allowed=allowed,
        denied=denied,
        local_literals=local_literals,
        non_loopback_forbidden=req.flag("dangerously_allow_non_loopback_proxy") is False,
        pinned_ports=pinned,
        allow_local_binding=clamp("allow_local_binding", False),
        mitm=clamp("mitm", mode == "limited"),
        http_port=http_port,
        socks_port=socks_port,
        enable_socks5=clamp("enable_socks5", True),
        enable_socks5_udp=clamp("enable_socks5_udp", False),
        allow_upstream_proxy=clamp("allow_upstream_proxy", False),
        dangerously_allow_non_loopback_proxy=clamp("dangerously_allow_non_loopback_proxy", False),
        managed_allowed_domains_only=only_managed,
        warnings=tuple(warnings),
    )
