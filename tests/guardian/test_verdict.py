"""The output contract: tolerant parsing, Codex's defaults, and the §1.6 thresholds in code."""

from __future__ import annotations

import pytest

from codex_admin.guardian import (
    OUTPUT_SCHEMA,
    ModelVerdict,
    Outcome,
    RiskLevel,
    UserAuthorization,
    VerdictParseError,
    enforce_thresholds,
    parse_model_verdict,
)


def test_schema_requires_only_outcome() -> None:
    assert OUTPUT_SCHEMA["required"] == ["outcome"]
    assert OUTPUT_SCHEMA["additionalProperties"] is False
    assert set(OUTPUT_SCHEMA["properties"]) == {
        "risk_level",
        "user_authorization",
        "outcome",
        "rationale",
    }
    assert OUTPUT_SCHEMA["properties"]["risk_level"]["enum"] == [
        "low",
        "medium",
        "high",
        "critical",
    ]


def test_full_verdict() -> None:
    v = parse_model_verdict(
        '{"risk_level": "medium", "user_authorization": "high", "outcome": "allow",'
        ' "rationale": "user asked for it"}'
    )
    assert v == ModelVerdict(
        Outcome.ALLOW, RiskLevel.MEDIUM, UserAuthorization.HIGH, "user asked for it"
    )


def test_prose_wrapped_json_parses() -> None:
    text = 'Sure! Here is my assessment:\n```json\n{"outcome": "deny", "risk_level": "high"}\n```\nThanks.'
    v = parse_model_verdict(text)
    assert v.outcome is Outcome.DENY and v.risk_level is RiskLevel.HIGH


@pytest.mark.parametrize(
    ("text", "risk"),
    [('{"outcome": "allow"}', RiskLevel.LOW), ('{"outcome": "deny"}', RiskLevel.HIGH)],
)
def test_defaults(text: str, risk: RiskLevel) -> None:
    v = parse_model_verdict(text)
    assert v.risk_level is risk
    assert v.user_authorization is UserAuthorization.UNKNOWN
    assert v.rationale  # a canned sentence, never empty


@pytest.mark.parametrize(
    "text",
    [
        "I think this is fine.",
        "",
        '{"risk_level": "low"}',  # no outcome
        '{"outcome": "maybe"}',
        '{"outcome": "allow", "risk_level": "extreme"}',  # must not become "low"
        '{"outcome": "allow", "user_authorization": 3}',
        '{"outcome": "allow", "rationale": ["a"]}',
        "[1, 2]",
        "{not json}",
    ],
)
def test_not_a_verdict(text: str) -> None:
    with pytest.raises(VerdictParseError):
        parse_model_verdict(text)


def _v(outcome: str, risk: str, auth: str) -> ModelVerdict:
    return ModelVerdict(Outcome(outcome), RiskLevel(risk), UserAuthorization(auth), "r")


@pytest.mark.parametrize(
    ("outcome", "risk", "auth", "expected"),
    [
        ("allow", "critical", "high", "deny"),  # critical: always deny
        ("allow", "high", "unknown", "deny"),
        ("allow", "high", "low", "deny"),
        ("allow", "high", "medium", "allow"),
        ("allow", "high", "high", "allow"),
        ("allow", "medium", "unknown", "allow"),
        ("allow", "low", "unknown", "allow"),
        ("deny", "low", "high", "deny"),  # a deny is never turned into an allow
    ],
)
def test_thresholds(outcome: str, risk: str, auth: str, expected: str) -> None:
    verdict, reason = enforce_thresholds(_v(outcome, risk, auth))
    assert verdict.outcome.value == expected
    assert (reason is not None) == (outcome != expected)
    if reason:
        assert "overridden" in verdict.rationale
