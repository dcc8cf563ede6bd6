"""Where `codex exec` gets its prompt (spec runtime §2, item 1), with Codex's messages.

* a positional prompt; with stdin piped too, stdin is appended as ``<stdin>…</stdin>`` after a
  blank line;
* ``-`` or no prompt: all of stdin (an interactive terminal with no prompt is an error);
* stdin bytes: a UTF-8 BOM is stripped, UTF-16 LE/BE with a BOM decoded; UTF-32 and invalid
  UTF-8 are refused with a hint to convert; whitespace-only input is an error.
"""

from __future__ import annotations

import codecs
from typing import BinaryIO

from codex_admin.errors import CodexError

__all__ = ["read_prompt"]

NO_PROMPT = "No prompt provided. Either specify one as an argument or pipe the prompt into stdin."


def decode_stdin(data: bytes) -> str:
    """Decode piped prompt bytes as Codex does (CodexError with Codex's text otherwise)."""
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        name = "UTF-32LE" if data.startswith(codecs.BOM_UTF32_LE) else "UTF-32BE"
        raise CodexError(
            f"Failed to read prompt from stdin: input appears to be {name}. "
            "Convert it to UTF-8 and retry."
        )
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    elif data.startswith(codecs.BOM_UTF16_LE):
        return _decode(data[2:], "utf-16-le", "UTF-16LE")
    elif data.startswith(codecs.BOM_UTF16_BE):
        return _decode(data[2:], "utf-16-be", "UTF-16BE")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise CodexError(
            "Failed to read prompt from stdin: input is not valid UTF-8 (invalid byte at offset "
            f"{err.start}). Convert it to UTF-8 and retry (e.g., "
            "`iconv -f <ENC> -t UTF-8 prompt.txt`)."
        ) from None


def _decode(data: bytes, codec: str, name: str) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        raise CodexError(
            f"Failed to read prompt from stdin: input is not valid {name}. "
            "Convert it to UTF-8 and retry."
        ) from None


def read_prompt(
    prompt: str | None, stdin: BinaryIO, *, stdin_is_tty: bool, notice: list[str]
) -> str:
    """The prompt text; ``notice`` collects Codex's "Reading … from stdin..." lines."""
    if prompt is not None and prompt != "-":
        if stdin_is_tty:
            return prompt
        notice.append("Reading additional input from stdin...")
        extra = decode_stdin(stdin.read())
        if not extra.strip():
            return prompt
        return f"{prompt}\n\n<stdin>\n{extra.rstrip(chr(10))}\n</stdin>"
    if stdin_is_tty and prompt is None:
        raise CodexError(NO_PROMPT)
    notice.append("Reading prompt from stdin...")
    text = decode_stdin(stdin.read())
    if not text.strip():
        raise CodexError("No prompt provided via stdin.")
    return text
