"""Validation of builtin arguments with Codex's order and exact error texts (spec §1).

The prelude in :mod:`starlark_runner` hands every argument over as ``[starlark_type, value]``
(lists and tuples as ``[type, [encoded items]]``), so the messages can name Starlark types
(``got tuple``) even though starlark-pyo3 converts tuples to lists. Every function here raises
:class:`BuiltinError` with the text Codex prints after ``starlark error: ``.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from typing import Any

from codex_admin.execpolicy.model import Decision, PatternToken
from codex_admin.execpolicy.policy import expand_home
from codex_admin.execpolicy.starlark_runner import BuiltinError

__all__ = [
    "decode_examples",
    "decode_pattern",
    "network_decision",
    "network_protocol",
    "normalize_network_host",
    "optional_decision",
    "optional_justification",
    "validate_host_executable",
]

_SCALARS = {"string", "int", "bool", "NoneType", "float"}


def _split(enc: Any) -> tuple[str, Any]:
    """Unpack an encoded value defensively (the private builtins are reachable from user code)."""
    if isinstance(enc, list) and len(enc) == 2 and isinstance(enc[0], str):
        return enc[0], enc[1]
    raise BuiltinError("invalid call of an internal builtin; call prefix_rule/network_rule")


def _type_error(param: str, expected: str, actual: str) -> BuiltinError:
    return BuiltinError(
        f"Type of parameter `{param}` doesn't match, expected `{expected}`, actual `{actual}`"
    )


def _string_param(enc: Any, param: str) -> str | None:
    kind, value = _split(enc)
    if kind == "NoneType":
        return None
    if kind != "string" or not isinstance(value, str):
        raise _type_error(param, "str", kind)
    return value


def _list_items(enc: Any, param: str) -> list[Any] | None:
    kind, value = _split(enc)
    if kind == "NoneType":
        return None
    if kind != "list" or not isinstance(value, list):
        raise _type_error(param, "list", kind)
    return value


def optional_decision(enc: Any) -> Decision:
    text = _string_param(enc, "decision")
    if text is None:
        return Decision.ALLOW
    try:
        return Decision.parse(text)
    except ValueError as err:
        raise BuiltinError(str(err)) from None


def optional_justification(enc: Any) -> str | None:
    text = _string_param(enc, "justification")
    if text is not None and not text.strip():
        raise BuiltinError("invalid rule: justification cannot be empty")
    return text


def decode_pattern(enc: Any) -> list[PatternToken]:
    items = _list_items(enc, "pattern")
    if items is None:
        raise _type_error("pattern", "list", "NoneType")
    if not items:
        raise BuiltinError("invalid pattern element: pattern cannot be empty")
    tokens: list[PatternToken] = []
    for item in items:
        kind, value = _split(item)
        if kind == "string" and isinstance(value, str):
            tokens.append(value)
        elif kind == "list" and isinstance(value, list):
            if not value:
                raise BuiltinError("invalid pattern element: pattern alternatives cannot be empty")
            alternatives: list[str] = []
            for member in value:
                mkind, mvalue = _split(member)
                if mkind != "string" or not isinstance(mvalue, str):
                    raise BuiltinError(
                        "invalid pattern element: pattern alternative must be a string "
                        f"(got {mkind})"
                    )
                alternatives.append(mvalue)
            tokens.append(alternatives[0] if len(alternatives) == 1 else tuple(alternatives))
        else:
            raise BuiltinError(
                "invalid pattern element: pattern element must be a string or list of strings "
                f"(got {kind})"
            )
    return tokens


_PLAIN_EXAMPLE = re.compile(r"[^'\"\\]*")
_SHLEX_SPACE = re.compile(r"[ \t\r\n]+")


def _shell_split(text: str) -> list[str]:
    """POSIX shlex split; examples without quotes or backslashes take a fast path."""
    if _PLAIN_EXAMPLE.fullmatch(text):
        return [token for token in _SHLEX_SPACE.split(text) if token]
    return shlex.split(text)


def decode_examples(enc: Any, param: str) -> list[tuple[str, ...]]:
    items = _list_items(enc, param)
    if items is None:
        return []
    examples: list[tuple[str, ...]] = []
    for item in items:
        kind, value = _split(item)
        if kind == "string" and isinstance(value, str):
            try:
                tokens = _shell_split(value)
            except ValueError:
                raise BuiltinError(
                    "invalid example: example string has invalid shell syntax"
                ) from None
            if not tokens:
                raise BuiltinError("invalid example: example cannot be an empty string")
            examples.append(tuple(tokens))
        elif kind == "list" and isinstance(value, list):
            if not value:
                raise BuiltinError("invalid example: example cannot be an empty list")
            tokens = []
            for member in value:
                mkind, mvalue = _split(member)
                if mkind != "string" or not isinstance(mvalue, str):
                    raise BuiltinError(
                        f"invalid example: example tokens must be strings (got {mkind})"
                    )
                tokens.append(mvalue)
            examples.append(tuple(tokens))
        else:
            raise BuiltinError(
                f"invalid example: example must be a string or list of strings (got {kind})"
            )
    return examples


def validate_host_executable(name_enc: Any, paths_enc: Any) -> tuple[str, tuple[str, ...]]:
    """Validate ``host_executable(name, paths)``; returns (name, normalized unique paths)."""
    name = _string_param(name_enc, "name")
    if name is None:
        raise _type_error("name", "str", "NoneType")
    items = _list_items(paths_enc, "paths")
    if items is None:
        raise _type_error("paths", "list", "NoneType")
    if not name:
        raise BuiltinError("invalid rule: host_executable name cannot be empty")
    if "/" in name or name in (".", "..") or "\0" in name:
        raise BuiltinError(
            f"invalid rule: host_executable name must be a bare executable name (got {name})"
        )
    paths: list[str] = []
    for item in items:
        kind, raw = _split(item)
        if kind != "string" or not isinstance(raw, str):
            raise BuiltinError(f"invalid rule: host_executable paths must be strings (got {kind})")
        expanded = expand_home(raw)
        if not expanded.startswith("/"):
            raise BuiltinError(
                "invalid rule: host_executable paths must be absolute or use `~/...` "
                f"home-relative syntax (got {raw}): path must be absolute"
            )
        normalized = posixpath.normpath(expanded)
        if normalized.startswith("//"):
            normalized = "/" + normalized.lstrip("/")
        if posixpath.basename(normalized) != name:
            raise BuiltinError(
                f"invalid rule: host_executable path `{raw}` must have basename `{name}`"
            )
        if normalized not in paths:
            paths.append(normalized)
    return name, tuple(paths)


_PROTOCOLS = {
    "http": "http",
    "https": "https",
    "https_connect": "https",
    "http-connect": "https",
    "socks5_tcp": "socks5_tcp",
    "socks5_udp": "socks5_udp",
}


def network_protocol(enc: Any) -> str:
    text = _string_param(enc, "protocol")
    if text is None:
        raise _type_error("protocol", "str", "NoneType")
    if text not in _PROTOCOLS:
        raise BuiltinError(
            "invalid rule: network_rule protocol must be one of http, https, socks5_tcp, "
            f"socks5_udp (got {text})"
        )
    return _PROTOCOLS[text]


def network_decision(enc: Any) -> Decision:
    text = _string_param(enc, "decision")
    if text is None:
        raise _type_error("decision", "str", "NoneType")
    if text == "deny":
        return Decision.FORBIDDEN
    try:
        return Decision.parse(text)
    except ValueError as err:
        raise BuiltinError(str(err)) from None


def normalize_network_host(raw: str) -> str:
    """Normalize a network_rule host (spec §1.3); raises with Codex's ``invalid rule`` texts."""
    host = raw.strip()
    if not host:
        raise BuiltinError("invalid rule: network_rule host cannot be empty")
    if "://" in host or any(ch in host for ch in "/?#"):
        raise BuiltinError(
            "invalid rule: network_rule host must be a hostname or IP literal "
            "(without scheme or path)"
        )
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            raise BuiltinError(
                "invalid rule: network_rule host has an invalid bracketed IPv6 literal"
            )
        suffix = host[end + 1 :]
        if suffix and not (
            suffix.startswith(":") and suffix[1:].isdigit() and suffix[1:].isascii()
        ):
            raise BuiltinError(
                f"invalid rule: network_rule host contains an unsupported suffix: {raw}"
            )
        host = host[1:end]
    elif host.count(":") == 1:
        name, port = host.split(":")
        if port and port.isascii() and port.isdigit():
            host = name
    host = host.rstrip(".").strip()
    host = "".join(ch.lower() if ch.isascii() else ch for ch in host)
    if not host:
        raise BuiltinError("invalid rule: network_rule host cannot be empty")
    if "*" in host:
        raise BuiltinError(
            "invalid rule: network_rule host must be a specific host; wildcards are not allowed"
        )
    if any(ch.isspace() for ch in host):
        raise BuiltinError("invalid rule: network_rule host cannot contain whitespace")
    return host
