"""Requirements: sources, composition, enforcement, located fail-closed errors."""

from __future__ import annotations

import socket

import pytest

from codex_admin.config import (
    Flags,
    LoadOptions,
    RequirementsDocument,
    compose_requirements,
    load_config,
    parse_requirements,
)
from codex_admin.errors import CodexError
from tests.conftest import Env


def test_disallowed_explicit_value_falls_back_with_one_warning(env: Env) -> None:
    req = env.requirements('allowed_approval_policies = ["on-request", "untrusted"]\n')
    env.user('approval_policy = "never"\n')
    result = load_config(LoadOptions())
    assert result.resolved["approval_policy"] == "on-request"
    warnings = [w for w in result.warnings if "`approval_policy`" in w]
    assert len(warnings) == 1
    assert "is disallowed by requirements" in warnings[0]
    assert "`never` is not in the allowed set [on-request, untrusted]" in warnings[0]
    assert f"(set by {req})" in warnings[0]
    assert result.fallbacks["approval_policy"]["rejected_from"] == "user"


def test_disallowed_implicit_default_is_replaced_silently(env: Env) -> None:
    env.requirements('allowed_approval_policies = ["never"]\n')
    result = load_config(LoadOptions())
    assert result.resolved["approval_policy"] == "never"
    assert result.warnings == []


def test_flags_are_constrained_too(env: Env) -> None:
    env.requirements('allowed_sandbox_modes = ["read-only", "workspace-write"]\n')
    result = load_config(LoadOptions(flags=Flags(sandbox="danger-full-access")))
    assert result.resolved["sandbox_mode"] == "read-only"
    assert any("flag -s/--sandbox" in w for w in result.warnings)


def test_danger_full_access_forced_down_with_never_is_fatal(env: Env) -> None:
    env.requirements('allowed_sandbox_modes = ["read-only"]\n')
    with pytest.raises(CodexError, match='`approval_policy = "never"` cannot be used'):
        load_config(LoadOptions(flags=Flags(dangerously_bypass=True)))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("allowed_approval_policies = []", "field `allowed_approval_policies` cannot be empty"),
        ("allowed_approvals_reviewers = []", "field `allowed_approvals_reviewers` cannot be empty"),
        ('allowed_sandbox_modes = ["workspace-write"]', "must include 'read-only'"),
        ('allowed_sandbox_modes = ["read-only", "yolo"]', "`allowed_sandbox_modes.1`"),
        ('allowed_approval_policies = "never"', "Input should be a valid list"),
        ("[rules]\nprefix_rules = []", "rules prefix_rules cannot be empty"),
        (
            '[[rules.prefix_rules]]\npattern = []\ndecision = "prompt"',
            "rules prefix_rule at index 0 has an empty pattern",
        ),
        (
            '[[rules.prefix_rules]]\npattern = [{token = "git"}]',
            "rules prefix_rule at index 0 is missing a decision",
        ),
        (
            '[[rules.prefix_rules]]\npattern = [{token = "git"}]\ndecision = "allow"',
            "which requirements cannot grant",
        ),
        (
            '[[rules.prefix_rules]]\npattern = [{token = " "}]\ndecision = "prompt"',
            "invalid pattern token at index 0",
        ),
        (
            '[[rules.prefix_rules]]\npattern = [{token = "a", any_of = ["b"]}]\ndecision = "prompt"',
            "set exactly one of",
        ),
        (
            '[[rules.prefix_rules]]\npattern = [{any_of = []}]\ndecision = "prompt"',
            "any_of cannot be empty",
        ),
        (
            '[[rules.prefix_rules]]\npattern = [{token = "a"}]\ndecision = "prompt"\n'
            'justification = "  "',
            "has an empty justification",
        ),
        (
            '[experimental_network]\ndomains = {"a.com" = "allow"}\nallowed_domains = ["b.com"]',
            "cannot be combined with legacy",
        ),
        ('[experimental_network]\nallowed_domains = ["*"]', "global wildcard"),
        ('[experimental_network]\ndomains = {"**.[*]" = "deny"}', "global wildcard"),
        ('[experimental_network]\nmode = "wide"', "`experimental_network.mode`"),
        ("this is = = not toml", "invalid TOML"),
    ],
)
def test_bad_requirements_fail_closed_with_location(env: Env, text: str, message: str) -> None:
    path = env.requirements(text + "\n")
    with pytest.raises(CodexError, match=message.replace("[", r"\[").replace("(", r"\(")) as err:
        load_config(LoadOptions())
    assert str(path) in str(err.value)
    assert err.value.location is not None and err.value.location.line is not None


def test_invalid_rules_name_their_source(env: Env) -> None:
    path = env.requirements('[[rules.prefix_rules]]\npattern = [{token = "git"}]\n')
    with pytest.raises(CodexError, match=f"invalid rules in requirements \\(set by {path}\\)"):
        load_config(LoadOptions())


def test_first_setter_wins_in_source_order(env: Env) -> None:
    env.requirements(
        'allowed_approval_policies = ["untrusted"]\nallowed_web_search_modes = ["disabled"]\n'
    )
    env.managed('approval_policy = "never"\nsandbox_mode = "workspace-write"\n')
    env.mdm(
        requirements='allowed_approval_policies = ["on-request"]\n',
        config='sandbox_mode = "danger-full-access"\n',
    )
    result = load_config(LoadOptions())
    req = result.requirements
    assert req.value("allowed_approval_policies") == ["on-request"]
    assert (
        req.source("allowed_approval_policies") == "MDM com.openai.codex:requirements_toml_base64"
    )
    assert req.value("allowed_web_search_modes") == ["disabled"]
    # legacy MDM (config_toml_base64) beats the legacy managed_config.toml file
    assert req.value("allowed_sandbox_modes") == ["read-only", "danger-full-access"]
    assert req.source("allowed_sandbox_modes") == "MDM managed_config.toml (legacy)"
    # the managed config is still the highest config layer
    assert result.resolved["sandbox_mode"] == "danger-full-access"


def test_empty_list_counts_as_set(env: Env) -> None:
    env.mdm(requirements="allowed_web_search_modes = []\n")
    env.requirements('allowed_web_search_modes = ["live"]\n')
    env.user('web_search = "live"\n')
    result = load_config(LoadOptions())
    assert result.requirements.value("allowed_web_search_modes") == []
    assert result.resolved["web_search"] == "disabled"


def test_legacy_managed_config_is_reinterpreted(env: Env) -> None:
    path = env.managed(
        'approval_policy = "on-request"\nsandbox_mode = "read-only"\n'
        'approvals_reviewer = "guardian_subagent"\n'
    )
    result = load_config(LoadOptions(flags=Flags(approval="never")))
    assert result.requirements.value("allowed_approval_policies") == ["on-request"]
    assert result.requirements.value("allowed_sandbox_modes") == ["read-only"]
    assert result.requirements.value("allowed_approvals_reviewers") == ["auto_review", "user"]
    assert result.requirements.source("allowed_approval_policies") == str(path)
    assert result.resolved["approval_policy"] == "on-request"


def test_remote_source_is_highest(env: Env) -> None:
    env.requirements('allowed_approval_policies = ["untrusted"]\n')
    remote = RequirementsDocument(
        "remote https://policy.example.com (serial 7)", 'allowed_approval_policies = ["never"]\n'
    )
    result = load_config(LoadOptions(remote_requirements=lambda: remote))
    assert result.requirements.source("allowed_approval_policies") == remote.source
    assert result.resolved["approval_policy"] == "never"
    assert result.requirement_sources[0].name == remote.source


def test_remote_sandbox_config_matches_hostname(env: Env) -> None:
    host = socket.gethostname()
    env.requirements(
        'allowed_sandbox_modes = ["read-only"]\n'
        f'[[remote_sandbox_config]]\nhostname_patterns = ["{host.upper()}."]\n'
        'allowed_sandbox_modes = ["read-only", "workspace-write"]\n'
    )
    result = load_config(LoadOptions(flags=Flags(sandbox="workspace-write")))
    assert result.resolved["sandbox_mode"] == "workspace-write"
    assert "remote_sandbox_config" in (result.requirements.source("allowed_sandbox_modes") or "")
    other = load_config(LoadOptions(hostname="build-42", flags=Flags(sandbox="workspace-write")))
    assert other.resolved["sandbox_mode"] == "read-only"


def test_deny_read_forbids_unsandboxed_modes(env: Env) -> None:
    env.requirements('[permissions.filesystem]\ndeny_read = ["secrets/*.pem", "/etc/shadow"]\n')
    result = load_config(LoadOptions(flags=Flags(sandbox="danger-full-access")))
    assert result.resolved["sandbox_mode"] == "read-only"
    deny = result.requirements.value("permissions")["filesystem"]["deny_read"]
    assert deny == [str(env.system / "secrets/*.pem"), "/etc/shadow"]


def test_web_search_fallback_prefers_cached(env: Env) -> None:
    env.requirements('allowed_web_search_modes = ["live", "cached"]\n')
    env.user('web_search = "disabled"\n')
    assert load_config(LoadOptions()).resolved["web_search"] == "disabled"
    env.requirements('allowed_web_search_modes = ["cached"]\n')
    env.user('web_search = "live"\n')
    result = load_config(LoadOptions())
    assert result.resolved["web_search"] == "cached"
    assert any("[cached, disabled]" in w for w in result.warnings)


def test_feature_pins_and_unknown_feature_warning(env: Env) -> None:
    env.requirements("[features]\nhooks = false\nauto_review = true\nteleport = true\n")
    env.user("[features]\nhooks = true\n")
    result = load_config(LoadOptions())
    assert result.resolved["features"]["hooks"] is False
    assert result.resolved["features"]["guardian_approval"] is True
    assert any("Ignoring unknown `features` requirement `teleport`" in w for w in result.warnings)


def test_mcp_allow_list_disables_unlisted_or_mismatched_servers(env: Env) -> None:
    req = env.requirements('[mcp_servers.docs.identity]\ncommand = "docs-mcp"\n')
    env.user(
        '[mcp_servers.docs]\ncommand = "docs-mcp"\n'
        '[mcp_servers.evil]\ncommand = "curl"\n'
        '[mcp_servers.fake]\nurl = "https://fake"\n'
    )
    status = load_config(LoadOptions()).resolved["mcp_servers"]
    assert status["docs"] == {"enabled": True, "disabled_reason": None}
    assert status["evil"] == {"enabled": False, "disabled_reason": f"requirements ({req})"}
    assert status["fake"]["enabled"] is False


def test_compose_and_parse_public_api() -> None:
    doc = RequirementsDocument("inline", 'allowed_sandbox_modes = ["read-only"]\n')
    assert parse_requirements(doc).allowed_sandbox_modes == ["read-only"]
    effective = compose_requirements([doc])
    assert effective.to_json() == {
        "allowed_sandbox_modes": {"value": ["read-only"], "source": "inline"}
    }
    assert effective.warnings == []
    # unknown keys fail closed, strict or not (tests/config/test_policy_mistakes.py)
    typo = RequirementsDocument("inline", 'allowed_sandbox_modes = ["read-only"]\nunknown = 1\n')
    for strict in (False, True):
        with pytest.raises(CodexError, match="unknown requirements field `unknown`"):
            parse_requirements(typo, strict=strict)


def test_mdm_deny_read_must_be_absolute(env: Env) -> None:
    env.mdm(requirements='[permissions.filesystem]\ndeny_read = ["relative/path"]\n')
    with pytest.raises(CodexError, match="must be absolute"):
        load_config(LoadOptions())
