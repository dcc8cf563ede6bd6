"""Host normalisation and address classification (sans-IO).

Both request hosts and policy patterns pass through :func:`normalize_host`, so the two sides are
always compared in one canonical form (spec §3, with the secure choices of §15):

* surrounding whitespace trimmed, ``[v6]`` brackets and a ``:port`` suffix removed, lower-cased,
  trailing dots removed (A13);
* Unicode names converted to IDNA A-labels with UTS-46 mapping (A15), so ``bücher.example`` and
  ``xn--bcher-kva.example`` are one host, and full-width digits or dots cannot dodge a rule;
* IPv6 zones kept as ``addr%zone`` (``%25`` decoded) (A12);
* non-canonical IPv4 spellings (``2130706433``, ``0x7f.1``, ``0177.0.0.1``, ``127.1``) refused
  outright instead of being handed to a resolver that would turn them into loopback (A8);
* anything that is not a hostname or an IP literal (``@``, ``/``, ``%``, spaces…) refused.

:func:`is_non_public` classifies addresses, looking through every IPv6 form that embeds an IPv4
address (mapped, compatible, NAT64, 6to4, Teredo) and treating site-local ``fec0::/10`` as
private (A9, A10, A11).
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

__all__ = [
    "HostError",
    "IPAddress",
    "ip_literal",
    "is_local_literal",
    "is_non_public",
    "normalize_host",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class HostError(ValueError):
    """A host string that cannot be a safe target (the HTTP layer answers 400)."""


_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
# A label that looks numeric to inet_aton: decimal, octal (leading 0) or hex (0x...).
_NUMERIC_LABEL = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")
_MAX_HOST_LENGTH = 253


def _split_port(text: str) -> str:
    """Drop brackets and a ``:port`` suffix; unbracketed IPv6 (several colons) is kept whole."""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise HostError(f"unbalanced '[' in host {text!r}")
        rest = text[end + 1 :]
        if rest and not re.fullmatch(r":[0-9]*", rest):
            raise HostError(f"unexpected text after ']' in host {text!r}")
        return text[1:end]
    if text.count(":") == 1:
        return text.split(":", 1)[0]
    return text


def _to_ascii(text: str) -> str:
    """UTS-46 map and encode a Unicode host to A-labels; ASCII input is returned unchanged."""
    if text.isascii():
        return text
    # Imported here to keep start-up cheap: idna (with its tables) costs about 3 ms, and
    # building a policy of ASCII patterns (every `--network proxy` sandbox run) never needs it.
    import idna

    try:
        return idna.encode(text, uts46=True, transitional=False).decode("ascii")
    except idna.IDNAError as err:
        raise HostError(f"invalid internationalised host name {text!r}: {err}") from None


def _canonical_ip(text: str) -> str | None:
    """The canonical literal for an IPv4/IPv6 address (zone kept), or None if not an IP."""
    if "%" in text:
        addr, _, zone = text.partition("%")
        if zone.lower().startswith("25"):
            zone = zone[2:]
        if not zone or not re.fullmatch(r"[a-z0-9_.-]+", zone):
            raise HostError(f"invalid IPv6 zone in host {text!r}")
        try:
            return f"{ipaddress.IPv6Address(addr).compressed}%{zone}"
        except ValueError:
            raise HostError(f"a zone is only valid on an IPv6 address: {text!r}") from None
    try:
        parsed = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        # `::ffff:a.b.c.d` reaches the same host as `a.b.c.d`: one spelling, one policy entry.
        return parsed.ipv4_mapped.compressed
    return parsed.compressed


_CACHE_SIZE = 4096
_CACHEABLE_LENGTH = 300  # longer input (padding) is normalised uncached: the cache stays small


def normalize_host(raw: str, *, allow_wildcards: bool = False) -> str:
    """Return the canonical form of ``raw`` or raise :class:`HostError`.

    ``allow_wildcards`` admits ``*`` and ``?`` (pattern syntax); they are never valid in a
    request host. Results are cached (a proxy sees the same few hosts on every request; errors
    are not cached, and neither is input too long to be a host).
    """
    if len(raw) <= _CACHEABLE_LENGTH:
        return _normalize_cached(raw, allow_wildcards)
    return _normalize(raw, allow_wildcards)


@lru_cache(maxsize=_CACHE_SIZE)
def _normalize_cached(raw: str, allow_wildcards: bool) -> str:
    return _normalize(raw, allow_wildcards)


def _normalize(raw: str, allow_wildcards: bool) -> str:
    text = raw.strip()
    if not text:
        raise HostError("empty host")
    text = _split_port(text).strip()
    text = _to_ascii(text) if not allow_wildcards else _wildcard_to_ascii(text)
    text = text.lower().rstrip(".")
    if not text:
        raise HostError(f"empty host in {raw!r}")
    if len(text) > _MAX_HOST_LENGTH:
        raise HostError(f"host is longer than {_MAX_HOST_LENGTH} characters")
    ip = _canonical_ip(text)
    if ip is not None:
        if not allow_wildcards and ipaddress.ip_address(ip.split("%", 1)[0]).is_unspecified:
            # 0.0.0.0 and :: connect to this machine, under no name a deny list would hold.
            raise HostError(f"unspecified address {raw.strip()!r} is not a destination")
        return ip
    labels = text.split(".")
    if all(_NUMERIC_LABEL.match(label) for label in labels) or _NUMERIC_LABEL.match(labels[-1]):
        raise HostError(
            f"non-canonical IPv4 address {raw.strip()!r}; write it as four decimal octets"
        )
    for label in labels:
        check = label
        if allow_wildcards:
            check = check.replace("*", "a").replace("?", "a")
        if not _LABEL.match(check):
            raise HostError(f"invalid host name {raw.strip()!r}")
    return text


def _wildcard_to_ascii(text: str) -> str:
    """IDNA-encode a pattern label by label, leaving wildcard-bearing labels alone."""
    if text.isascii():
        return text
    out = []
    for label in text.replace("\u3002", ".").replace("\uff0e", ".").split("."):
        out.append(label if ("*" in label or "?" in label) else _to_ascii(label))
    return ".".join(out)


@lru_cache(maxsize=_CACHE_SIZE)
def ip_literal(host: str) -> IPAddress | None:
    """The address of a normalised IP-literal host (zone dropped), else None (cached)."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


_V4_NON_PUBLIC = [
    ipaddress.IPv4Network(net)
    for net in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
    )
]
_V6_NON_PUBLIC = [
    ipaddress.IPv6Network(net)
    for net in (
        "::/128",
        "::1/128",
        "64:ff9b:1::/48",  # local-use NAT64: the embedded address may sit anywhere
        "100::/64",
        "2001:db8::/32",
        "2001:10::/28",
        "2001:20::/28",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
]
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_COMPAT = ipaddress.IPv6Network("::/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SIXTOFOUR = ipaddress.IPv6Network("2002::/16")
_TEREDO = ipaddress.IPv6Network("2001::/32")


def _embedded_v4(addr: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries (and so may route to)."""
    value = int(addr)
    if addr in _MAPPED or addr in _NAT64 or (addr in _COMPAT and value > 1):
        return [ipaddress.IPv4Address(value & 0xFFFFFFFF)]
    if addr in _SIXTOFOUR:
        return [ipaddress.IPv4Address((value >> 80) & 0xFFFFFFFF)]
    if addr in _TEREDO:
        server = ipaddress.IPv4Address((value >> 64) & 0xFFFFFFFF)
        client = ipaddress.IPv4Address(~value & 0xFFFFFFFF)
        return [server, client]
    return []


@lru_cache(maxsize=_CACHE_SIZE)
def is_non_public(addr: IPAddress) -> bool:
    """True for loopback, private, link-local, reserved… and IPv6 forms embedding such IPv4."""
    if isinstance(addr, ipaddress.IPv4Address):
        return any(addr in net for net in _V4_NON_PUBLIC) or addr == ipaddress.IPv4Address(
            "255.255.255.255"
        )
    embedded = _embedded_v4(addr)
    if embedded:
        return any(is_non_public(v4) for v4 in embedded)
    return any(addr in net for net in _V6_NON_PUBLIC)


def is_local_literal(host: str) -> bool:
    """``localhost`` (and names under it) or a non-public IP literal, after normalisation."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    ip = ip_literal(host)
    return ip is not None and is_non_public(ip)
