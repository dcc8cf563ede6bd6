"""A developer's environment cannot swap out the admin's managed configuration.

`CODEX_SYSTEM_DIR` and `CODEX_MDM_PLIST` relocate the managed sources for tests, CI and policy
previews; on a machine whose real system dir holds managed files they are ignored (with a
warning), or `CODEX_SYSTEM_DIR=/nowhere codex exec -s danger-full-access` would escape every
requirement. The real system dir is stood in for by a temporary one.
"""

from __future__ import annotations

import base64
import plistlib
from pathlib import Path

import pytest

from codex_admin.config import Flags, LoadOptions, load_config
from codex_admin.config import paths as config_paths
from tests.conftest import Env


@pytest.fixture
def real_system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    real = tmp_path / "etc-codex"
    real.mkdir()
    monkeypatch.setattr(config_paths, "default_system_dir", lambda: real)
    return real


def _load() -> tuple[object, list[str]]:
    result = load_config(LoadOptions(flags=Flags(sandbox="danger-full-access")))
    return result.resolved["sandbox_mode"], result.warnings


@pytest.mark.parametrize("entry", ["requirements.toml", "managed_config.toml", "config.toml"])
def test_an_override_cannot_replace_a_managed_system_dir(
    env: Env, real_system: Path, entry: str
) -> None:
    (real_system / "requirements.toml").write_text('allowed_sandbox_modes = ["read-only"]\n')
    if entry != "requirements.toml":
        (real_system / entry).write_text("# placed by the admin\n")
    # env.system (CODEX_SYSTEM_DIR) holds nothing: honouring it would drop the requirement.
    sandbox, warnings = _load()
    assert sandbox == "read-only"
    assert any("CODEX_SYSTEM_DIR is ignored" in w for w in warnings)


def test_a_planted_mdm_plist_cannot_loosen_a_managed_machine(
    env: Env, real_system: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (real_system / "requirements.toml").write_text('allowed_sandbox_modes = ["read-only"]\n')
    plist = tmp_path / "fake.plist"
    loose = 'allowed_sandbox_modes = ["read-only", "danger-full-access"]\n'
    plist.write_bytes(
        plistlib.dumps({"requirements_toml_base64": base64.b64encode(loose.encode()).decode()})
    )
    monkeypatch.setenv("CODEX_MDM_PLIST", str(plist))
    sandbox, warnings = _load()
    assert sandbox == "read-only"
    assert any("CODEX_MDM_PLIST is ignored" in w for w in warnings)


def test_on_an_unmanaged_machine_the_overrides_still_relocate(env: Env, real_system: Path) -> None:
    env.requirements('allowed_sandbox_modes = ["read-only", "workspace-write"]\n')
    sandbox, warnings = _load()
    assert sandbox == "read-only"  # the relocated requirements apply
    assert not any("is ignored" in w for w in warnings)
    assert config_paths.system_dir() == env.system
