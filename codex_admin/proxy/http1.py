"""Strict HTTP/1.1 message-head parsing and framing rules (sans-IO).

The proxy never forwards raw header bytes: it parses the head, refuses anything ambiguous, and
re-serialises what it forwards (attack A18). Refused with 400: obs-fold continuation lines, bare
CR or LF, invalid tokens, ``Content-Length`` together with ``Transfer-Encoding``, more than one
``Content-Length`` (even if equal), a transfer coding other than exactly ``chunked``, more than
one ``Host``, userinfo in an authority (A4). Heads above :data:`MAX_HEAD_BYTES` or
:data:`MAX_HEADERS` are refused with 431.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

__all__ = [
    "HOP_BY_HOP",
    "MAX_HEADERS",
    "MAX_HEAD_BYTES",
    "Authority",
    "Head",
    "ProtocolError",
    "body_framing",
    "forward_headers",
    "parse_authority",
    "parse_head",
    "parse_request_target",
    "serialize_head",
]

MAX_HEAD_BYTES = 32 * 1024
MAX_HEADERS = 100
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authorization",
        "proxy-authenticate",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_VERSION = re.compile(r"^HTTP/1\.[01]$")
# A whole valid header line: name, colon, optional whitespace, value (no edge whitespace).
_HEADER_LINE = re.compile(
    r"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*"
    r"((?:[\x21-\x7e\x80-\xff](?:[\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?)[ \t]*"
)
_STATUS = re.compile(r"[1-9][0-9]{2}")
_LENGTH = re.compile(r"[0-9]{1,18}")
_PORT = re.compile(r"[0-9]{1,5}")
_NOT_IN_AUTHORITY = re.compile(r"[@/?#\\ ]")
_PATH_START = re.compile(r"[/?#]")


class ProtocolError(Exception):
    """A malformed or ambiguous message; ``status`` is what the proxy answers."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Head:
    """A request head (``method target version``) or a response head (``version status reason``).

    Lookups go through an index by lower-cased name, built on the first one: a proxied
    request asks its head and its response's for five or six fields each. ``headers`` is not
    to be changed after a lookup (nothing does: heads are parsed, read and re-serialised).
    """

    start: tuple[str, str, str]
    headers: list[tuple[str, str]]
    _index: dict[str, list[str]] | None = field(default=None, init=False, repr=False, compare=False)

    def get(self, name: str) -> str | None:
        values = self.get_all(name)
        return values[0] if values else None

    def get_all(self, name: str) -> list[str]:
        index = self._index
        if index is None:
            index = {}
            for k, v in self.headers:
                index.setdefault(k.lower(), []).append(v)
            self._index = index
        return list(index.get(name.lower(), ()))

    def connection_tokens(self) -> set[str]:
        tokens: set[str] = set()
        for value in self.get_all("connection"):
            tokens.update(t.strip().lower() for t in value.split(",") if t.strip())
        return tokens


def parse_head(data: bytes, *, request: bool) -> Head:
    """Parse a head ending in CRLFCRLF (the terminator may be included or not)."""
    if len(data) > MAX_HEAD_BYTES:
        raise ProtocolError("request header fields too large", 431)
    text = data.decode("latin-1")
    if text.endswith("\r\n\r\n"):
        text = text[:-4]
    bare = text.replace("\r\n", "")
    if "\r" in bare or "\n" in bare or "\x00" in bare:
        raise ProtocolError("bare CR, LF or NUL in message head")
    lines = text.split("\r\n")
    start_line = lines[0]
    parts = start_line.split(" ", 2)
    if request:
        if len(parts) != 3 or not _TOKEN.match(parts[0]) or not parts[1]:
            raise ProtocolError("malformed request line")
        if not _VERSION.match(parts[2]) or " " in parts[1]:
            raise ProtocolError("malformed request line")
        start = (parts[0], parts[1], parts[2])
    else:
        if len(parts) < 2 or not _VERSION.match(parts[0]) or not _STATUS.fullmatch(parts[1]):
            raise ProtocolError("malformed status line", 502)
        start = (parts[0], parts[1], parts[2] if len(parts) == 3 else "")
    if len(lines) > MAX_HEADERS + 1:
        raise ProtocolError("too many header fields", 431)
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        match = _HEADER_LINE.fullmatch(line)
        if match is None:
            raise _header_error(line)
        headers.append((match[1], match[2]))
    return Head(start, headers)


def _header_error(line: str) -> ProtocolError:
    """Why ``line`` is not a valid header field (the slow path: only for refused input)."""
    if not line:
        return ProtocolError("empty line inside message head")
    if line[0] in " \t":
        return ProtocolError("obsolete line folding is not accepted")
    name, sep, _ = line.partition(":")
    if not sep or not _TOKEN.match(name):
        return ProtocolError("malformed header field")
    return ProtocolError("invalid character in header value")


def body_framing(head: Head, *, request: bool) -> tuple[str, int]:
    """``("length", n)``, ``("chunked", 0)`` or ``("none", 0)`` / ``("close", 0)``.

    Ambiguity is an error (CL+TE, duplicate CL, unknown codings), never a guess.
    """
    lengths = head.get_all("content-length")
    codings = head.get_all("transfer-encoding")
    status = 400 if request else 502
    if lengths and codings:
        raise ProtocolError("both Content-Length and Transfer-Encoding", status)
    if len(lengths) > 1 or (lengths and "," in lengths[0]):
        raise ProtocolError("more than one Content-Length", status)
    if codings:
        if len(codings) != 1 or codings[0].strip().lower() != "chunked":
            raise ProtocolError("unsupported Transfer-Encoding (only chunked)", status)
        return ("chunked", 0)
    if lengths:
        if not _LENGTH.fullmatch(lengths[0]):
            raise ProtocolError("invalid Content-Length", status)
        return ("length", int(lengths[0]))
    return ("none", 0) if request else ("close", 0)


@dataclass(frozen=True)
class Authority:
    host: str  # as written (brackets removed); normalisation happens in the policy
    port: int

    def hostport(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_authority(text: str, default_port: int | None) -> Authority:
    """``host[:port]`` or ``[v6][:port]``; userinfo and empty hosts are refused.

    Results are cached: a client names the same few authorities on every request.
    """
    if len(text) > 300:  # longer than any valid authority: refused below, never cached
        return _parse_authority(text, default_port)
    return _parse_authority_cached(text, default_port)


@lru_cache(maxsize=4096)
def _parse_authority_cached(text: str, default_port: int | None) -> Authority:
    return _parse_authority(text, default_port)


def _parse_authority(text: str, default_port: int | None) -> Authority:
    if not text or _NOT_IN_AUTHORITY.search(text):
        raise ProtocolError("invalid authority")
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ProtocolError("invalid authority")
        host, rest = text[1:end], text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ProtocolError("invalid authority")
        port_text = rest[1:] if rest else None
    elif ":" in text:
        host, _, port_text = text.rpartition(":")
        if ":" in host:
            raise ProtocolError("IPv6 authority must be bracketed")
    else:
        host, port_text = text, None
    if not host:
        raise ProtocolError("missing host")
    if port_text is None or port_text == "":
        if default_port is None:
            raise ProtocolError("missing port")
        return Authority(host, default_port)
    if not _PORT.fullmatch(port_text) or not 1 <= int(port_text) <= 65535:
        raise ProtocolError("invalid port")
    return Authority(host, int(port_text))


_HTTP_ONLY = {"http": 80}


def parse_request_target(
    target: str, schemes: dict[str, int] | None = None
) -> tuple[Authority | None, str]:
    """Absolute-form ``http://authority/path`` -> (authority, origin-form path).

    Origin-form ``/path`` -> (None, path). ``schemes`` maps accepted schemes to default ports
    (plain ``http`` only on the proxy listener); asterisk-form is refused.
    """
    if target.startswith("/"):
        return None, target
    scheme, sep, rest = target.partition("://")
    if not sep:
        raise ProtocolError("request target must be absolute-form (http://host/path)")
    default_port = (schemes or _HTTP_ONLY).get(scheme.lower())
    if default_port is None:
        raise ProtocolError(f"unsupported scheme {scheme!r} (use CONNECT for https)")
    found = _PATH_START.search(rest)
    cut = found.start() if found else len(rest)
    authority = parse_authority(rest[:cut], default_port)
    path = rest[cut:]
    if "#" in path:
        path = path.split("#", 1)[0]
    if not path.startswith("/"):
        path = "/" + path
    return authority, path


def forward_headers(head: Head) -> list[tuple[str, str]]:
    """Drop hop-by-hop fields and every field named in ``Connection``."""
    drop = HOP_BY_HOP | head.connection_tokens()
    return [(k, v) for k, v in head.headers if k.lower() not in drop]


def serialize_head(start: tuple[str, str, str], headers: list[tuple[str, str]]) -> bytes:
    lines = [" ".join(start).rstrip(" ") if start[2] == "" else " ".join(start)]
    lines.extend(f"{k}: {v}" for k, v in headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
