"""Validation of builtin arguments with Codex's order and exact error texts (spec §1).

Two entry points per builtin. The *record* validators (``record_*``) check the plain values of a
call the prelude in :mod:`starlark_runner` already type-checked in Starlark (the fast path,
nearly every call); they still check every type defensively, because the record list is
reachable from the rules file. The *slow* validators (``slow_*``) get every argument as
``[starlark_type, value]`` (lists and tuples as ``[type, [encoded items]]``), so the messages can
name Starlark types (``got tuple``) even though starlark-pyo3 converts tuples to lists; they
raise Codex's type errors and otherwise return the call as a record. Every function raises
:class:`BuiltinError` with the text Codex prints after ``starlark error: ``.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Callable
from typing import Any, NamedTuple

from codex_admin.execpolicy.model import Decision, PatternToken
from codex_admin.execpolicy.policy import expand_home
from codex_admin.execpolicy.starlark_runner import BuiltinError

__all__ = [
    "SLOW_BUILTINS",
    "HostExecutableCall",
    "NetworkRuleCall",
    "PrefixRuleCall",
    "decode_examples",
    "decode_pattern",
    "network_decision",
    "network_protocol",
    "normalize_network_host",
    "optional_decision",
    "optional_justification",
    "record_host_executable",
    "record_line",
    "record_network_rule",
    "record_prefix_rule",
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


_SHLEX_SPACE = re.compile(r"[ \t\r\n]+")


def _shell_split(text: str) -> list[str]:
    """POSIX shlex split; examples without quotes or backslashes take a fast path (shlex's
    whitespace is exactly space, tab, CR and LF)."""
    if "'" in text or '"' in text or "\\" in text:
        return shlex.split(text)
    if "\t" in text or "\n" in text or "\r" in text:
        return [token for token in _SHLEX_SPACE.split(text) if token]
    return [token for token in text.split(" ") if token]


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


# ------------------------------------------------------------------------ record (fast) path

_INTERNAL = "invalid call of an internal builtin; call prefix_rule/network_rule/host_executable"


class PrefixRuleCall(NamedTuple):
    line: int | None
    tokens: list[PatternToken]
    decision: Decision
    match: list[tuple[str, ...]]
    not_match: list[tuple[str, ...]]
    justification: str | None


class NetworkRuleCall(NamedTuple):
    line: int | None
    host: str
    protocol: str
    decision: Decision
    justification: str | None


class HostExecutableCall(NamedTuple):
    line: int | None
    name: str
    paths: tuple[str, ...]


_RECORD_DECISIONS: dict[Any, Decision] = {None: Decision.ALLOW, **{d.value: d for d in Decision}}


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise BuiltinError(_INTERNAL)


def _record_justification(value: Any) -> str | None:
    text = _text(value)
    if text is not None and not text.strip():
        raise BuiltinError("invalid rule: justification cannot be empty")
    return text


def _record_pattern(value: Any) -> list[PatternToken]:
    if value.__class__ is not list:
        raise BuiltinError(_INTERNAL)
    if not value:
        raise BuiltinError("invalid pattern element: pattern cannot be empty")
    tokens: list[PatternToken] = []
    for item in value:
        if item.__class__ is str:
            tokens.append(item)
        elif item.__class__ is list:
            if not item:
                raise BuiltinError("invalid pattern element: pattern alternatives cannot be empty")
            for member in item:
                if member.__class__ is not str:
                    raise BuiltinError(_INTERNAL)
            tokens.append(item[0] if len(item) == 1 else tuple(item))
        else:
            raise BuiltinError(_INTERNAL)
    return tokens


def _record_examples(value: Any) -> list[tuple[str, ...]]:
    if value is None:
        return []
    if value.__class__ is not list:
        raise BuiltinError(_INTERNAL)
    examples: list[tuple[str, ...]] = []
    for item in value:
        if item.__class__ is str:
            try:
                tokens = _shell_split(item)
            except ValueError:
                raise BuiltinError(
                    "invalid example: example string has invalid shell syntax"
                ) from None
            if not tokens:
                raise BuiltinError("invalid example: example cannot be an empty string")
            examples.append(tuple(tokens))
        elif item.__class__ is list:
            if not item:
                raise BuiltinError("invalid example: example cannot be an empty list")
            for member in item:
                if member.__class__ is not str:
                    raise BuiltinError(_INTERNAL)
            examples.append(tuple(item))
        else:
            raise BuiltinError(_INTERNAL)
    return examples


def record_line(record: list[Any]) -> int | None:
    """The 1-based line of a record's call (None when unknown)."""
    line = record[1] if len(record) > 1 else None
    return line if line.__class__ is int and line > 0 else None


def _shape(record: list[Any], size: int) -> int | None:
    if len(record) != size:
        raise BuiltinError(_INTERNAL)
    return record_line(record)


def record_prefix_rule(record: list[Any]) -> PrefixRuleCall:
    """``["p", line, pattern, decision, match, not_match, justification]``, Codex's order."""
    line = _shape(record, 7)
    _, _, pattern, decision, match, not_match, justification = record
    try:
        parsed_decision = _RECORD_DECISIONS[decision]
    except (KeyError, TypeError):
        if not isinstance(decision, str):
            raise BuiltinError(_INTERNAL) from None
        raise BuiltinError(f"invalid decision: {decision}") from None
    parsed_justification = _record_justification(justification)
    tokens = _record_pattern(pattern)
    return PrefixRuleCall(
        line,
        tokens,
        parsed_decision,
        _record_examples(match),
        _record_examples(not_match),
        parsed_justification,
    )


def record_network_rule(record: list[Any]) -> NetworkRuleCall:
    """``["n", line, host, protocol, decision, justification]``: protocol, decision,
    justification, host (Codex's order)."""
    line = _shape(record, 6)
    _, _, host, protocol, decision, justification = record
    if not isinstance(host, str) or not isinstance(protocol, str) or not isinstance(decision, str):
        raise BuiltinError(_INTERNAL)
    canonical = network_protocol(["string", protocol])
    parsed_decision = network_decision(["string", decision])
    parsed_justification = _record_justification(justification)
    return NetworkRuleCall(
        line, normalize_network_host(host), canonical, parsed_decision, parsed_justification
    )


def record_host_executable(record: list[Any]) -> HostExecutableCall:
    """``["h", line, name, paths]``."""
    line = _shape(record, 4)
    _, _, name, paths = record
    if not isinstance(name, str) or not isinstance(paths, list):
        raise BuiltinError(_INTERNAL)
    if not all(isinstance(path, str) for path in paths):
        raise BuiltinError(_INTERNAL)
    encoded = ["list", [["string", path] for path in paths]]
    key, resolved = validate_host_executable(["string", name], encoded)
    return HostExecutableCall(line, key, resolved)


# ------------------------------------------------------------------------- slow (typed) path


def _plain(token: PatternToken) -> str | list[str]:
    return token if isinstance(token, str) else list(token)


def slow_prefix_rule(
    pattern: Any, decision: Any, match: Any, not_match: Any, justification: Any, line: Any
) -> list[Any]:
    parsed_decision = optional_decision(decision)
    parsed_justification = optional_justification(justification)
    tokens = decode_pattern(pattern)
    match_examples = decode_examples(match, "match")
    not_match_examples = decode_examples(not_match, "not_match")
    return [
        "p",
        line,
        [_plain(t) for t in tokens],
        parsed_decision.value,
        [list(e) for e in match_examples],
        [list(e) for e in not_match_examples],
        parsed_justification,
    ]


def slow_network_rule(
    host: Any, protocol: Any, decision: Any, justification: Any, line: Any
) -> list[Any]:
    raw_host = _string_param(host, "host")  # type check first, as the Rust signature
    canonical = network_protocol(protocol)
    parsed_decision = network_decision(decision)
    parsed_justification = optional_justification(justification)
    if raw_host is None:
        raise BuiltinError("invalid rule: network_rule host cannot be empty")
    normalize_network_host(raw_host)
    decision_text = "deny" if parsed_decision is Decision.FORBIDDEN else parsed_decision.value
    return ["n", line, raw_host, canonical, decision_text, parsed_justification]


def slow_host_executable(name: Any, paths: Any, line: Any) -> list[Any]:
    key, resolved = validate_host_executable(name, paths)
    return ["h", line, key, list(resolved)]


SLOW_BUILTINS: dict[str, Callable[..., list[Any]]] = {
    "prefix_rule": slow_prefix_rule,
    "network_rule": slow_network_rule,
    "host_executable": slow_host_executable,
}
