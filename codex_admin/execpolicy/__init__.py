"""Codex-compatible command rules: Starlark ``*.rules`` files, matching and runtime decisions.

Load rules with :func:`load_policy_files` (or :func:`load_configured_policy` for a list of config
folders), match an argv with :meth:`Policy.check` (what ``codex execpolicy check`` prints), and ask
what the governed runtime would do with :func:`evaluate_exec` (shell splitting, heuristics,
reason strings, amendments). :func:`append_allow_prefix_rule` persists "always allow" approvals.

Module map: ``model`` (types, JSON), ``policy`` (matching), ``starlark_runner`` (bounded
evaluation), ``validate`` + ``parser`` (builtins and example checks), ``requirements``
(``[rules]`` overlay), ``discovery``, ``shell`` (tree-sitter splitting), ``heuristics``,
``decide``, ``amend``, ``testing``. This package imports nothing of ours but
``codex_admin.errors``.

Names are resolved lazily (PEP 562) so that ``codex execpolicy check`` imports only the
loader and matcher, not the shell parser, heuristics or test reporter.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from codex_admin.execpolicy.amend import (
        append_allow_prefix_rule,
        append_network_rule,
        network_rule_line,
        prefix_rule_line,
    )
    from codex_admin.execpolicy.decide import (
        BANNED_PREFIX_SUGGESTIONS,
        ApprovalPolicy,
        ExecDecision,
        ExecRequirement,
        SandboxMode,
        SandboxPermissions,
        commands_for_exec_policy,
        evaluate_exec,
        unmatched_command_decision,
    )
    from codex_admin.execpolicy.delegation import delegated_commands
    from codex_admin.execpolicy.discovery import (
        discover_rule_files,
        load_configured_policy,
        load_policy_files,
    )
    from codex_admin.execpolicy.heuristics import (
        is_known_safe_command,
        is_safe_to_call_with_exec,
        might_be_dangerous,
    )
    from codex_admin.execpolicy.model import (
        Decision,
        Evaluation,
        HeuristicsRuleMatch,
        NetworkRule,
        PrefixRule,
        PrefixRuleMatch,
        RuleMatch,
    )
    from codex_admin.execpolicy.parser import PolicyParser
    from codex_admin.execpolicy.policy import Policy
    from codex_admin.execpolicy.requirements import requirement_rules_policy
    from codex_admin.execpolicy.shell import (
        extract_shell_script,
        inspect_script,
        literal_commands,
        parse_heredoc_command,
        parse_plain_commands,
    )
    from codex_admin.execpolicy.starlark_runner import Limits
    from codex_admin.execpolicy.testing import TestReport, run_policy_tests

_EXPORTS: dict[str, str] = {
    "append_allow_prefix_rule": "codex_admin.execpolicy.amend",
    "append_network_rule": "codex_admin.execpolicy.amend",
    "network_rule_line": "codex_admin.execpolicy.amend",
    "prefix_rule_line": "codex_admin.execpolicy.amend",
    "BANNED_PREFIX_SUGGESTIONS": "codex_admin.execpolicy.decide",
    "ApprovalPolicy": "codex_admin.execpolicy.decide",
    "ExecDecision": "codex_admin.execpolicy.decide",
    "ExecRequirement": "codex_admin.execpolicy.decide",
    "SandboxMode": "codex_admin.execpolicy.decide",
    "SandboxPermissions": "codex_admin.execpolicy.decide",
    "commands_for_exec_policy": "codex_admin.execpolicy.decide",
    "evaluate_exec": "codex_admin.execpolicy.decide",
    "unmatched_command_decision": "codex_admin.execpolicy.decide",
    "discover_rule_files": "codex_admin.execpolicy.discovery",
    "load_configured_policy": "codex_admin.execpolicy.discovery",
    "load_policy_files": "codex_admin.execpolicy.discovery",
    "is_known_safe_command": "codex_admin.execpolicy.heuristics",
    "is_safe_to_call_with_exec": "codex_admin.execpolicy.heuristics",
    "might_be_dangerous": "codex_admin.execpolicy.heuristics",
    "Decision": "codex_admin.execpolicy.model",
    "Evaluation": "codex_admin.execpolicy.model",
    "HeuristicsRuleMatch": "codex_admin.execpolicy.model",
    "NetworkRule": "codex_admin.execpolicy.model",
    "PrefixRule": "codex_admin.execpolicy.model",
    "PrefixRuleMatch": "codex_admin.execpolicy.model",
    "RuleMatch": "codex_admin.execpolicy.model",
    "PolicyParser": "codex_admin.execpolicy.parser",
    "Policy": "codex_admin.execpolicy.policy",
    "requirement_rules_policy": "codex_admin.execpolicy.requirements",
    "extract_shell_script": "codex_admin.execpolicy.shell",
    "inspect_script": "codex_admin.execpolicy.shell",
    "delegated_commands": "codex_admin.execpolicy.delegation",
    "literal_commands": "codex_admin.execpolicy.shell",
    "parse_heredoc_command": "codex_admin.execpolicy.shell",
    "parse_plain_commands": "codex_admin.execpolicy.shell",
    "Limits": "codex_admin.execpolicy.starlark_runner",
    "TestReport": "codex_admin.execpolicy.testing",
    "run_policy_tests": "codex_admin.execpolicy.testing",
}

__all__ = [
    "BANNED_PREFIX_SUGGESTIONS",
    "ApprovalPolicy",
    "Decision",
    "Evaluation",
    "ExecDecision",
    "ExecRequirement",
    "HeuristicsRuleMatch",
    "Limits",
    "NetworkRule",
    "Policy",
    "PolicyParser",
    "PrefixRule",
    "PrefixRuleMatch",
    "RuleMatch",
    "SandboxMode",
    "SandboxPermissions",
    "TestReport",
    "append_allow_prefix_rule",
    "append_network_rule",
    "commands_for_exec_policy",
    "delegated_commands",
    "discover_rule_files",
    "evaluate_exec",
    "extract_shell_script",
    "inspect_script",
    "is_known_safe_command",
    "is_safe_to_call_with_exec",
    "literal_commands",
    "load_configured_policy",
    "load_policy_files",
    "might_be_dangerous",
    "network_rule_line",
    "parse_heredoc_command",
    "parse_plain_commands",
    "prefix_rule_line",
    "requirement_rules_policy",
    "run_policy_tests",
    "unmatched_command_decision",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
