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
"""

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
    literal_commands,
    parse_heredoc_command,
    parse_plain_commands,
)
from codex_admin.execpolicy.starlark_runner import Limits
from codex_admin.execpolicy.testing import TestReport, run_policy_tests

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
    "discover_rule_files",
    "evaluate_exec",
    "extract_shell_script",
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
