"""Small helpers shared by the execpolicy tests."""

from __future__ import annotations

from codex_admin.execpolicy import Policy, PolicyParser


def parse(source: str, label: str = "test.rules") -> Policy:
    parser = PolicyParser()
    parser.parse_source(label, source)
    return parser.policy
