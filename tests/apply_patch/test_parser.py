"""The parser: grammar, Codex 0.169.0's leniencies and its exact error texts and line numbers.

Every expected message below was produced by the real binary for the same input.
"""

from __future__ import annotations

import pytest

from codex_admin.apply_patch import AddFile, Chunk, DeleteFile, PatchError, UpdateFile, parse
from codex_admin.apply_patch.parser import rust_lines, rust_trim

B, E = "*** Begin Patch\n", "*** End Patch"
HEADERS = "Valid hunk headers: '*** Add File: {path}', '*** Delete File: {path}', '*** Update File: {path}'"
UNEXPECTED = (
    "Every line should start with ' ' (context line), '+' (added line), or '-' (removed line)"
)


def error(text: str) -> PatchError:
    with pytest.raises(PatchError) as info:
        parse(text)
    return info.value


def test_all_operations() -> None:
    patch = parse(
        B + "*** Add File: path/add.py\n+abc\n+def\n*** Delete File: path/delete.py\n"
        "*** Update File: path/update.py\n*** Move to: path/update2.py\n@@ def f():\n"
        "-    pass\n+    return 123\n" + E
    )
    assert patch.hunks == (
        AddFile("path/add.py", "abc\ndef\n", line=2),
        DeleteFile("path/delete.py", line=5),
        UpdateFile(
            "path/update.py",
            (Chunk("def f():", (("-", "    pass"), ("+", "    return 123"))),),
            move_path="path/update2.py",
            line=6,
        ),
    )
    assert patch.paths() == ["path/add.py", "path/delete.py", "path/update.py", "path/update2.py"]


def test_first_chunk_may_omit_the_marker_and_empty_lines_are_context() -> None:
    (hunk,) = parse(B + "*** Update File: f\n import foo\n\n+bar\n" + E).hunks
    assert isinstance(hunk, UpdateFile)
    (chunk,) = hunk.chunks
    assert chunk.old_lines == ["import foo", ""]
    assert chunk.new_lines == ["import foo", "", "bar"]


def test_zero_operations_parse() -> None:
    assert parse(B + E).hunks == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("bad", "Invalid patch: The first line of the patch must be '*** Begin Patch'"),
        ("", "Invalid patch: The last line of the patch must be '*** End Patch'"),
        ("   ", "Invalid patch: The last line of the patch must be '*** End Patch'"),
        (
            "*** Begin Patch\nbad",
            "Invalid patch: The last line of the patch must be '*** End Patch'",
        ),
        (
            B + "*** Frobnicate File: x\n" + E,
            f"Invalid patch hunk on line 2: '*** Frobnicate File: x' is not a valid hunk header. {HEADERS}",
        ),
        (
            B + "*** Add File: \n+x\n" + E,
            f"Invalid patch hunk on line 2: '*** Add File:' is not a valid hunk header. {HEADERS}",
        ),
        (
            B + "*** Update File: x\n" + E,
            "Invalid patch hunk on line 2: Update file hunk for path 'x' is empty",
        ),
        (
            B + "*** Update File: x\n@@\n-a\n+b\n@@\n*** End of File\n" + E,
            "Invalid patch hunk on line 7: Update hunk does not contain any lines",
        ),
        (
            B + "*** Update File: x\n@@\n-a\n+b\nxyz\n" + E,
            "Invalid patch hunk on line 6: Expected update hunk to start with a @@ context marker, got: 'xyz'",
        ),
        (
            B + "*** Update File: x\n-a\n+b\n@@\nxyz\n" + E,
            f"Invalid patch hunk on line 6: Unexpected line found in update hunk: 'xyz'. {UNEXPECTED}",
        ),
        (
            B + "*** Update File: x\n@@nothere\n-a\n" + E,
            f"Invalid patch hunk on line 3: Unexpected line found in update hunk: '@@nothere'. {UNEXPECTED}",
        ),
        (
            B + "*** Update File: x\n*** Frob\n" + E,
            f"Invalid patch hunk on line 3: Unexpected line found in update hunk: '*** Frob'. {UNEXPECTED}",
        ),
        (
            B + "*** Update File: x\n@@\n-a\n+b\n*** Frob\n" + E,
            "Invalid patch hunk on line 6: Expected update hunk to start with a @@ context marker, got: '*** Frob'",
        ),
        (
            B + "*** Update File: x\n@@\n-a\n+b\n*** End of File\n*** End of File\n" + E,
            "Invalid patch hunk on line 7: Expected update hunk to start with a @@ context marker, got: '*** End of File'",
        ),
        (
            B + "*** Update File: x\n*** End of File  \n" + E,
            "Invalid patch hunk on line 2: Update file hunk for path 'x' is empty",
        ),
        (
            B + "*** Update File: x\n@@\n-a\n+A\n*** End of File\n  *** Add File: y\n+q\n" + E,
            "Invalid patch hunk on line 7: Expected update hunk to start with a @@ context marker, got: '  *** Add File: y'",
        ),
        (
            B + "*** Update File: x\n@@\n-a\n+A\n*** Add File:  \n" + E,
            "Invalid patch hunk on line 6: Expected update hunk to start with a @@ context marker, got: '*** Add File:  '",
        ),
        (
            B + "*** Update File: x\n@@\n" + E + "\n" + E,
            "Invalid patch hunk on line 4: Update hunk does not contain any lines",
        ),
        (
            B + "*** Update File: x\n@@ a\n*** Add File: b\n+1\n" + E,
            f"Invalid patch hunk on line 4: Unexpected line found in update hunk: '*** Add File: b'. {UNEXPECTED}",
        ),
        (
            B + "*** Add File: a\n+x\n\n*** Add File: b\n+y\n" + E,
            f"Invalid patch hunk on line 4: '' is not a valid hunk header. {HEADERS}",
        ),
        (
            B + "*** Begin Patch\n*** Add File: a\n+x\n" + E,
            f"Invalid patch hunk on line 2: '*** Begin Patch' is not a valid hunk header. {HEADERS}",
        ),
        (
            B + "*** Add File: a\n+x\n" + E + "\n*** Add File: b\n+y\n" + E,
            "Invalid patch: The last line of the patch must be '*** End Patch'",
        ),
        (
            "<<'EOF\n" + B + "*** Add File: h\n+x\n" + E + "\nEOF\n",
            "Invalid patch: The first line of the patch must be '*** Begin Patch'",
        ),
    ],
)
def test_codex_error_texts(text: str, message: str) -> None:
    err = error(text)
    assert str(err) == message
    assert err.kind == "parse"


def test_hunk_errors_carry_the_line_for_json() -> None:
    err = error(B + "*** Update File: x\n" + E)
    assert err.line == 2
    assert err.to_json()["line"] == 2 and err.to_json()["path"] == "<patch>"
    assert err.hint


@pytest.mark.parametrize(
    "text",
    [
        " *** Begin Patch\n*** Add File: a\n+x\n*** End Patch  ",
        "*** Begin Patch   \n*** Add File: a\n+x\n   *** End Patch\n",
        "\u00a0*** Begin Patch\n*** Add File: a\n+x\n*** End Patch\u3000",
        "*** Begin Patch\r\n*** Add File: a\r\n+x\r\n*** End Patch\r\n",
        "<<'EOF'\n*** Begin Patch\n*** Add File: a\n+x\n*** End Patch\nEOF\n",
        '<<"EOF"\n*** Begin Patch\n*** Add File: a\n+x\n*** End Patch\nEOF',
        "<<EOF\n*** Begin Patch\n*** Add File: a\n+x\n*** End Patch\nEOF",
        "*** Begin Patch\n   *** Add File: a\n+x\n*** End Patch",
        "*** Begin Patch\n*** Add File: a\n+x\n  *** End Patch\n*** End Patch",
        "*** Begin Patch\n*** Add File: a\n+x\n*** End Patch\n\n*** End Patch",
    ],
)
def test_lenient_boundaries_and_padding(text: str) -> None:
    assert parse(text).hunks == (AddFile("a", "x\n", line=2),)


def test_heredoc_patch_text_is_unwrapped() -> None:
    patch = parse("<<'EOF'\n*** Begin Patch\n*** Delete File: a\n*** End Patch\nEOF\n")
    assert patch.text == "*** Begin Patch\n*** Delete File: a\n*** End Patch"


def test_marker_lines_take_trailing_whitespace() -> None:
    (hunk,) = parse(B + "*** Update File: x\n@@  anchor \t\n-a\n+A\n*** End of File  \n" + E).hunks
    assert isinstance(hunk, UpdateFile)
    assert hunk.chunks == (Chunk(" anchor", (("-", "a"), ("+", "A")), end_of_file=True),)
    (hunk,) = parse(B + "*** Update File: x\n@@    \n-a\n" + E).hunks
    assert isinstance(hunk, UpdateFile) and hunk.chunks[0].context is None


def test_blank_lines_between_chunks_are_skipped_but_not_before_the_first() -> None:
    (hunk,) = parse(B + "*** Update File: x\n@@\n-a\n*** End of File\n\n\n@@\n-b\n" + E).hunks
    assert isinstance(hunk, UpdateFile) and len(hunk.chunks) == 2
    (hunk,) = parse(B + "*** Update File: x\n\n-a\n+b\n" + E).hunks
    assert isinstance(hunk, UpdateFile)
    assert hunk.chunks[0].lines == ((" ", ""), ("-", "a"), ("+", "b"))


def test_padded_move_line_is_context() -> None:
    (hunk,) = parse(B + "*** Update File: x\n  *** Move to: y\n@@\n-a\n" + E).hunks
    assert isinstance(hunk, UpdateFile) and hunk.move_path is None
    assert hunk.chunks[0].lines == ((" ", " *** Move to: y"),)


def test_crlf_patch_lines_lose_their_cr_but_content_keeps_other_cr() -> None:
    (hunk,) = parse("*** Begin Patch\r\n*** Add File: a\r\n+x\ry\r\n*** End Patch").hunks
    assert hunk == AddFile("a", "x\ry\n", line=2)


def test_unicode_paths_and_lines() -> None:
    (hunk,) = parse(B + "*** Add File: dïr/日本.txt\n+Grüße 🎉\n" + E).hunks
    assert hunk == AddFile("dïr/日本.txt", "Grüße 🎉\n", line=2)


def test_rust_trim_keeps_information_separators() -> None:
    # Python's str.strip() would strip U+001C; Rust's trim() does not.
    assert rust_trim("\x1c x \u3000") == "\x1c x"
    assert rust_lines("a\r\nb\n") == ["a", "b"]
    assert rust_lines("a\n\nb") == ["a", "", "b"]
    with pytest.raises(PatchError):
        parse("\x1c*** Begin Patch\n*** End Patch")


def test_large_patch_parses_in_linear_time() -> None:
    body = "".join(f"@@\n-old {i}\n+new {i}\n" for i in range(20000))
    (hunk,) = parse(B + "*** Update File: big\n" + body + E).hunks
    assert isinstance(hunk, UpdateFile) and len(hunk.chunks) == 20000
