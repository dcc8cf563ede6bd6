"""Property tests: random obfuscations of a forbidden command are never skipped.

Scripts are built from ``git push`` (forbidden) with the shell's ways of spelling a word --
backslashes, single, double and ANSI-C quotes (hex, octal, unicode escapes), empty quotes,
variables, command substitutions -- wrapped in wrappers (``env``, ``sudo -u root``, ``timeout``,
``nice``, ``command``...), placed in contexts (separators, pipelines, subshells, groups, control
flow, functions, substitutions, heredocs, nested ``sh -c``) and handed to a shell or run as argv.
Whatever comes out, the runtime must not answer ``skip``; under ``never`` it must refuse. When
only static spellings are used the answer must be ``forbidden`` outright.
"""

from __future__ import annotations

import shlex

from hypothesis import given, settings
from hypothesis import strategies as st

from codex_admin.execpolicy import ApprovalPolicy, evaluate_exec

from .helpers import parse

POLICY = parse(
    """
prefix_rule(pattern=["git", "push"], decision="forbidden")
prefix_rule(pattern=["git", "status"])
prefix_rule(pattern=["ls"])
"""
)


def _segment(draw: st.DrawFn, text: str, dynamic: bool) -> str:
    kinds = ["plain", "backslash", "single", "double", "ansi", "hex", "octal", "unicode", "empty"]
    if dynamic:
        kinds += ["substitution", "backtick"]
    kind = draw(st.sampled_from(kinds))
    if kind == "plain":
        return text
    if kind == "backslash":
        return "".join("\\" + c for c in text)
    if kind == "single":
        return f"'{text}'"
    if kind == "double":
        return f'"{text}"'
    if kind == "ansi":
        return f"$'{text}'"
    if kind == "hex":
        return "$'" + "".join(f"\\x{ord(c):02x}" for c in text) + "'"
    if kind == "octal":
        return "$'" + "".join(f"\\{ord(c):03o}" for c in text) + "'"
    if kind == "unicode":
        return "$'" + "".join(f"\\u{ord(c):04x}" for c in text) + "'"
    if kind == "empty":
        return text + draw(st.sampled_from(["''", '""', "$''"]))
    if kind == "substitution":
        return f"$(printf %s {text})"
    return f"`printf %s {text}`"


@st.composite
def word(draw: st.DrawFn, text: str, dynamic: bool) -> str:
    """``text`` as a shell word: split into pieces, each spelled its own way."""
    cuts = sorted(draw(st.sets(st.integers(1, len(text) - 1), max_size=len(text) - 1)))
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    return "".join(_segment(draw, piece, dynamic) for piece in pieces)


WRAPPERS = ["", "env ", "env -i ", "sudo -u root ", "timeout 5 ", "nice -n 3 ", "command ",
            "nohup ", "stdbuf -oL ", "setsid ", "flock /tmp/l ", "time ", "exec ",
            "env FOO=1 ", "sudo -E -- "]  # fmt: skip
CONTEXTS = ["{}", "ls; {}", "true && {}", "false || {}", "ls | {}", "({})", "{{ {}; }}",
            "if true; then {}; fi", "for i in 1; do {}; done", "f() {{ {}; }}; f",
            "echo $({})", "x=$({})", "{} > /dev/null 2>&1", "{} &", "! {}",
            "while true; do {}; break; done", "case a in a) {};; esac"]  # fmt: skip


@st.composite
def script(draw: st.DrawFn, dynamic: bool) -> list[str]:
    command = f"{draw(word('git', dynamic))} {draw(word('push', dynamic))}"
    if dynamic and draw(st.booleans()):
        command = (
            "V=push; git $V" if draw(st.booleans()) else f"P=git; $P {draw(word('push', False))}"
        )
    command = draw(st.sampled_from(WRAPPERS)) + command
    text = draw(st.sampled_from(CONTEXTS)).format(command)
    for _ in range(draw(st.integers(0, 2))):
        nesting = draw(st.sampled_from(["sh -c {}", "bash -c {}", "eval {}", "heredoc"]))
        if nesting == "heredoc":
            text = f"bash <<'EOF'\n{text}\nEOF"
        else:
            text = nesting.format(shlex.quote(text))
    shell = draw(
        st.sampled_from(
            [["bash", "-lc"], ["sh", "-c"], ["dash", "-c"], ["zsh", "-c"], ["bash", "-xec"],
             ["ksh", "-c"], ["busybox", "sh", "-c"], ["bash", "-o", "errexit", "-c"]]
        )
    )  # fmt: skip
    outer = shlex.split(draw(st.sampled_from(["", "env -i", "sudo -u root", "timeout 9",
                                              "nice", "setsid -f", "script -q -c"])))  # fmt: skip
    if outer[-1:] == ["-c"]:  # script -q -c 'SHELL -c TEXT'
        return [*outer, shlex.join([*shell, text])]
    return [*outer, *shell, text]


@settings(max_examples=300, deadline=None)
@given(script(dynamic=True))
def test_obfuscated_forbidden_commands_are_never_skipped(argv: list[str]) -> None:
    result = evaluate_exec(POLICY, argv)
    assert result.requirement.kind != "skip", (argv, result.notes)
    never = evaluate_exec(POLICY, argv, approval=ApprovalPolicy.NEVER)
    assert never.requirement.kind == "forbidden", argv


@settings(max_examples=300, deadline=None)
@given(script(dynamic=False))
def test_static_spellings_are_recognised_as_the_forbidden_command(argv: list[str]) -> None:
    result = evaluate_exec(POLICY, argv)
    assert result.requirement.kind == "forbidden", (argv, result.requirement, result.notes)


@st.composite
def argv_form(draw: st.DrawFn) -> list[str]:
    wrapper = draw(st.sampled_from([w for w in WRAPPERS if w and w != "exec " and w != "time "]))
    return [*shlex.split(wrapper), draw(st.sampled_from(["git", "/usr/bin/git", "./git"])), "push"]


@settings(max_examples=100, deadline=None)
@given(argv_form())
def test_wrappers_in_argv_form_are_seen_through(argv: list[str]) -> None:
    assert evaluate_exec(POLICY, argv).requirement.kind == "forbidden", argv


def test_a_heredoc_left_open_at_the_end_still_runs_and_is_seen() -> None:
    """A shell ends a heredoc at the end of its input (bash warns, then runs the body), so an
    unterminated one -- here the inner of two nested heredocs with one delimiter, which the
    outer's first `EOF` line ends -- still runs `git push`. Found by the property above, as
    was the grammar's mis-parsed body below."""
    nested = "bash <<'EOF'\nbash <<'EOF'\n\\g\\i\\t push\nEOF\nEOF"
    open_at_end = "bash <<'EOF'\ngit push"
    # The grammar mis-parses a body line that starts with a backslash and has a `>`; the body
    # is read from the source text, so that error must not make the script opaque.
    misparsed = "bash <<'EOF'\n\\g\\i\\t push > /dev/null 2>&1\nEOF\necho done"
    for script in (nested, open_at_end, misparsed):
        result = evaluate_exec(POLICY, ["bash", "-lc", script])
        assert result.requirement.kind == "forbidden", (script, result.notes)
    # Two heredocs left open, or an error outside the body, stay opaque: never allowed, and
    # refused under `never`.
    for broken in ("cat <<A <<B\ngit push\n", "bash <<'EOF'\n\\a > b\nEOF\nls )"):
        assert evaluate_exec(POLICY, ["bash", "-lc", broken]).requirement.kind != "allow"
        never = evaluate_exec(POLICY, ["bash", "-lc", broken], approval=ApprovalPolicy.NEVER)
        assert never.requirement.kind == "forbidden", broken
