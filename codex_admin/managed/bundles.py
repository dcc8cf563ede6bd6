"""Policy bundles as an admin handles them: check, then sign; pack into the file a server serves.

:func:`sign_policy_bundle` is `codex managed sign`: a bundle is signed only when it is a valid
policy (``requirements.toml`` present and valid, a ``managed_config.toml`` and every ``*.rules``
file valid, no contradiction between them; with ``strict`` no warning either). A signature is a
promise to every machine that trusts the key, so a malformed bundle must never get one.
:func:`pack_policy_bundle` is `codex managed pack`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from codex_admin.managed.output import check_output_file, write_output
from codex_admin.managed.signing import (
    DEFAULT_VALIDITY,
    BundleInfo,
    load_private_key,
    pack_bundle,
    sign_bundle,
)
from codex_admin.managed.sources import check_bundle_dir

__all__ = ["SignedBundle", "pack_policy_bundle", "sign_policy_bundle"]


@dataclass
class SignedBundle:
    info: BundleInfo
    warnings: list[str] = field(default_factory=list)


def sign_policy_bundle(
    bundle_dir: Path,
    key_file: Path,
    *,
    serial: int | None = None,
    valid_for: float | None = DEFAULT_VALIDITY,
    strict: bool = False,
) -> SignedBundle:
    """Check the bundle's policy, then sign it (see the module docstring)."""
    key = load_private_key(key_file)
    report = check_bundle_dir(bundle_dir)
    report.raise_if_failed("refusing to sign", strict=strict)
    info = sign_bundle(bundle_dir, key, serial=serial, valid_for=valid_for)
    return SignedBundle(info, list(report.warnings))


def pack_policy_bundle(bundle_dir: Path, out: Path) -> Path:
    """Write the wire form of a signed bundle to ``out`` (atomically; parent must exist)."""
    check_output_file(out)
    document = json.dumps(pack_bundle(bundle_dir), sort_keys=True) + "\n"
    return write_output(out.parent, out.name, document.encode("utf-8"), 0o644)
