"""macOS payloads: a ``.mobileconfig`` profile and a plain ``.plist`` for ``defaults import``.

Both carry the two keys Codex reads from the ``com.openai.codex`` preference domain, each a
standard-base64 (padded) string of UTF-8 TOML: ``config_toml_base64`` (managed config) and
``requirements_toml_base64``. The profile uses the custom-settings form in which the payload's
``PayloadType`` *is* the preference domain.

Output is deterministic: ``plistlib`` with sorted keys, no dates, and UUIDs derived (uuid5) from
the identifier and a hash of the payload, so the same input gives a byte-identical file and a
changed policy gets new UUIDs (MDM servers treat it as a new version of the same profile).
"""

from __future__ import annotations

import base64
import hashlib
import plistlib
import uuid
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CONFIG_KEY",
    "DEFAULT_IDENTIFIER",
    "DOMAIN",
    "REQUIREMENTS_KEY",
    "PolicyTexts",
    "build_mobileconfig",
    "build_plist",
]

DOMAIN = "com.openai.codex"
CONFIG_KEY = "config_toml_base64"
REQUIREMENTS_KEY = "requirements_toml_base64"
DEFAULT_IDENTIFIER = "com.openai.codex.managed"
# Fixed namespace for every uuid5 this tool derives (itself uuid5(NAMESPACE_DNS, "codex-admin")).
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "codex-admin.managed")


@dataclass(frozen=True)
class PolicyTexts:
    """The two policy documents as text (either may be absent, not both)."""

    config: str | None
    requirements: str | None


def _preference_keys(texts: PolicyTexts) -> dict[str, str]:
    keys: dict[str, str] = {}
    if texts.config is not None:
        keys[CONFIG_KEY] = base64.b64encode(texts.config.encode("utf-8")).decode("ascii")
    if texts.requirements is not None:
        keys[REQUIREMENTS_KEY] = base64.b64encode(texts.requirements.encode("utf-8")).decode(
            "ascii"
        )
    return keys


def build_plist(texts: PolicyTexts) -> bytes:
    """Domain plist: ``defaults import com.openai.codex com.openai.codex.plist``."""
    return plistlib.dumps(_preference_keys(texts), fmt=plistlib.FMT_XML, sort_keys=True)


def build_mobileconfig(
    texts: PolicyTexts,
    *,
    organization: str = "",
    identifier: str = DEFAULT_IDENTIFIER,
) -> bytes:
    """A System-scoped configuration profile with one ``com.openai.codex`` payload."""
    keys = _preference_keys(texts)
    digest = hashlib.sha256(
        "\0".join(
            [identifier, organization, *(f"{k}={v}" for k, v in sorted(keys.items()))]
        ).encode("utf-8")
    ).hexdigest()
    payload: dict[str, Any] = {
        "PayloadType": DOMAIN,
        "PayloadVersion": 1,
        "PayloadIdentifier": f"{identifier}.{DOMAIN}",
        "PayloadUUID": str(uuid.uuid5(_NAMESPACE, f"payload:{identifier}:{digest}")).upper(),
        "PayloadDisplayName": "Codex managed settings",
        "PayloadEnabled": True,
        **keys,
    }
    profile: dict[str, Any] = {
        "PayloadContent": [payload],
        "PayloadDisplayName": "Codex policy" + (f" ({organization})" if organization else ""),
        "PayloadDescription": "Managed configuration and requirements for Codex.",
        "PayloadIdentifier": identifier,
        "PayloadType": "Configuration",
        "PayloadScope": "System",
        "PayloadUUID": str(uuid.uuid5(_NAMESPACE, f"profile:{identifier}:{digest}")).upper(),
        "PayloadVersion": 1,
        "PayloadRemovalDisallowed": True,
    }
    if organization:
        profile["PayloadOrganization"] = organization
    return plistlib.dumps(profile, fmt=plistlib.FMT_XML, sort_keys=True)
