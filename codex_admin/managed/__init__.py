"""Managed deployment: MDM profiles, installers, policy diff, signed bundles, remote requirements.

Public API (everything else in this package is private):

* build and review -- :func:`build_policy` (mobileconfig, plist, Windows, Linux),
  :func:`load_policy` (decode + evaluate a mobileconfig/plist/directory), :func:`diff_sources`
  and :func:`diff_policy`;
* signed bundles -- :func:`generate_keypair`, :func:`sign_bundle`, :func:`verify_bundle`,
  :func:`pack_bundle`, :func:`load_private_key`, :func:`load_public_key`;
* remote requirements -- :func:`load_remote_requirements` (what the config loader calls) and
  :func:`resolve_remote_requirements` (the same decision with its state, for `codex doctor`).
"""

from codex_admin.managed.build import FORMATS, build_policy
from codex_admin.managed.diff import Change, PolicyDiff, diff_policy
from codex_admin.managed.mdm import PolicyTexts, build_mobileconfig, build_plist
from codex_admin.managed.remote import (
    CACHE_NAME,
    RemoteRequirementsWarning,
    RemoteResult,
    load_remote_requirements,
    resolve_remote_requirements,
)
from codex_admin.managed.remote_config import REMOTE_CONFIG_NAME, RemoteConfig, read_remote_config
from codex_admin.managed.review import diff_sources
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
from codex_admin.managed.sources import PolicyView, load_policy

__all__ = [
    "CACHE_NAME",
    "FORMATS",
    "MANIFEST_NAME",
    "REMOTE_CONFIG_NAME",
    "SIGNATURE_NAME",
    "BundleInfo",
    "Change",
    "PolicyDiff",
    "PolicyTexts",
    "PolicyView",
    "RemoteConfig",
    "RemoteRequirementsWarning",
    "RemoteResult",
    "build_mobileconfig",
    "build_plist",
    "build_policy",
    "diff_policy",
    "diff_sources",
    "generate_keypair",
    "key_id",
    "load_policy",
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
