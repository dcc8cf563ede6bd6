"""Managed deployment: MDM profiles, installers, policy diff, signed bundles, remote requirements.

Public API (everything else in this package is private):

* signed bundles -- :func:`generate_keypair`, :func:`sign_bundle`, :func:`verify_bundle`,
  :func:`pack_bundle`, :func:`load_private_key`, :func:`load_public_key`;
* remote requirements -- :func:`load_remote_requirements` (what the config loader calls) and
  :func:`resolve_remote_requirements` (the same decision with its state, for `codex doctor`).
"""

from codex_admin.managed.remote import (
    CACHE_NAME,
    RemoteRequirementsWarning,
    RemoteResult,
    load_remote_requirements,
    resolve_remote_requirements,
)
from codex_admin.managed.remote_config import REMOTE_CONFIG_NAME, RemoteConfig, read_remote_config
from codex_admin.managed.signing import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    BundleInfo,
    generate_keypair,
    key_id,
    load_private_key,
    load_public_key,
    pack_bundle,
    public_key_text,
    sign_bundle,
    verify_bundle,
)

__all__ = [
    "CACHE_NAME",
    "MANIFEST_NAME",
    "REMOTE_CONFIG_NAME",
    "SIGNATURE_NAME",
    "BundleInfo",
    "RemoteConfig",
    "RemoteRequirementsWarning",
    "RemoteResult",
    "generate_keypair",
    "key_id",
    "load_private_key",
    "load_public_key",
    "load_remote_requirements",
    "pack_bundle",
    "public_key_text",
    "read_remote_config",
    "resolve_remote_requirements",
    "sign_bundle",
    "verify_bundle",
]
