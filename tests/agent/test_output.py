"""Head+tail truncation of command output for the model (Codex's format)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from codex_admin.agent.output import (
    MAX_BYTES,
    MAX_LINES,
    format_exec_output,
    shell_output_json,
    shell_output_text,
    truncate_for_model,
)


def test_small_output_is_unchanged() -> None:
    assert truncate_for_model("a\nb\n") == "a\nb\n"


def test_many_lines_keep_head_and_tail_with_marker() -> None:
    text = "".join(f"line {i}\n" for i in range(1000))
    out = truncate_for_model(text)
    assert out.startswith("Total output lines: 1000\n\n")
    assert "line 0\n" in out and "line 999\n" in out
    assert "[... omitted 744 of 1000 lines ...]" in out
    assert "line 500\n" not in out


def test_huge_single_line_is_cut_by_bytes() -> None:
    out = truncate_for_model("x" * (MAX_BYTES * 10))
    assert len(out.encode()) < MAX_BYTES + 200
    assert "omitted" in out


@given(st.text(max_size=4000))
def test_truncation_never_grows_past_the_budget(text: str) -> None:
    out = truncate_for_model(text, max_lines=20, max_bytes=400)
    if len(text.splitlines()) <= 20 and len(text.encode()) <= 400:
        assert out == text
    else:
        assert len(out.encode()) <= 400 + 120


def test_multibyte_characters_are_not_split() -> None:
    out = truncate_for_model("é" * MAX_BYTES)
    out.encode("utf-8")  # no lone surrogates / broken characters
    assert "\ufffd" not in out


def test_timeout_is_said_in_words() -> None:
    out = format_exec_output("partial\n", 124, True, 1500)
    assert out.startswith("command timed out after 1500 milliseconds\n")


def test_function_and_freeform_shapes() -> None:
    data = json.loads(shell_output_json("hi\n", 3, 0.2349))
    assert data == {"output": "hi\n", "metadata": {"exit_code": 3, "duration_seconds": 0.2}}
    assert shell_output_text("hi\n", 0, 1.26) == (
        "Exit code: 0\nWall time: 1.3 seconds\nOutput:\nhi\n"
    )
    assert MAX_LINES == 256
