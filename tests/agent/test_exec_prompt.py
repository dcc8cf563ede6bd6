"""`codex exec` prompt sources and decoding, with Codex's messages."""

from __future__ import annotations

import codecs
import io

import pytest

from codex_admin.cli.exec_prompt import NO_PROMPT, decode_stdin, read_prompt
from codex_admin.errors import CodexError


def _read(prompt: str | None, data: bytes, tty: bool = False) -> tuple[str, list[str]]:
    notice: list[str] = []
    return read_prompt(prompt, io.BytesIO(data), stdin_is_tty=tty, notice=notice), notice


def test_argument_with_piped_stdin_appends_a_stdin_block() -> None:
    text, notice = _read("summarise", b"log line\n")
    assert text == "summarise\n\n<stdin>\nlog line\n</stdin>"
    assert notice == ["Reading additional input from stdin..."]


def test_stdin_only_and_dash() -> None:
    assert _read(None, b"do it")[0] == "do it"
    assert _read("-", b"do it")[0] == "do it"


def test_terminal_without_prompt_is_codex_error() -> None:
    with pytest.raises(CodexError) as err:
        _read(None, b"", tty=True)
    assert err.value.message == NO_PROMPT


def test_whitespace_only_stdin() -> None:
    with pytest.raises(CodexError, match="No prompt provided via stdin."):
        _read(None, b"  \n\t")


def test_boms_and_encodings() -> None:
    assert decode_stdin(codecs.BOM_UTF8 + "héllo".encode()) == "héllo"
    assert decode_stdin(codecs.BOM_UTF16_LE + "hé".encode("utf-16-le")) == "hé"
    assert decode_stdin(codecs.BOM_UTF16_BE + "hé".encode("utf-16-be")) == "hé"
    with pytest.raises(CodexError, match="appears to be UTF-32LE"):
        decode_stdin(codecs.BOM_UTF32_LE + "h".encode("utf-32-le"))
    with pytest.raises(CodexError, match=r"invalid byte at offset 1\). Convert it to UTF-8"):
        decode_stdin(b"a\xffb")
