"""Host names and addresses as an attacker writes them, reduced to one comparable form.

The deterministic tier must recognise a cloud metadata endpoint however it is spelled:
``169.254.169.254``, ``0xa9fea9fe``, ``2852039166``, ``0251.0376.0251.0376``,
``169.254.43518`` (every form ``inet_aton`` -- and so curl -- accepts), ``[::ffff:a9fe:a9fe]``
(IPv4-mapped IPv6), ``[fd00:ec2:0::254]``, ``http://user@169.254.169.254:80/``, or a wildcard-DNS
name that embeds the address (``169.254.169.254.nip.io``, ``169-254-169-254.sslip.io``).

* :func:`parse_ip` -- an IP literal in any of those forms, or None;
* :func:`normalize_host` -- lower case, no trailing dot, brackets and zone id removed;
* :func:`hosts_in_word` -- the hosts one shell word names (URL authority, ``user@host:path``,
  a bare address or dotted name);
* :func:`hosts_in_text` -- the hosts a transcript entry mentions (URLs, dotted names, IPv4;
  the first and last 128 KiB of a longer entry);
* :class:`HostSet` -- names (exact, or ``*.suffix``) plus networks, with the embedded-address
  check.

Every scan is linear: no backtracking regex ever runs over attacker-controlled text (a
nested-quantifier host pattern took seconds on 27 KB of crafted tool output). Pure functions;
no DNS (the proxy's DNS guard covers names that *resolve* to private addresses).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["HostSet", "hosts_in_text", "hosts_in_word", "normalize_host", "parse_ip"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_INET_ATON = re.compile(r"^(?:0[xX][0-9a-fA-F]+|[0-9]+)(?:\.(?:0[xX][0-9a-fA-F]+|[0-9]+)){0,3}$")
_SCP = re.compile(r"^(?:[^@/\s:]+@)?(\[[0-9a-fA-F:.%]+\]|[A-Za-z0-9.\-]+):(?!//)")
_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_\-]*[A-Za-z0-9_])?")
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-]*")
_IPV4 = re.compile(r"(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}")
_SCHEME = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
_AUTHORITY_STOP = frozenset("/?#'\"<>` \t\r\n\\")
MAX_NAME = 253
MAX_SCHEME = 32
MAX_AUTHORITY = 512
MAX_SCAN = 256 * 1024
_FILE_SUFFIXES = frozenset(
    [
        "py",
        "js",
        "ts",
        "tsx",
        "jsx",
        "json",
        "toml",
        "yaml",
        "yml",
        "md",
        "txt",
        "sh",
        "rs",
        "go",
        "rb",
        "java",
        "c",
        "h",
        "cc",
        "cpp",
        "lock",
        "cfg",
        "ini",
        "log",
        "html",
        "css",
        "xml",
        "csv",
        "env",
        "pem",
        "key",
        "crt",
        "conf",
        "rules",
        "zip",
        "gz",
        "tgz",
        "tar",
        "whl",
        "so",
        "dll",
        "exe",
        "bin",
    ]
)


def _url_authorities(text: str) -> list[str]:
    """The authority of every ``scheme://authority`` in ``text``, in one linear pass (no
    backtracking regex: transcript text is attacker-controlled and can be megabytes)."""
    found: list[str] = []
    index = text.find("://")
    while index != -1:
        start = index
        while start > 0 and index - start < MAX_SCHEME and text[start - 1] in _SCHEME:
            start -= 1
        if start < index and text[start].isalpha():
            begin = end = index + 3
            while (
                end < len(text) and end - begin < MAX_AUTHORITY and text[end] not in _AUTHORITY_STOP
            ):
                end += 1
            if end > begin:
                found.append(text[begin:end])
        index = text.find("://", index + 3)
    return found


def _is_name(text: str) -> bool:
    """A dotted DNS name whose last label is alphabetic (checked label by label, linear)."""
    if len(text) > MAX_NAME or "." not in text:
        return False
    labels = text.split(".")
    tld = labels[-1]
    if not (2 <= len(tld) <= 63 and tld.isascii() and tld.isalpha()):
        return False
    if tld.lower() in _FILE_SUFFIXES:
        return False
    return all(0 < len(label) <= 63 and _LABEL.fullmatch(label) for label in labels[:-1])


def parse_ip(text: str) -> IPAddress | None:
    """An IP literal in any spelling a client accepts (see the module docstring), else None."""
    if len(text) > 64:
        return None
    value = text.strip()
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    value = value.split("%", 1)[0]
    if not value:
        return None
    if ":" in value:
        try:
            address = ipaddress.IPv6Address(value)
        except ValueError:
            return None
        mapped = address.ipv4_mapped
        return mapped if mapped is not None else address
    if not _INET_ATON.match(value):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(value))
    except OSError:
        return None


def normalize_host(host: str) -> str:
    """Lower case, brackets, zone id and trailing dot removed; IP literals canonical."""
    value = host.strip().lower().rstrip(".")
    address = parse_ip(value)
    if address is not None:
        return str(address)
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    return value


def _authority_host(authority: str) -> str | None:
    authority = authority.rsplit("@", 1)[-1]
    if authority.startswith("["):
        end = authority.find("]")
        return authority[: end + 1] if end != -1 else None
    if authority.count(":") > 1:  # a bare IPv6 literal
        return authority
    return authority.split(":", 1)[0] or None


def hosts_in_word(word: str) -> list[str]:
    """Normalised hosts one shell word names. Single-label names count only in a URL or an
    ``scp``-style ``host:path`` (so ``grep metadata`` does not name the host ``metadata``)."""
    found: list[str] = []
    for authority in _url_authorities(word):
        host = _authority_host(authority)
        if host:
            found.append(normalize_host(host))
    if found:
        return list(dict.fromkeys(found))
    if len(word) > MAX_AUTHORITY:
        return []
    if "." not in word and ":" not in word:  # only a bare integer address remains possible
        digits = word.lstrip("@").split("=", 1)[-1]
        address = parse_ip(digits) if digits[:1].isdigit() else None
        return [str(address)] if address is not None else []
    for piece in {word, word.split("=", 1)[-1], word.lstrip("@")}:
        scp = _SCP.match(piece)
        if scp and not piece.startswith(("/", ".", "~")):
            found.append(normalize_host(scp.group(1)))
            continue
        bare = piece.rsplit("@", 1)[-1]
        head = bare.split("/", 1)[0]
        host = _authority_host(head) or ""
        if parse_ip(host) is not None:
            found.append(normalize_host(host))
        elif parse_ip(head) is not None:
            found.append(normalize_host(head))
        elif _is_name(host):
            found.append(normalize_host(host))
    return list(dict.fromkeys(found))


def hosts_in_text(text: str) -> set[str]:
    """Hosts a free-text transcript entry mentions: URL authorities, dotted names, IPv4."""
    if len(text) > MAX_SCAN:  # the head and the tail: bounded work on megabytes of tool output
        text = text[: MAX_SCAN // 2] + "\n" + text[-MAX_SCAN // 2 :]
    found = set()
    for authority in set(_url_authorities(text)):
        host = _authority_host(authority)
        if host:
            found.add(normalize_host(host))
    for match in _TOKEN.finditer(text):
        before = text[match.start() - 1] if match.start() else ""
        if before == "/":
            continue  # a path component
        token = match.group(0).rstrip(".-")
        if _IPV4.fullmatch(token) or _is_name(token):
            found.add(normalize_host(token))
    return found


def _embedded_forms(network: IPNetwork) -> tuple[str, ...]:
    if network.num_addresses != 1 or network.version != 4:
        return ()
    dotted = str(network.network_address)
    return (dotted, dotted.replace(".", "-"), f"{int(network.network_address):08x}")


@dataclass(frozen=True)
class HostSet:
    """Names (``example.com`` exact, ``*.example.com`` any subdomain) and networks (CIDR)."""

    names: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def build(cls, entries: Iterable[str]) -> HostSet:
        """From a rule table's entries; raises ValueError naming a bad entry."""
        names: set[str] = set()
        suffixes: list[str] = []
        networks: list[IPNetwork] = []
        for entry in entries:
            text = entry.strip().lower()
            if "/" in text:
                try:
                    networks.append(ipaddress.ip_network(text, strict=False))
                except ValueError:
                    raise ValueError(f"{entry!r} is not a network (CIDR)") from None
            elif text.startswith("*."):
                suffixes.append(text[1:])
            elif parse_ip(text) is not None:
                address = parse_ip(text)
                assert address is not None
                networks.append(ipaddress.ip_network(address))
            elif text:
                names.add(text.rstrip("."))
            else:
                raise ValueError("an empty host entry")
        return cls(frozenset(names), tuple(suffixes), tuple(networks))

    def __bool__(self) -> bool:
        return bool(self.names or self.suffixes or self.networks)

    def contains(self, host: str) -> bool:
        value = normalize_host(host)
        address = parse_ip(value)
        if address is not None:
            return any(address.version == n.version and address in n for n in self.networks)
        if value in self.names or any(value.endswith(s) for s in self.suffixes):
            return True
        labels = value.replace("-", ".")
        for network in self.networks:
            for form in _embedded_forms(network):
                if form in value or form.replace("-", ".") in labels:
                    return True
        return False
