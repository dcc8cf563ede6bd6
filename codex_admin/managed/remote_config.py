"""Where remote requirements come from: ``<system dir>/remote_requirements.toml`` (only there).

The file is read from the system directory and nowhere else: a user who could point Codex at
another policy server (or another trusted key) could relax their own requirements. Shape::

    [remote]
    requirements_url = "https://policy.example.com/codex/bundle.json"   # https only
    public_keys = ["base64 of the 32-byte Ed25519 key"]                # and/or
    public_key_files = ["policy-signing.pub"]                           # relative to system dir
    ttl_seconds = 3600          # a cached bundle younger than this is used without a request
    grace_seconds = 604800      # after the TTL, how long an unreachable server is only a warning
    timeout_seconds = 10        # per attempt, whole response included
    max_attempts = 3            # connection errors, timeouts, 429 and 5xx are retried
    ca_file = "policy-ca.pem"   # optional: trust this CA bundle instead of the system roots
    min_serial = 0              # anti-rollback floor: bundles with a lower serial are refused

``min_serial`` lives here, not in the cache, because users can write their ``$CODEX_HOME``:
raising it revokes every older bundle at once, whatever a machine has cached.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from codex_admin.config import read_file_bytes, suggest
from codex_admin.errors import CodexError, Location
from codex_admin.managed.names import REMOTE_CONFIG_NAME
from codex_admin.managed.signing import load_public_key, parse_public_key

__all__ = ["REMOTE_CONFIG_NAME", "RemoteConfig", "read_remote_config", "toml_error"]


_DEFAULTS: dict[str, float] = {
    "ttl_seconds": 3600.0,
    "grace_seconds": 7 * 24 * 3600.0,
    "timeout_seconds": 10.0,
    "max_attempts": 3.0,
}
_KNOWN = {
    "requirements_url",
    "public_keys",
    "public_key_files",
    "ca_file",
    "min_serial",
    *_DEFAULTS,
}


@dataclass(frozen=True)
class RemoteConfig:
    """A validated ``[remote]`` table."""

    path: Path
    url: str
    keys: tuple[Ed25519PublicKey, ...]
    ttl_seconds: float
    grace_seconds: float
    timeout_seconds: float
    max_attempts: int
    ca_file: Path | None
    min_serial: int = 0


def read_remote_config(system_dir: Path) -> RemoteConfig | None:
    """The remote source configured in ``system_dir``, or ``None`` when there is none.

    A present but broken file is an error, never "no remote source": failing open here would let
    a typo silently disable fleet policy.
    """
    path = system_dir / REMOTE_CONFIG_NAME
    raw = read_file_bytes(path, what="remote requirements config")
    if raw is None:
        return None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise CodexError("file is not UTF-8", location=Location(path)) from err
    except tomllib.TOMLDecodeError as err:
        raise toml_error(err, path) from err
    table = data.get("remote")
    if table is None:
        return None
    if not isinstance(table, dict):
        raise CodexError("`remote` must be a table", location=Location(path))
    unknown = sorted(set(table) - _KNOWN)
    if unknown:
        raise CodexError(
            f"unknown key `remote.{unknown[0]}`{suggest(unknown[0], sorted(_KNOWN))}",
            location=Location(path),
            hint=f"known keys: {', '.join(sorted(_KNOWN))}",
        )
    url = table.get("requirements_url")
    if not isinstance(url, str) or not url.startswith("https://"):
        raise CodexError(
            "`remote.requirements_url` must be an https:// URL",
            location=Location(path),
            hint='e.g. requirements_url = "https://policy.example.com/codex/bundle.json"',
        )
    keys = _keys(table, path, system_dir)
    numbers = {}
    for name, default in _DEFAULTS.items():
        value = table.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise CodexError(
                f"`remote.{name}` must be a non-negative number", location=Location(path)
            )
        numbers[name] = float(value)
    if numbers["max_attempts"] < 1 or numbers["timeout_seconds"] <= 0:
        raise CodexError(
            "`remote.max_attempts` must be >= 1 and `remote.timeout_seconds` > 0",
            location=Location(path),
        )
    min_serial = table.get("min_serial", 0)
    if isinstance(min_serial, bool) or not isinstance(min_serial, int) or min_serial < 0:
        raise CodexError(
            "`remote.min_serial` must be a non-negative integer", location=Location(path)
        )
    ca_file = table.get("ca_file")
    if ca_file is not None and not isinstance(ca_file, str):
        raise CodexError("`remote.ca_file` must be a path string", location=Location(path))
    return RemoteConfig(
        path=path,
        url=url,
        keys=keys,
        ttl_seconds=numbers["ttl_seconds"],
        grace_seconds=numbers["grace_seconds"],
        timeout_seconds=numbers["timeout_seconds"],
        max_attempts=int(numbers["max_attempts"]),
        ca_file=(system_dir / ca_file) if ca_file else None,
        min_serial=min_serial,
    )


_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def toml_error(err: tomllib.TOMLDecodeError, path: Path) -> CodexError:
    """A located CodexError from tomllib's message (3.11 has no lineno attribute)."""
    text = str(err)
    match = _AT.search(text)
    if match is None:
        return CodexError(f"invalid TOML: {text}", location=Location(path), hint="fix the syntax")
    return CodexError(
        f"invalid TOML: {text[: match.start()]}",
        location=Location(path, int(match.group(1)), int(match.group(2))),
        hint="fix the TOML syntax at that position",
    )


def _keys(table: dict[str, object], path: Path, system_dir: Path) -> tuple[Ed25519PublicKey, ...]:
    inline = table.get("public_keys", [])
    files = table.get("public_key_files", [])
    if not isinstance(inline, list) or not all(isinstance(k, str) for k in inline):
        raise CodexError("`remote.public_keys` must be a list of strings", location=Location(path))
    if not isinstance(files, list) or not all(isinstance(k, str) for k in files):
        raise CodexError(
            "`remote.public_key_files` must be a list of paths", location=Location(path)
        )
    keys = [parse_public_key(k, origin=f"{path}: remote.public_keys") for k in inline]
    keys += [load_public_key(system_dir / name) for name in files]
    if not keys:
        raise CodexError(
            "remote requirements need at least one trusted public key",
            location=Location(path),
            hint='add public_keys = ["<line printed by `codex managed keygen`>"]',
        )
    return tuple(keys)
