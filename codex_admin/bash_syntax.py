"""The one door to tree-sitter-bash: a shell script in, its syntax tree out, or None.

Model-written commands and scripts from untrusted repositories reach this parser, and it is
native code: tree-sitter-bash 0.25.1 reads out of bounds (a segfault on Linux, the whole agent
gone) when a script holds ``{`` and, anywhere later, a 4-byte UTF-8 sequence
(tree-sitter/tree-sitter-bash#337, open upstream; not tied to one code block nor to the ``{``
being adjacent). So the parser never sees a 4-byte sequence:

* every character above U+FFFF is handed to it as a pair of Private Use Area characters
  (U+E000+high 10 bits, U+E400+low 10 bits: a surrogate pair moved into the PUA). Bash treats
  both spellings alike -- any non-ASCII character is a plain word character to it -- so the tree
  has the shape bash sees. :func:`node_text` and :func:`source_text` turn each pair back into
  the character, so callers read the script's real words. The pairs are unambiguous because a
  script that already holds a character of U+E000-U+E7FF is not parsed (below).
* what cannot be mapped like that is *not analysable*: ``None``, which every caller treats as
  the conservative answer (execpolicy: the script is one opaque command, never allowed by the
  commands inside it; apply_patch: not a heredoc patch). That is: NUL (no shell argument holds
  one), a lone surrogate that is not an undecodable argv byte, an undecodable byte 0xF0-0xF7
  (raw argv bytes are surrogate escapes, and the native decoder would start a 4-byte sequence
  at one), a character of U+E000-U+E7FF, and a script over ``max_bytes``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

__all__ = [
    "DEFAULT_MAX_SCRIPT_BYTES",
    "node_text",
    "parse_bash",
    "source_text",
    "unparseable_reason",
]

DEFAULT_MAX_SCRIPT_BYTES = 64 * 1024

_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_PAIR = re.compile("([\ue000-\ue3ff])([\ue400-\ue7ff])")
# The PUA band the pairs use, and raw argv bytes (surrogate escapes) 0xF0-0xF7.
_UNMAPPABLE = re.compile("[\ue000-\ue7ff\udcf0-\udcf7]")


@lru_cache(maxsize=1)
def _parser() -> Any:
    # imported on first use: loading policies and `check` on plain argv never parse a script
    import tree_sitter
    import tree_sitter_bash

    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_bash.language()))


def unparseable_reason(script: str, max_bytes: int = DEFAULT_MAX_SCRIPT_BYTES) -> str | None:
    """Why ``script`` is not handed to the parser, or None when it is safe to parse."""
    if "\0" in script:
        return "it contains a NUL byte"
    try:
        size = len(script.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:
        return "it is not valid UTF-8"
    found = _UNMAPPABLE.search(script)
    if found is not None:
        return f"it contains U+{ord(found.group()):04X}, which the shell parser cannot be given"
    if size > max_bytes:
        return f"it is longer than {max_bytes} bytes"
    return None


def _to_pair(match: re.Match[str]) -> str:
    offset = ord(match.group()) - 0x10000
    return chr(0xE000 + (offset >> 10)) + chr(0xE400 + (offset & 0x3FF))


def _from_pair(match: re.Match[str]) -> str:
    high, low = (ord(c) for c in match.groups())
    return chr(0x10000 + ((high - 0xE000) << 10) + (low - 0xE400))


def parse_bash(script: str, max_bytes: int = DEFAULT_MAX_SCRIPT_BYTES) -> Any | None:
    """The root node of ``script``'s syntax tree, or None when it is not analysable (see the
    module docstring). Read text with :func:`node_text` / :func:`source_text`, never
    ``node.text`` directly: the tree's bytes hold the PUA pairs, not the script's characters."""
    if unparseable_reason(script, max_bytes) is not None:
        return None
    safe = _ASTRAL.sub(_to_pair, script)
    return _parser().parse(safe.encode("utf-8", "surrogateescape")).root_node


def source_text(data: bytes) -> str:
    """Bytes of a tree from :func:`parse_bash` as the script's own text (undecodable argv bytes
    stay surrogate escapes, PUA pairs become the characters they stand for)."""
    return _PAIR.sub(_from_pair, data.decode("utf-8", "surrogateescape"))


def node_text(node: Any) -> str:
    """The script text a node of a :func:`parse_bash` tree spans."""
    return source_text(bytes(node.text))
