"""`managed diff` judges each field by its kind; every loosening exits 3 (issue 10).

Each case is a pair of real policy directories evaluated by the config engine, as
`codex managed diff OLD NEW` sees them. The first block is the attacker's review list (all
missed or misjudged before); the rest are the variants the per-kind rules must also get right.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from codex_admin.managed import diff_sources

from .conftest import CODEX

NET = "[experimental_network]\n"
PUSH_PROMPT = '[[rules.prefix_rules]]\npattern = [{ token = "git" }, { token = "push" }]\ndecision = "prompt"\n'
PUSH_FORBIDDEN = PUSH_PROMPT.replace('"prompt"', '"forbidden"')

# (id, old requirements, new requirements, old config, new config, key, expected effect)
CASES = [
    # --- the review's list
    (
        "net-enabled-unset-to-false",
        NET + "http_port = 3128\n",
        NET + "http_port = 3128\nenabled = false\n",
        "",
        "",
        "experimental_network.enabled",
        "looser",
    ),
    (
        "managed-false-to-unset",
        NET + "allow_upstream_proxy = false\n",
        NET,
        "",
        "",
        "experimental_network.allow_upstream_proxy",
        "looser",
    ),
    (
        "local-binding-false-to-unset",
        NET + "allow_local_binding = false\n",
        NET + "http_port = 1\n",
        "",
        "",
        "allow_local_binding",
        "looser",
    ),
    (
        "deny-removed-keyed",
        NET + '[experimental_network.domains]\n"paste.example" = "deny"\n"pypi.org" = "allow"\n',
        NET + '[experimental_network.domains]\n"pypi.org" = "allow"\n',
        "",
        "",
        "experimental_network.domains",
        "looser",
    ),
    (
        "deny-removed-legacy",
        NET + 'denied_domains = ["paste.example"]\n',
        NET + "http_port = 1\n",
        "",
        "",
        "experimental_network.domains",
        "looser",
    ),
    (
        "deny-to-none",
        NET + '[experimental_network.domains]\n"paste.example" = "deny"\n',
        NET + '[experimental_network.domains]\n"paste.example" = "none"\n',
        "",
        "",
        "experimental_network.domains",
        "looser",
    ),
    (
        "duplicate-forbidden-removed",
        PUSH_PROMPT + PUSH_FORBIDDEN,
        PUSH_PROMPT,
        "",
        "",
        "rules",
        "looser",
    ),
    (
        "rule-reviewer-user-to-auto",
        PUSH_PROMPT + 'reviewer = "user"\n',
        PUSH_PROMPT + 'reviewer = "auto_review"\n',
        "",
        "",
        "rules",
        "looser",
    ),
    (
        "reviewers-grow",
        'allowed_approvals_reviewers = ["user"]\n',
        'allowed_approvals_reviewers = ["user", "auto_review"]\n',
        "",
        "",
        "allowed_approvals_reviewers",
        "looser",
    ),
    (
        "config-reviewer-user-to-auto",
        "",
        "",
        'approvals_reviewer = "user"\n',
        'approvals_reviewer = "auto_review"\n',
        "approvals_reviewer",
        "looser",
    ),
    (
        "web-search-live-added",
        'allowed_web_search_modes = ["cached"]\n',
        'allowed_web_search_modes = ["cached", "live"]\n',
        "",
        "",
        "allowed_web_search_modes",
        "looser",
    ),
    (
        "config-web-search-live",
        "",
        "",
        'web_search = "cached"\n',
        'web_search = "live"\n',
        "web_search",
        "looser",
    ),
    (
        "net-mode-limited-to-full",
        NET + 'mode = "limited"\n',
        NET + 'mode = "full"\n',
        "",
        "",
        "experimental_network.mode",
        "looser",
    ),
    (
        "config-net-mode-limited-to-full",
        "",
        "",
        '[network]\nmode = "limited"\n',
        '[network]\nmode = "full"\n',
        "network.mode",
        "looser",
    ),
    (
        "config-env-set",
        "",
        "",
        '[shell_environment_policy]\ninherit = "core"\n',
        '[shell_environment_policy]\ninherit = "core"\nset = { LD_PRELOAD = "/tmp/x.so" }\n',
        "shell_environment_policy.set.LD_PRELOAD",
        "looser",
    ),
    (
        "config-domain-star",
        "",
        "",
        "[network]\nenabled = true\n",
        '[network]\nenabled = true\n[network.domains]\n"*" = "allow"\n',
        'network.domains."*"',
        "looser",
    ),
    (
        "config-writable-roots-widened",
        "",
        "",
        '[sandbox_workspace_write]\nwritable_roots = ["/srv/a"]\n',
        '[sandbox_workspace_write]\nwritable_roots = ["/srv/a", "/"]\n',
        "sandbox_workspace_write.writable_roots",
        "looser",
    ),
    # --- unset is not false, both ways, and the other kinds
    (
        "net-enabled-false-to-unset",
        NET + "enabled = false\n",
        NET + "http_port = 1\n",
        "",
        "",
        "experimental_network.enabled",
        "tighter",
    ),
    (
        "permit-unset-to-true-same",
        NET + "http_port = 1\n",
        NET + "http_port = 1\nallow_upstream_proxy = true\n",
        "",
        "",
        "allow_upstream_proxy",
        "neutral",
    ),
    (
        "domains-only-true-to-unset",
        NET + "managed_allowed_domains_only = true\n",
        NET + "http_port = 1\n",
        "",
        "",
        "managed_allowed_domains_only",
        "looser",
    ),
    (
        "net-mode-limited-to-unset",
        NET + 'mode = "limited"\n',
        NET + "http_port = 1\n",
        "",
        "",
        "experimental_network.mode",
        "looser",
    ),
    (
        "net-mode-full-to-limited",
        NET + 'mode = "full"\n',
        NET + 'mode = "limited"\n',
        "",
        "",
        "experimental_network.mode",
        "tighter",
    ),
    ("net-removed", NET + "http_port = 1\n", "", "", "", "experimental_network", "looser"),
    (
        "allow-domain-added",
        NET + "http_port = 1\n",
        NET + 'allowed_domains = ["*.githubusercontent.com"]\n',
        "",
        "",
        "experimental_network.domains",
        "looser",
    ),
    (
        "duplicate-same-decision-removed",
        PUSH_PROMPT + PUSH_PROMPT,
        PUSH_PROMPT,
        "",
        "",
        "rules",
        "neutral",
    ),
    (
        "reviewer-fallback-reordered",
        'allowed_approvals_reviewers = ["user", "auto_review"]\n',
        'allowed_approvals_reviewers = ["auto_review", "user"]\n',
        "",
        "",
        "allowed_approvals_reviewers",
        "looser",
    ),
    (
        "approval-fallback-reordered",
        'allowed_approval_policies = ["on-request", "never"]\n',
        'allowed_approval_policies = ["never", "on-request"]\n',
        "",
        "",
        "allowed_approval_policies",
        "looser",
    ),
    (
        "web-search-from-disabled-only",
        "allowed_web_search_modes = []\n",
        'allowed_web_search_modes = ["cached"]\n',
        "",
        "",
        "allowed_web_search_modes",
        "looser",
    ),
    (
        "guardian-fail-open",
        "",
        "allow_guardian_fail_open = true\n",
        "",
        "",
        "allow_guardian_fail_open",
        "looser",
    ),
    (
        "managed-hooks-only-off",
        "allow_managed_hooks_only = true\n",
        "allow_managed_hooks_only = false\n",
        "",
        "",
        "allow_managed_hooks_only",
        "looser",
    ),
    (
        "feature-pin-removed",
        "[features]\nweb_search_request = false\n",
        "",
        "",
        "",
        "features.web_search_request",
        "looser",
    ),
    (
        "exec-policy-pin-removed",
        "[features]\nexec_policy = true\n",
        "",
        "",
        "",
        "features.exec_policy",
        "looser",
    ),
    (
        "feature-pin-added",
        "",
        "[features]\nweb_search_request = false\n",
        "",
        "",
        "features.web_search_request",
        "tighter",
    ),
    (
        "app-disable-lifted",
        "[apps.slack]\nenabled = false\n",
        "[apps.slack]\nenabled = true\n",
        "",
        "",
        "apps.slack.enabled",
        "looser",
    ),
    ("residency-removed", 'enforce_residency = "us"\n', "", "", "", "enforce_residency", "looser"),
    (
        "deny-read-removed",
        '[permissions.filesystem]\ndeny_read = ["/etc/shadow"]\n',
        "",
        "",
        "",
        "deny_read",
        "looser",
    ),
    (
        "unknown-requirement-text",
        'guardian_policy_config = "be strict"\n',
        'guardian_policy_config = "be kind"\n',
        "",
        "",
        "guardian_policy_config",
        "looser",
    ),
    (
        "config-network-access-false-to-unset",
        "",
        "",
        "[sandbox_workspace_write]\nnetwork_access = false\n",
        'model = "m"\n',
        "sandbox_workspace_write.network_access",
        "looser",
    ),
    (
        "config-network-access-unset-to-true",
        "",
        "",
        'model = "m"\n',
        "[sandbox_workspace_write]\nnetwork_access = true\n",
        "sandbox_workspace_write.network_access",
        "looser",
    ),
    (
        "config-network-access-true-to-false",
        "",
        "",
        "[sandbox_workspace_write]\nnetwork_access = true\n",
        "[sandbox_workspace_write]\nnetwork_access = false\n",
        "sandbox_workspace_write.network_access",
        "tighter",
    ),
    (
        "config-writable-roots-unset-to-set",
        "",
        "",
        'model = "m"\n',
        '[sandbox_workspace_write]\nwritable_roots = ["/srv"]\n',
        "sandbox_workspace_write.writable_roots",
        "looser",
    ),
    (
        "config-sandbox-pin-removed",
        "",
        "",
        'sandbox_mode = "read-only"\n',
        'model = "m"\n',
        "sandbox_mode",
        "looser",
    ),
    (
        "config-inherit-core-to-all",
        "",
        "",
        '[shell_environment_policy]\ninherit = "core"\n',
        '[shell_environment_policy]\ninherit = "all"\n',
        "shell_environment_policy.inherit",
        "looser",
    ),
    (
        "config-exclude-shrinks",
        "",
        "",
        '[shell_environment_policy]\nexclude = ["AWS_*", "*TOKEN*"]\n',
        '[shell_environment_policy]\nexclude = ["AWS_*"]\n',
        "shell_environment_policy.exclude",
        "looser",
    ),
    (
        "config-exec-policy-off",
        "",
        "",
        "[features]\nexec_policy = true\n",
        "[features]\nexec_policy = false\n",
        "features.exec_policy",
        "looser",
    ),
    (
        "config-profile-approval",
        "",
        "",
        '[profiles.ci]\napproval_policy = "on-request"\n',
        '[profiles.ci]\napproval_policy = "never"\n',
        "profiles.ci.approval_policy",
        "looser",
    ),
    (
        "config-provider-url",
        "",
        "",
        '[model_providers.corp]\nname = "c"\nbase_url = "https://llm.corp/v1"\n',
        '[model_providers.corp]\nname = "c"\nbase_url = "https://evil.example/v1"\n',
        "model_providers.corp.base_url",
        "looser",
    ),
    (
        "config-trusted-project",
        "",
        "",
        'model = "m"\n',
        '[projects."/srv/repo"]\ntrust_level = "trusted"\n',
        'projects."/srv/repo".trust_level',
        "looser",
    ),
    ("config-model-neutral", "", "", 'model = "a"\n', 'model = "b"\n', "model", "neutral"),
]


def policy_dir(root: Path, name: str, requirements: str, config: str) -> Path:
    directory = root / name
    directory.mkdir()
    if requirements:
        (directory / "requirements.toml").write_text(requirements)
    if config:
        (directory / "managed_config.toml").write_text(config)
    return directory


@pytest.mark.parametrize(
    ("old_req", "new_req", "old_cfg", "new_cfg", "key", "effect"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_each_kind_is_judged_by_its_rule(
    tmp_path: Path, old_req: str, new_req: str, old_cfg: str, new_cfg: str, key: str, effect: str
) -> None:
    old = policy_dir(tmp_path, "old", old_req, old_cfg)
    new = policy_dir(tmp_path, "new", new_req, new_cfg)
    result, _, _ = diff_sources(old, new)
    found = [c for c in result.changes if key in c.key or key in c.message]
    shown = [(c.effect, c.key, c.message) for c in result.changes]
    assert found, shown
    assert {c.effect for c in found} == {effect}, shown
    assert result.loosens is (
        effect == "looser" or any(c.effect == "looser" for c in result.changes)
    )
    for change in result.changes:  # TOML spellings only
        assert "True" not in change.message and "False" not in change.message
        assert "None" not in change.message and "null" not in change.message


def _cli(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEX_")}
    env.update(CODEX_HOME=str(tmp_path), CODEX_SYSTEM_DIR=str(tmp_path), CODEX_MDM_PLIST="")
    return subprocess.run(
        [*CODEX, "managed", *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def test_cli_exits_3_on_each_listed_loosening_and_speaks_toml(tmp_path: Path) -> None:
    looser = [c for c in CASES[:17]]
    for index, (name, old_req, new_req, old_cfg, new_cfg, _, _) in enumerate(looser):
        old = policy_dir(tmp_path, f"o{index}", old_req, old_cfg)
        new = policy_dir(tmp_path, f"n{index}", new_req, new_cfg)
        run = _cli(["diff", str(old), str(new)], tmp_path)
        assert run.returncode == 3, (name, run.stdout, run.stderr)
        assert "LOOSENS policy" in run.stdout
        assert "True" not in run.stdout and "False" not in run.stdout, run.stdout
    enabled = policy_dir(tmp_path, "e", NET + "http_port = 1\n", "")
    disabled = policy_dir(tmp_path, "d", NET + "http_port = 1\nenabled = false\n", "")
    run = _cli(["diff", str(enabled), str(disabled), "--json"], tmp_path)
    assert run.returncode == 3
    (change,) = json.loads(run.stdout)["changes"]
    assert change["message"] == "`experimental_network.enabled` unset -> false"
    assert change["old"] is None and change["new"] is False


def test_rules_file_duplicate_forbidden_removed_loosens(tmp_path: Path) -> None:
    old = policy_dir(tmp_path, "a", "", "")
    new = policy_dir(tmp_path, "b", "", "")
    for side, text in (
        (
            old,
            'prefix_rule(pattern=["git", "push"], decision="prompt")\n'
            'prefix_rule(pattern=["git", "push"], decision="forbidden")\n',
        ),
        (new, 'prefix_rule(pattern=["git", "push"], decision="prompt")\n'),
    ):
        (side / "rules").mkdir()
        (side / "rules" / "git.rules").write_text(text)
    result, _, _ = diff_sources(old, new)
    assert result.loosens, [c.message for c in result.changes]
    assert [c.message for c in result.changes] == [
        "prefix_rule git push: decision forbidden -> prompt"
    ]
