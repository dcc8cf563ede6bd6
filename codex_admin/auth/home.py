"""Which credential store a login uses and which folder it lives in: the two facts every
command that reads the auth settings needs, kept apart from :mod:`.store` (the stores
themselves, with tempfile, hashlib and the keyring behind them), so that `codex exec` with an
API key from the environment decides its credentials without importing them (its start-up to
the first model request is measured: benchmarks/agent_bench.py)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path

__all__ = ["CredentialStoreMode", "auth_home"]


class CredentialStoreMode(StrEnum):
    FILE = "file"
    KEYRING = "keyring"
    AUTO = "auto"
    EPHEMERAL = "ephemeral"


def auth_home(codex_home: Path, environ: Mapping[str, str] | None = None) -> Path:
    """``CODEX_AUTH_HOME`` when set and non-empty, else ``codex_home`` (absolute)."""
    env = os.environ if environ is None else environ
    raw = env.get("CODEX_AUTH_HOME", "").strip()
    return (Path(raw).expanduser() if raw else codex_home).absolute()
