"""``[rules]`` from requirements.toml: prefix rules an organisation enforces (spec §6).

Takes the TOML-shaped dict the configuration engine composes (``requirements.value("rules")``)
and returns a :class:`Policy` to lay over the file rules with ``merge_overlay``. Requirements
only restrict: ``allow`` is rejected, because requirements merge with other configuration and
the most restrictive decision wins anyway.
"""

from __future__ import annotations

from typing import Any

from codex_admin.errors import CodexError, Location
from codex_admin.execpolicy.model import Decision, PatternToken, PrefixRule
from codex_admin.execpolicy.policy import Policy

__all__ = ["requirement_rules_policy"]


def _token(entry: Any) -> PatternToken | str:
    """A pattern token, or an error *reason* string prefixed with ``!``."""
    if not isinstance(entry, dict):
        return "!pattern tokens must be tables with `token` or `any_of`"
    has_token, has_any = "token" in entry, "any_of" in entry
    if has_token == has_any:
        return "!set exactly one of `token` or `any_of`"
    unknown = set(entry) - {"token", "any_of"}
    if unknown:
        return f"!unknown key `{sorted(unknown)[0]}`"
    if has_token:
        token = entry["token"]
        if not isinstance(token, str) or not token.strip():
            return "!token cannot be blank"
        return token
    options = entry["any_of"]
    if not isinstance(options, list) or not options:
        return "!any_of cannot be empty"
    if any(not isinstance(o, str) or not o.strip() for o in options):
        return "!any_of entries cannot be blank"
    return options[0] if len(options) == 1 else tuple(options)


def requirement_rules_policy(rules: Any, source: str = "requirements.toml") -> Policy:
    """Validate ``{"prefix_rules": [...]}`` and build the overlay policy; errors name ``source``."""
    policy = Policy()
    if rules is None:
        return policy

    def fail(message: str) -> CodexError:
        return CodexError(
            message,
            location=Location(source),
            hint="see [rules] prefix_rules in the requirements documentation",
        )

    if not isinstance(rules, dict):
        raise fail("rules must be a table")
    entries = rules.get("prefix_rules")
    if entries is None:
        return policy
    if not isinstance(entries, list) or not entries:
        raise fail("rules prefix_rules cannot be empty")
    for index, entry in enumerate(entries):
        label = f"rules prefix_rule at index {index}"
        if not isinstance(entry, dict):
            raise fail(f"{label} must be a table")
        pattern = entry.get("pattern")
        if not isinstance(pattern, list) or not pattern:
            raise fail(f"{label} has an empty pattern")
        tokens: list[PatternToken] = []
        for position, raw in enumerate(pattern):
            token = _token(raw)
            if isinstance(token, str) and token.startswith("!"):
                raise fail(f"{label} has an invalid pattern token at index {position}: {token[1:]}")
            tokens.append(token)
        justification = entry.get("justification")
        if justification is not None and (
            not isinstance(justification, str) or not justification.strip()
        ):
            raise fail(f"{label} has an empty justification")
        if "decision" not in entry:
            raise fail(f"{label} is missing a decision")
        raw_decision = entry["decision"]
        if raw_decision == "allow":
            raise fail(
                f"{label} has decision `allow`, which requirements cannot grant: use `prompt` or "
                "`forbidden` (requirements only restrict; the strictest decision wins)"
            )
        if raw_decision not in ("prompt", "forbidden"):
            raise fail(f"{label} has an invalid decision: {raw_decision}")
        decision = Decision.parse(raw_decision)
        first, rest = tokens[0], tuple(tokens[1:])
        for program in [first] if isinstance(first, str) else list(first):
            policy.add_rule(
                PrefixRule(program, rest, decision, justification, f"{source} [rules] #{index}")
            )
    return policy
