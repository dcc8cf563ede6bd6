"""Codex-compatible command rules: Starlark ``*.rules`` files, matching and runtime decisions.

Load rules with :func:`load_policy_files` (or :func:`load_configured_policy` for a list of config
folders), match an argv with :meth:`Policy.check` (what ``codex execpolicy check`` prints), and ask
what the governed runtime would do with :func:`evaluate_exec` (shell splitting, wrappers and
scripts seen through, heuristics, reason strings, amendments, the sandbox-bypass decision).
:func:`append_allow_prefix_rule` persists "always allow" approvals; :func:`run_policy_tests` runs
rule examples and ``tests/*.toml`` decision tests.

Module map -- loading: ``files`` (bounded reads, contained links), ``literal`` (flat generated
files without Starlark), ``starlark_runner`` + ``isolation`` + ``nesting`` (bounded, streamed
evaluation), ``validate`` + ``parser`` (builtins, example checks), ``requirements`` (``[rules]``
overlay), ``discovery``; matching: ``model``, ``index``, ``policy``; the runtime: ``shell``
(Codex's splitting), ``words`` + ``scan`` (every command of a script and its words' values),
``delegators`` (the dispatcher over ``target``, ``posix_shells``, ``wrappers`` +
``wrapper_table``, ``runners``, ``interpreters``, ``option_commands``) + ``gitcli`` +
``analysis`` (what a command runs), ``guard`` (restrictive rules on all of it), ``unsafe``
(options that void an allow), ``heuristics``, ``decide``; tooling: ``amend``, ``cases``,
``testing``. This package imports nothing of ours but ``codex_admin.errors`` and
``codex_admin.vocabulary``.

Names are resolved lazily (PEP 562) so that ``codex execpolicy check`` imports only the
loader and matcher, not the shell parser, heuristics or test reporter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex_admin.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from codex_admin.execpolicy.amend import (
        append_allow_prefix_rule,
        append_network_rule,
        network_rule_line,
        prefix_rule_line,
    )
    from codex_admin.execpolicy.analysis import (
        Analysis,
        Invocation,
        analyse,
        delegated_commands,
        invocation_of,
    )
    from codex_admin.execpolicy.cases import CaseFile, load_case_file, run_case_file
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
        RuleFile,
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
    from codex_admin.execpolicy.scan import ScriptScan, scan_script
    from codex_admin.execpolicy.shell import (
        extract_shell_script,
        inspect_script,
        literal_commands,
        parse_heredoc_command,
        parse_plain_commands,
    )
    from codex_admin.execpolicy.starlark_runner import Limits
    from codex_admin.execpolicy.testing import TestReport, run_policy_tests
    from codex_admin.execpolicy.unsafe import unsafe_option
    from codex_admin.execpolicy.words import Word

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
    "Analysis": "codex_admin.execpolicy.analysis",
    "Invocation": "codex_admin.execpolicy.analysis",
    "analyse": "codex_admin.execpolicy.analysis",
    "delegated_commands": "codex_admin.execpolicy.analysis",
    "invocation_of": "codex_admin.execpolicy.analysis",
    "CaseFile": "codex_admin.execpolicy.cases",
    "load_case_file": "codex_admin.execpolicy.cases",
    "run_case_file": "codex_admin.execpolicy.cases",
    "RuleFile": "codex_admin.execpolicy.discovery",
    "ScriptScan": "codex_admin.execpolicy.scan",
    "scan_script": "codex_admin.execpolicy.scan",
    "unsafe_option": "codex_admin.execpolicy.unsafe",
    "Word": "codex_admin.execpolicy.words",
    "literal_commands": "codex_admin.execpolicy.shell",
    "parse_heredoc_command": "codex_admin.execpolicy.shell",
    "parse_plain_commands": "codex_admin.execpolicy.shell",
    "Limits": "codex_admin.execpolicy.starlark_runner",
    "TestReport": "codex_admin.execpolicy.testing",
    "run_policy_tests": "codex_admin.execpolicy.testing",
}

__all__ = [
    "BANNED_PREFIX_SUGGESTIONS",
    "Analysis",
    "ApprovalPolicy",
    "CaseFile",
    "Decision",
    "Evaluation",
    "ExecDecision",
    "ExecRequirement",
    "HeuristicsRuleMatch",
    "Invocation",
    "Limits",
    "NetworkRule",
    "Policy",
    "PolicyParser",
    "PrefixRule",
    "PrefixRuleMatch",
    "RuleFile",
    "RuleMatch",
    "SandboxMode",
    "SandboxPermissions",
    "ScriptScan",
    "TestReport",
    "Word",
    "analyse",
    "append_allow_prefix_rule",
    "append_network_rule",
    "commands_for_exec_policy",
    "delegated_commands",
    "discover_rule_files",
    "evaluate_exec",
    "extract_shell_script",
    "inspect_script",
    "invocation_of",
    "is_known_safe_command",
    "is_safe_to_call_with_exec",
    "literal_commands",
    "load_case_file",
    "load_configured_policy",
    "load_policy_files",
    "might_be_dangerous",
    "network_rule_line",
    "parse_heredoc_command",
    "parse_plain_commands",
    "prefix_rule_line",
    "requirement_rules_policy",
    "run_case_file",
    "run_policy_tests",
    "scan_script",
    "unmatched_command_decision",
    "unsafe_option",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
