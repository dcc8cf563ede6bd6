from __future__ import annotations

import base64
import plistlib
from pathlib import Path

import pytest

from codex_admin.config import LoadOptions, load_config, read_mdm_plist
from codex_admin.errors import CodexError
from tests.conftest import Env


def b64(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return base64.b64encode(data).decode()


def test_plain_domain_plist(env: Env) -> None:
    env.mdm(config='model = "mdm"\n', requirements='allowed_approval_policies = ["never"]\n')
    result = load_config(LoadOptions())
    assert result.config["model"] == "mdm"
    assert result.origins["model"] == "mdm"
    assert result.resolved["approval_policy"] == "never"


def test_mobileconfig_payload_is_accepted(tmp_path: Path) -> None:
    profile = {
        "PayloadType": "Configuration",
        "PayloadContent": [
            {"PayloadType": "com.apple.wifi.managed"},
            {
                "PayloadType": "com.openai.codex",
                "config_toml_base64": b64('model = "x"\n'),
                "requirements_toml_base64": "  " + b64("enforce_residency = 'us'\n") + "\n",
            },
        ],
    }
    path = tmp_path / "codex.mobileconfig"
    path.write_bytes(plistlib.dumps(profile))
    payload = read_mdm_plist(path)
    assert payload.config_text == 'model = "x"\n'
    assert payload.requirements_text == "enforce_residency = 'us'\n"


def test_managed_client_preferences_form(tmp_path: Path) -> None:
    profile = {
        "PayloadContent": [
            {
                "PayloadType": "com.apple.ManagedClient.preferences",
                "PayloadContent": {
                    "com.openai.codex": {
                        "Forced": [
                            {
                                "mcx_preference_settings": {
                                    "config_toml_base64": b64("model = 'y'\n")
                                }
                            }
                        ]
                    }
                },
            }
        ]
    }
    path = tmp_path / "p.mobileconfig"
    path.write_bytes(plistlib.dumps(profile))
    assert read_mdm_plist(path).config_text == "model = 'y'\n"


def test_empty_values_count_as_absent(env: Env) -> None:
    path = env.root / "m.plist"
    path.write_bytes(plistlib.dumps({"config_toml_base64": "  ", "requirements_toml_base64": ""}))
    payload = read_mdm_plist(path)
    assert payload.config_text is None and payload.requirements_text is None


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"requirements_toml_base64": "not base64!!"}, "is not valid base64"),
        ({"requirements_toml_base64": b64(b"\xff\xfe")}, "does not decode to UTF-8"),
        ({"config_toml_base64": 42}, "must be a string of base64"),
        ({"config_toml_base64": b64("model = ")}, "invalid TOML"),
        (
            {"requirements_toml_base64": b64("allowed_sandbox_modes = ['workspace-write']")},
            "must include 'read-only'",
        ),
    ],
)
def test_bad_mdm_payload_fails_closed(env: Env, settings: dict[str, object], message: str) -> None:
    path = env.root / "bad.plist"
    path.write_bytes(plistlib.dumps(settings))
    import os

    os.environ["CODEX_MDM_PLIST"] = str(path)
    with pytest.raises(CodexError, match=message):
        load_config(LoadOptions())


def test_missing_or_garbage_plist_is_an_error(env: Env) -> None:
    import os

    os.environ["CODEX_MDM_PLIST"] = str(env.root / "missing.plist")
    with pytest.raises(CodexError, match="does not exist"):
        load_config(LoadOptions())
    garbage = env.write(env.root / "garbage.plist", "not a plist")
    os.environ["CODEX_MDM_PLIST"] = str(garbage)
    with pytest.raises(CodexError, match="not a valid property list"):
        load_config(LoadOptions())


def test_profile_without_codex_payload_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "other.mobileconfig"
    path.write_bytes(plistlib.dumps({"PayloadContent": [{"PayloadType": "com.apple.dock"}]}))
    with pytest.raises(CodexError, match="has no payload for the com.openai.codex domain"):
        read_mdm_plist(path)
