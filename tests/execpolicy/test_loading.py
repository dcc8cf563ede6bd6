"""Loading at scale (issue 11): the literal fast path, the streamed Starlark path, the index.

The two loaders must agree exactly (same rules, sources, network rules, host executables, same
errors at the same lines); the index must return exactly what a scan of every rule returns; a
file too big for the memory budget fails at once, names the budget and the knob, and never
hangs -- even with ``RUST_BACKTRACE=1``, which used to deadlock Rust's OOM hook in the child.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import codex_admin.execpolicy.parser as parser_module
from codex_admin.errors import CodexError
from codex_admin.execpolicy import Decision, Policy, PolicyParser
from codex_admin.execpolicy.isolation import run_in_child
from codex_admin.execpolicy.literal import literal_records
from codex_admin.execpolicy.model import PrefixRule

TOKEN = st.text(alphabet="abcdefghij-_./=:", min_size=1, max_size=6)
STRING = st.text(alphabet="abc xyz-_./=#(),", min_size=0, max_size=12)


@st.composite
def literal_file(draw: st.DrawFn) -> str:
    lines = []
    for _ in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from(["prefix", "prefix", "prefix", "network", "host", "comment"]))
        if kind == "comment":
            lines.append("# " + draw(STRING))
            continue
        if kind == "network":
            host = draw(st.sampled_from(["a.com", "b.org", "x.example", "A.COM.", "h:80"]))
            decision = draw(st.sampled_from(["allow", "deny", "prompt"]))
            lines.append(f'network_rule(host="{host}", protocol="https", decision="{decision}")')
            continue
        if kind == "host":
            lines.append('host_executable(name="git", paths=["/usr/bin/git"])')
            continue
        tokens = draw(st.lists(TOKEN, min_size=1, max_size=4))
        parts = []
        for index, token in enumerate(tokens):
            if index and draw(st.booleans()):
                parts.append(f'["{token}", "{draw(TOKEN)}"]')
            else:
                parts.append(f'"{token}"')
        args = [f"pattern = [{', '.join(parts)}]"]
        if draw(st.booleans()):
            args.append(f'decision = "{draw(st.sampled_from(["allow", "prompt", "forbidden"]))}"')
        if draw(st.booleans()):
            args.append(f'justification = "{draw(STRING)}x"')
        if draw(st.booleans()):
            example = " ".join(t for t in tokens if "[" not in t)
            args.append(f'match = ["{example}"]')
        if draw(st.booleans()):
            args.append('not_match = ["zzz"]')
        order = draw(st.permutations(args))
        trailer = draw(st.sampled_from(["", "  # note", ";"]))
        lines.append(f"prefix_rule({', '.join(order)}){trailer}")
    return "\n".join(lines) + "\n"


def _load(source: str, *, literal: bool) -> tuple[dict[str, object], list[str]]:
    original = parser_module.literal_records
    if not literal:
        parser_module.literal_records = lambda _source: None  # type: ignore[assignment]
    try:
        parser = PolicyParser(collect_example_failures=True)
        parser.parse_source("gen.rules", source)
    finally:
        parser_module.literal_records = original
    return parser.policy.to_json(), [f"{f.location}: {f.message}" for f in parser.failures]


@settings(max_examples=60, deadline=None)
@given(literal_file())
def test_the_literal_path_agrees_with_starlark(source: str) -> None:
    calls = [line for line in source.splitlines() if line and not line.startswith("#")]
    assert (literal_records(source) is not None) == bool(calls), source
    assert _load(source, literal=True) == _load(source, literal=False)


@pytest.mark.parametrize(
    "source",
    [
        'prefix_rule(pattern = ["a"])\nprefix_rule(pattern = ["b"], decision = "deny")\n',
        "prefix_rule(pattern = [])\n",
        'prefix_rule(pattern = ["a", []])\n',
        'prefix_rule(pattern = ["a"], justification = "  ")\n',
        'prefix_rule(pattern = ["a"], match = ["b"])\n',
        'prefix_rule(pattern = ["a"], not_match = ["a b"])\n',
        'network_rule(host = "*.x.com", protocol = "https", decision = "deny")\n',
        'network_rule(host = "x.com", protocol = "ftp", decision = "deny")\n',
        'host_executable(name = "git", paths = ["bin/git"])\n',
    ],
)
def test_both_paths_report_the_same_error_at_the_same_line(source: str) -> None:
    assert literal_records(source) is not None
    errors = []
    for literal in (True, False):
        original = parser_module.literal_records
        if not literal:
            parser_module.literal_records = lambda _source: None  # type: ignore[assignment]
        try:
            with pytest.raises(CodexError) as info:
                PolicyParser().parse_source("e.rules", source)
        finally:
            parser_module.literal_records = original
        errors.append(str(info.value).split("\n  hint:")[0])
    assert errors[0] == errors[1]


@pytest.mark.parametrize(
    "source",
    [
        'X = "a"\nprefix_rule(pattern = [X])\n',
        'prefix_rule(pattern = ["a"],)\n',
        'prefix_rule(["a"])\n',
        '  prefix_rule(pattern = ["a"])\n',
        'prefix_rule(pattern = ["a"], pattern = ["b"])\n',
        'prefix_rule(pattern = ("a",))\n',
        'prefix_rule(pattern = ["a\\n"])\n',
        'prefix_rule(pattern = ["a"]) prefix_rule(pattern = ["b"])\n',
        'prefix_rule(pattern = ["a"],\n    decision = "allow")\n',
        'prefix_rule(pattern = ["a"], reviewer = "user")\n',
        'prefix_rule(pattern = ["a"], match = [None])\n',
        "prefix_rule(pattern = [1])\n",
        'prefix_rule(pattern = ["a"], decision = Nonex)\n',
        "prefix_rule(pattern = ['a'])\n",
    ],
)
def test_anything_but_flat_literal_calls_goes_through_starlark(source: str) -> None:
    assert literal_records(source) is None


def test_a_large_generated_file_loads_through_the_fast_path(tmp_path: Path) -> None:
    lines = [
        f'prefix_rule(pattern=["tool{i}", "sub{i}", ["a", "b"]], decision="allow", '
        f'match=["tool{i} sub{i} a x"])'
        for i in range(20_000)
    ]
    path = tmp_path / "big.rules"
    path.write_text("\n".join(lines) + "\n")
    parser = PolicyParser()
    parser.parse_file(path)
    assert parser.policy.rule_count == 20_000
    rule = parser.policy.rules_by_program["tool19999"][0]
    assert rule.source == f"{path}:20000" and rule.rest == ("sub19999", ("a", "b"))


def _reference(policy: Policy, cmd: list[str]) -> list[PrefixRule]:
    return [r for r in policy.rules_by_program.get(cmd[0], []) if r.match_prefix(cmd) is not None]


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(
                st.one_of(
                    st.sampled_from(["a", "b", "c"]),
                    st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=2, max_size=3),
                ),
                min_size=0,
                max_size=10,
            ),
            st.sampled_from(list(Decision)),
        ),
        min_size=0,
        max_size=60,
    ),
    st.lists(st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=11), max_size=20),
)
def test_the_index_returns_exactly_what_a_scan_returns(
    rules: list[tuple[list[str | list[str]], Decision]], commands: list[list[str]]
) -> None:
    policy = Policy()
    for rest, decision in rules:
        tokens = tuple(t if isinstance(t, str) else tuple(t) for t in rest)
        policy.add_rule(PrefixRule("git", tokens, decision))
    for tail in commands:
        cmd = ["git", *tail]
        found = [m.rule for m in policy.matches_for_command(cmd)]
        assert found == _reference(policy, cmd)
        restrictive = [m.rule for m in policy.restrictive_matches(cmd)]
        assert restrictive == [
            r for r in _reference(policy, cmd) if r.decision is not Decision.ALLOW
        ]
        extending = policy.first_restrictive("git", tail)
        expected = [
            r
            for r in policy.rules_by_program.get("git", [])
            if r.decision is not Decision.ALLOW
            and len(r.rest) > len(tail)
            and all(
                a == t if isinstance(t, str) else a in t for t, a in zip(r.rest, tail, strict=False)
            )
        ]
        assert (extending is None) == (not expected)


def test_the_child_is_quiet_and_cannot_deadlock_on_backtraces() -> None:
    import faulthandler
    import os

    faulthandler.enable()
    try:
        state = run_in_child(
            lambda: json.dumps(
                [
                    os.environ.get("RUST_BACKTRACE"),
                    os.environ.get("RUST_LIB_BACKTRACE"),
                    faulthandler.is_enabled(),
                ]
            ).encode(),
            timeout=10,
            memory_bytes=0,
        )
    finally:
        faulthandler.disable()
    assert json.loads(state) == ["0", "0", False]


CONTAINED = """
import sys, time
from codex_admin.errors import CodexError
from codex_admin.execpolicy import Limits, PolicyParser
sources = [
    "x = [1, 2] * 2147483647\\n",
    'x = "ab" * 2147483647\\n',
    'A = "allow"\\n' + "".join(
        f'prefix_rule(pattern=["t{i}", "s{i}"], decision=A, match=["t{i} s{i}"])\\n'
        for i in range(30000)
    ),
]
for source in sources:
    start = time.monotonic()
    try:
        PolicyParser(limits=Limits(memory_budget_bytes=32 << 20)).parse_source("m.rules", source)
    except CodexError as err:
        print(round(time.monotonic() - start, 1), str(err).replace("\\n", " | "))
"""


def test_memory_failures_are_quiet_fast_and_name_the_knob(tmp_path: Path) -> None:
    """Run as a separate interpreter with faulthandler on and Rust backtraces on, as pytest and
    many CI environments do: no "Fatal Python error" dump, no hang, the knob in the message."""
    script = tmp_path / "contained.py"
    script.write_text(CONTAINED)
    proc = subprocess.run(
        [sys.executable, "-X", "faulthandler", str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "RUST_BACKTRACE": "1", "RUST_LIB_BACKTRACE": "1"},
        cwd=Path(__file__).resolve().parents[2],
    )
    assert "Fatal Python error" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 3, proc.stdout + proc.stderr
    for line in lines:
        seconds, message = line.split(" ", 1)
        assert float(seconds) < 30, line
        assert "memory budget is 32 MiB" in message and "CODEX_EXECPOLICY_MEMORY_MB=64" in message


def test_the_timeout_names_its_knob() -> None:
    from codex_admin.execpolicy import Limits

    start = time.monotonic()
    with pytest.raises(CodexError) as info:
        PolicyParser(limits=Limits(timeout_seconds=0.5)).parse_source(
            "t.rules", "x = 0\nfor i in range(2147483647):\n    x += 1\n"
        )
    assert time.monotonic() - start < 10
    assert "exceeded 0.5s" in str(info.value) and "CODEX_EXECPOLICY_TIMEOUT=1" in str(info.value)
