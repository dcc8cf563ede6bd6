"""Metric name and tag rules (spec §2.5)."""

from __future__ import annotations

import pytest

from codex_admin.telemetry import (
    METRICS,
    MetricKind,
    sanitize_tag_value,
    validate_metric_name,
    validate_tag_key,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("shell", "shell"),
        ("my tool!", "my_tool"),
        ("mcp__srv__tool/x", "mcp__srv__tool/x"),
        ("  spaced  ", "spaced"),
        ("", "unspecified"),
        ("___", "unspecified"),
        ("./-", "unspecified"),
        ("ünïcode", "n_code"),
        ("a" * 300, "a" * 256),
        (True, "true"),
        (False, "false"),
        (503, "503"),
    ],
)
def test_tag_values_are_sanitised(value: object, expected: str) -> None:
    assert sanitize_tag_value(value) == expected


@pytest.mark.parametrize("name", ["", "codex tool", "codex.tool!", "a/b"])
def test_bad_metric_names_are_rejected(name: str) -> None:
    with pytest.raises(ValueError):
        validate_metric_name(name)


@pytest.mark.parametrize("key", ["", "le", "a b", "tag!"])
def test_bad_tag_keys_are_rejected(key: str) -> None:
    with pytest.raises(ValueError):
        validate_tag_key(key)


def test_every_metric_is_valid_and_durations_are_histograms() -> None:
    for metric in METRICS:
        assert validate_metric_name(metric.value) == metric.value
        expected = (
            MetricKind.HISTOGRAM if metric.value.endswith("duration_ms") else MetricKind.COUNTER
        )
        assert metric.kind is expected
    assert validate_tag_key("token_type") == "token_type"
    assert validate_tag_key("a/b.c-d") == "a/b.c-d"
