"""The macOS managed preference domain `com.openai.codex`, read from a plist file.

Keys (both strings of standard base64 over UTF-8 TOML): `config_toml_base64` (managed config, the
highest config layer; also reinterpreted as legacy requirements) and `requirements_toml_base64`.
Surrounding whitespace is trimmed and an empty value counts as absent. Everything else that is
wrong (unreadable plist, wrong type, bad base64, non-UTF-8) is fatal: a broken MDM payload must
fail closed rather than silently drop the organisation's policy.

Besides a plain preference-domain plist, a configuration profile (`.mobileconfig`) is accepted, so
admins can preview exactly what they push: its `PayloadContent` entries of type
`com.openai.codex` (custom settings) or the `com.apple.ManagedClient.preferences` form are read.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codex_admin.config.files import read_file_bytes
from codex_admin.config.spelling import suggest
from codex_admin.errors import CodexError, Location

__all__ = [
    "CONFIG_KEY",
    "DOMAIN",
    "KNOWN_KEYS",
    "REQUIREMENTS_KEY",
    "MdmPayload",
    "mdm_key_warnings",
    "read_mdm_plist",
]

DOMAIN = "com.openai.codex"
CONFIG_KEY = "config_toml_base64"
REQUIREMENTS_KEY = "requirements_toml_base64"
KNOWN_KEYS = (CONFIG_KEY, REQUIREMENTS_KEY)


@dataclass(frozen=True)
class MdmPayload:
    """Decoded payload texts (None when the key is absent or empty) and the plist they came from."""

    path: Path
    config_text: str | None
    requirements_text: str | None
    # Keys of the domain Codex does not read (configuration-profile `Payload*` keys aside).
    unknown_keys: tuple[str, ...] = ()


def read_mdm_plist(path: Path) -> MdmPayload:
    """Read a domain plist or a `.mobileconfig` and decode the two Codex keys."""
    import plistlib  # (with its XML parser) only when an MDM plist is configured
    from xml.parsers.expat import ExpatError  # what plistlib raises for truncated XML

    data = read_file_bytes(path, what="MDM plist")
    if data is None:
        raise CodexError(
            f"MDM plist {path} does not exist",
            location=Location(path),
            hint="fix CODEX_MDM_PLIST or unset it",
        )
    try:
        root = plistlib.loads(data)
    except (
        plistlib.InvalidFileException,
        ExpatError,
        ValueError,
        TypeError,
        OverflowError,
    ) as err:
        raise CodexError(
            f"MDM plist {path} is not a valid property list: {err}",
            location=Location(path),
            hint="check it with `plutil -lint` or regenerate it with `codex managed build`",
        ) from None
    if not isinstance(root, dict):
        raise CodexError(f"MDM plist {path}: root must be a dictionary", location=Location(path))
    settings = _domain_settings(root, path)
    return MdmPayload(
        path=path,
        config_text=_decode(settings, CONFIG_KEY, path),
        requirements_text=_decode(settings, REQUIREMENTS_KEY, path),
        unknown_keys=tuple(
            sorted(k for k in settings if k not in KNOWN_KEYS and not str(k).startswith("Payload"))
        ),
    )


def mdm_key_warnings(payload: MdmPayload) -> list[str]:
    """One warning per unknown key of the domain, with the closest known key."""
    return [
        f"{payload.path}: unknown key `{key}` in the {DOMAIN} preference domain"
        f"{suggest(str(key), KNOWN_KEYS)}; Codex reads only {CONFIG_KEY} and {REQUIREMENTS_KEY},"
        " so it has no effect"
        for key in payload.unknown_keys
    ]


def _domain_settings(root: dict[str, Any], path: Path) -> dict[str, Any]:
    """The key/value settings of the domain, from a plain plist or a configuration profile.

    A profile whose structure has the wrong type anywhere on the way to our domain (``Forced =
    5``, a list where a dictionary belongs) is an error naming the key: fail closed.
    """
    content = root.get("PayloadContent")
    if content is None:
        return root

    def wrong(key: str, value: Any, expected: str) -> CodexError:
        return CodexError(
            f"configuration profile {path}: `{key}` must be {expected}, got {_plist_type(value)}",
            location=Location(path),
            hint="fix the profile, or regenerate it with `codex managed build`",
        )

    if not isinstance(content, list):
        raise wrong("PayloadContent", content, "an array of payload dictionaries")
    merged: dict[str, Any] = {}
    for payload in content:
        if not isinstance(payload, dict):
            raise wrong("PayloadContent[]", payload, "a payload dictionary")
        kind = payload.get("PayloadType")
        if kind == DOMAIN:
            merged.update(payload)
        elif kind == "com.apple.ManagedClient.preferences":
            inner = payload.get("PayloadContent", {})
            if not isinstance(inner, dict):
                raise wrong("PayloadContent", inner, "a dictionary of preference domains")
            domain = inner.get(DOMAIN)
            if domain is None:
                continue
            if not isinstance(domain, dict):
                raise wrong(DOMAIN, domain, "a dictionary")
            forced = domain.get("Forced", [])
            if not isinstance(forced, list):
                raise wrong(f"{DOMAIN}.Forced", forced, "an array")
            for entry in forced:
                settings = (
                    entry.get("mcx_preference_settings") if isinstance(entry, dict) else entry
                )
                if not isinstance(settings, dict):
                    raise wrong(
                        f"{DOMAIN}.Forced[].mcx_preference_settings", settings, "a dictionary"
                    )
                merged.update(settings)
    if not merged:
        raise CodexError(
            f"configuration profile {path} has no payload for the {DOMAIN} domain",
            location=Location(path),
            hint=f"add a custom-settings payload with PayloadType {DOMAIN}",
        )
    return merged


def _plist_type(value: Any) -> str:
    """The plist spelling of a decoded value's type (what the admin sees in the XML)."""
    names = {bool: "boolean", int: "integer", float: "real", str: "string", bytes: "data"}
    names.update({list: "array", dict: "dictionary"})
    return next((n for t, n in names.items() if isinstance(value, t)), type(value).__name__)


def _decode(settings: dict[str, Any], key: str, path: Path) -> str | None:
    where = f"MDM {DOMAIN}:{key}"
    value = settings.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise CodexError(
            f"{where} must be a string of base64, got {_plist_type(value)}",
            location=Location(path),
            hint="store the base64 text as a <string> value",
        )
    value = value.strip()
    if not value:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise CodexError(
            f"{where} is not valid base64",
            location=Location(path),
            hint="encode the TOML with `base64 < file.toml` (standard alphabet, with padding)",
        ) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CodexError(
            f"{where} does not decode to UTF-8 text", location=Location(path)
        ) from None
