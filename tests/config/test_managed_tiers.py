"""The shipped tiers load through the engine and enforce what managed/README.md promises."""

from __future__ import annotations

from pathlib import Path

import pytest

from codex_admin.config import Flags, LoadOptions, load_config, validate_files
from tests.conftest import Env

TIERS = Path(__file__).resolve().parents[2] / "managed"


@pytest.fixture
def tier(env: Env, monkeypatch: pytest.MonkeyPatch) -> object:
    def use(name: str) -> Path:
        monkeypatch.setenv("CODEX_SYSTEM_DIR", str(TIERS / name))
        return TIERS / name

    return use


def test_tiers_validate_cleanly() -> None:
    report = validate_files(sorted(TIERS.glob("*/*.toml")), strict=True)
    assert report.ok, report.to_json()
    assert all(not f.warnings for f in report.files), report.to_json()


def test_standard_tier(env: Env, tier: object) -> None:
    tier("standard")  # type: ignore[operator]
    env.user('approval_policy = "never"\nsandbox_mode = "danger-full-access"\n')
    result = load_config(LoadOptions(flags=Flags(dangerously_bypass=False)))
    # managed_config is a higher layer than the user's file
    assert result.resolved["sandbox_mode"] == "workspace-write"
    assert result.resolved["approval_policy"] == "on-request"
    yolo = load_config(
        LoadOptions(flags=Flags(sandbox="danger-full-access", approval="on-request"))
    )
    assert yolo.resolved["sandbox_mode"] == "read-only"
    assert any("is not in the allowed set [read-only, workspace-write]" in w for w in yolo.warnings)
    rules = result.requirements.value("rules")["prefix_rules"]
    assert rules[0]["decision"] == "forbidden"
    deny = result.requirements.value("permissions")["filesystem"]["deny_read"]
    assert str(Path("~/.ssh").expanduser()) in deny


def test_strict_tier(env: Env, tier: object) -> None:
    tier("strict")  # type: ignore[operator]
    result = load_config(
        LoadOptions(overrides=['web_search="live"', 'approvals_reviewer="auto_review"'])
    )
    assert result.resolved["approval_policy"] == "untrusted"
    assert result.resolved["sandbox_mode"] == "read-only"
    assert result.resolved["web_search"] == "disabled"
    assert result.resolved["approvals_reviewer"] == "user"
    assert result.resolved["enforce_residency"] == "us"
    net = result.requirements.value("experimental_network")
    assert net["managed_allowed_domains_only"] is True and net["mode"] == "limited"
    assert result.resolved["features"]["web_search_request"] is False
