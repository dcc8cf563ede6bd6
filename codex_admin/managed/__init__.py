"""Managed deployment: MDM profiles, installers, policy diff, signed bundles, remote requirements.

Public API (everything else in this package is private):

* build and review -- :func:`build_policy` (mobileconfig, plist, Windows, Linux; checks first),
  :func:`load_policy` (decode + check + evaluate a mobileconfig/plist/directory/file),
  :func:`diff_sources` and :func:`diff_policy`;
* signed bundles -- :func:`generate_keypair`, :func:`sign_policy_bundle` (check, then sign),
  :func:`sign_bundle`, :func:`verify_bundle`, :func:`pack_policy_bundle`, :func:`pack_bundle`,
  :func:`load_private_key`, :func:`load_public_key`, :func:`parse_duration`;
* remote requirements -- :func:`load_remote_requirements` (what governance's config loading
  calls) and :func:`resolve_remote_requirements` (the same decision with its state, for
  `codex doctor`).
"""

from typing import TYPE_CHECKING

from codex_admin.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from codex_admin.managed.build import FORMATS, BuildResult, build_policy
    from codex_admin.managed.bundles import SignedBundle, pack_policy_bundle, sign_policy_bundle
    from codex_admin.managed.changes import Change, PolicyDiff
    from codex_admin.managed.checks import PolicyCheckError
    from codex_admin.managed.diff import diff_policy
    from codex_admin.managed.mdm import PolicyTexts, build_mobileconfig, build_plist
    from codex_admin.managed.remote import (
        CACHE_NAME,
        RemoteResult,
        load_remote_requirements,
        resolve_remote_requirements,
    )
    from codex_admin.managed.remote_config import (
        REMOTE_CONFIG_NAME,
        RemoteConfig,
        read_remote_config,
    )
    from codex_admin.managed.review import diff_sources
    from codex_admin.managed.signing import (
        DEFAULT_VALIDITY,
        MANIFEST_NAME,
        SIGNATURE_NAME,
        BundleInfo,
        generate_keypair,
        key_id,
        load_private_key,
        load_public_key,
        pack_bundle,
        parse_duration,
        public_key_text,
        sign_bundle,
        verify_bundle,
    )
    from codex_admin.managed.sources import PolicyView, load_policy

# Imported on first use: governance asks this package for the remote requirements on
# every command, and must not pay for httpx, cryptography and the builders when none is set.
_EXPORTS = {
    "FORMATS": "codex_admin.managed.build",
    "BuildResult": "codex_admin.managed.build",
    "build_policy": "codex_admin.managed.build",
    "SignedBundle": "codex_admin.managed.bundles",
    "pack_policy_bundle": "codex_admin.managed.bundles",
    "sign_policy_bundle": "codex_admin.managed.bundles",
    "PolicyCheckError": "codex_admin.managed.checks",
    "Change": "codex_admin.managed.changes",
    "PolicyDiff": "codex_admin.managed.changes",
    "diff_policy": "codex_admin.managed.diff",
    "PolicyTexts": "codex_admin.managed.mdm",
    "build_mobileconfig": "codex_admin.managed.mdm",
    "build_plist": "codex_admin.managed.mdm",
    "CACHE_NAME": "codex_admin.managed.remote",
    "RemoteResult": "codex_admin.managed.remote",
    "load_remote_requirements": "codex_admin.managed.remote",
    "resolve_remote_requirements": "codex_admin.managed.remote",
    "REMOTE_CONFIG_NAME": "codex_admin.managed.names",
    "RemoteConfig": "codex_admin.managed.remote_config",
    "read_remote_config": "codex_admin.managed.remote_config",
    "diff_sources": "codex_admin.managed.review",
    "DEFAULT_VALIDITY": "codex_admin.managed.signing",
    "MANIFEST_NAME": "codex_admin.managed.signing",
    "SIGNATURE_NAME": "codex_admin.managed.signing",
    "BundleInfo": "codex_admin.managed.signing",
    "generate_keypair": "codex_admin.managed.signing",
    "key_id": "codex_admin.managed.signing",
    "load_private_key": "codex_admin.managed.signing",
    "load_public_key": "codex_admin.managed.signing",
    "pack_bundle": "codex_admin.managed.signing",
    "parse_duration": "codex_admin.managed.signing",
    "public_key_text": "codex_admin.managed.signing",
    "sign_bundle": "codex_admin.managed.signing",
    "verify_bundle": "codex_admin.managed.signing",
    "PolicyView": "codex_admin.managed.sources",
    "load_policy": "codex_admin.managed.sources",
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


__all__ = [
    "CACHE_NAME",
    "DEFAULT_VALIDITY",
    "FORMATS",
    "MANIFEST_NAME",
    "REMOTE_CONFIG_NAME",
    "SIGNATURE_NAME",
    "BuildResult",
    "BundleInfo",
    "Change",
    "PolicyCheckError",
    "PolicyDiff",
    "PolicyTexts",
    "PolicyView",
    "RemoteConfig",
    "RemoteResult",
    "SignedBundle",
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
    "pack_policy_bundle",
    "parse_duration",
    "public_key_text",
    "read_remote_config",
    "resolve_remote_requirements",
    "sign_bundle",
    "sign_policy_bundle",
    "verify_bundle",
]
