"""Apply an update's chunks to a file's text, keeping its line endings; build the unified diff.

Behaviour of Codex 0.169.0 (the newest; each point checked against the binary):

* A file is split into lines at CRLF, LF and a lone CR; each line keeps its own ending. The
  file's preferred ending is that of its first line (LF when it has none).
* Chunks are located in order (:func:`~.seek.seek_sequence`); a chunk without old lines is added
  at the end of the file. If a chunk ending in an empty line is not found, it is retried without
  that line. Replacements are applied in file order.
* In a replaced region, context lines keep the file's own text and ending (even when they were
  matched ignoring whitespace or punctuation); added lines are the patch text with the preferred
  ending. Every line ends with a newline afterwards, so the result always ends with one.

The diff is built from the same edit script (no second diff pass), so it is exact and linear in
the file size: ``git apply`` accepts it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from codex_admin.apply_patch.model import Chunk, PatchError
from codex_admin.apply_patch.seek import seek_sequence

__all__ = ["UpdatedText", "add_diff", "delete_diff", "update_text"]

_LINE = re.compile(r"([^\r\n]*)(\r\n|\r|\n|\Z)")


@dataclass(frozen=True)
class UpdatedText:
    """The new text and the unified diff hunks (without file headers)."""

    text: str
    hunks: str


def _split(text: str) -> tuple[list[str], list[str]]:
    """(texts, endings) of every line; the last ending is "" when the file does not end in one."""
    texts: list[str] = []
    endings: list[str] = []
    for match in _LINE.finditer(text):
        body, ending = match.group(1), match.group(2)
        if not ending and not body:
            break
        texts.append(body)
        endings.append(ending)
        if not ending:
            break
    return texts, endings


@dataclass
class _Entry:
    text: str
    old: bool
    new: bool


def _entries(chunk: Chunk) -> list[_Entry]:
    return [_Entry(text, marker != "+", marker != "-") for marker, text in chunk.lines]


def _drop_trailing_empty(entries: list[_Entry]) -> list[_Entry]:
    """Codex's retry: drop the last old line (it is empty), and the last new line if empty."""
    olds = [e for e in entries if e.old]
    news = [e for e in entries if e.new]
    olds[-1].old = False
    if news and news[-1].text == "":
        news[-1].new = False
    return [e for e in entries if e.old or e.new]


def _locate(
    texts: list[str], chunks: Sequence[Chunk], display: str
) -> list[tuple[int, int, list[_Entry]]]:
    replacements: list[tuple[int, int, list[_Entry]]] = []
    cursor = 0
    for chunk in chunks:
        if chunk.context is not None:
            found = seek_sequence(texts, [chunk.context], cursor, False)
            if found is None:
                raise PatchError(
                    f"Failed to find context '{chunk.context}' in {display}",
                    kind="apply",
                    file=display,
                    hint="the '@@' anchor must be a line of the file, after the previous chunk",
                )
            cursor = found + 1
        entries = _entries(chunk)
        old = [e.text for e in entries if e.old]
        if not old:
            replacements.append((len(texts), 0, entries))
            continue
        found = seek_sequence(texts, old, cursor, chunk.end_of_file)
        if found is None and old[-1] == "":
            entries = _drop_trailing_empty(entries)
            old = old[:-1]
            found = seek_sequence(texts, old, cursor, chunk.end_of_file)
        if found is None:
            lines = "\n".join(chunk.old_lines)
            raise PatchError(
                f"Failed to find expected lines in {display}:\n{lines}",
                kind="apply",
                file=display,
                hint="context and '-' lines must match the file (read it again before patching)",
            )
        replacements.append((found, len(old), entries))
        cursor = found + len(old)
    replacements.sort(key=lambda r: r[0])
    return replacements


def update_text(text: str, chunks: Sequence[Chunk], display: str, context: int = 3) -> UpdatedText:
    """Apply ``chunks`` to ``text``; ``display`` names the file in error messages."""
    texts, endings = _split(text)
    preferred = next((e for e in endings if e), "\n")
    replacements = _locate(texts, chunks, display)
    out: list[str] = []
    # The edit script: (tag, text) with tag " ", "-" or "+", in file order.
    script: list[tuple[str, str]] = []
    position = 0
    for start, length, entries in replacements:
        for i in range(position, start):
            out.append(texts[i] + (endings[i] or preferred))
            script.append((" ", texts[i]))
        source = start
        removed: list[str] = []
        added: list[str] = []
        for entry in entries:
            if entry.old and entry.new:
                script += [("-", t) for t in removed] + [("+", t) for t in added]
                removed, added = [], []
                out.append(texts[source] + (endings[source] or preferred))
                script.append((" ", texts[source]))
                source += 1
            elif entry.old:
                removed.append(texts[source])
                source += 1
            else:
                out.append(entry.text + preferred)
                added.append(entry.text)
        script += [("-", t) for t in removed] + [("+", t) for t in added]
        position = start + length
    for i in range(position, len(texts)):
        out.append(texts[i] + (endings[i] or preferred))
        script.append((" ", texts[i]))
    missing_newline = bool(endings) and endings[-1] == ""
    return UpdatedText(text="".join(out), hunks=_hunks(script, context, missing_newline))


_NO_NEWLINE = "\\ No newline at end of file\n"


def _range(start: int, length: int) -> str:
    if length == 1:
        return f"{start + 1}"
    return f"{start + 1 if length else start},{length}"


def _hunks(script: list[tuple[str, str]], context: int, old_missing_newline: bool) -> str:
    """Unified-diff hunks for an edit script; the new text always ends with a newline."""
    if old_missing_newline:
        # The last old line gains a newline: show it as changed even when its text is kept.
        for i in range(len(script) - 1, -1, -1):
            tag, line = script[i]
            if tag == "+":
                continue
            if tag == " ":
                script[i : i + 1] = [("-", line), ("+", line)]
            break
        last_old = max(i for i, (tag, _) in enumerate(script) if tag != "+")
    else:
        last_old = -1
    changed = [i for i, (tag, _) in enumerate(script) if tag != " "]
    if not changed:
        return ""
    groups: list[tuple[int, int]] = []
    for i in changed:
        lo, hi = max(0, i - context), min(len(script), i + context + 1)
        if groups and lo <= groups[-1][1]:
            groups[-1] = (groups[-1][0], max(groups[-1][1], hi))
        else:
            groups.append((lo, hi))
    old_before = [0] * (len(script) + 1)
    new_before = [0] * (len(script) + 1)
    for i, (tag, _) in enumerate(script):
        old_before[i + 1] = old_before[i] + (tag != "+")
        new_before[i + 1] = new_before[i] + (tag != "-")
    parts: list[str] = []
    for lo, hi in groups:
        old_len = old_before[hi] - old_before[lo]
        new_len = new_before[hi] - new_before[lo]
        parts.append(
            f"@@ -{_range(old_before[lo], old_len)} +{_range(new_before[lo], new_len)} @@\n"
        )
        for i in range(lo, hi):
            tag, line = script[i]
            parts.append(f"{tag}{line}\n")
            if i == last_old:
                parts.append(_NO_NEWLINE)
    return "".join(parts)


def add_diff(text: str) -> str:
    """Hunks of a new file with ``text`` (empty for an empty file)."""
    lines, endings = _split(text)
    if not lines:
        return ""
    body = "".join(f"+{line}\n" for line in lines)
    tail = _NO_NEWLINE if endings[-1] == "" else ""
    return f"@@ -0,0 +{_range(0, len(lines))} @@\n{body}{tail}"


def delete_diff(text: str) -> str:
    """Hunks of deleting a file that held ``text``."""
    lines, endings = _split(text)
    if not lines:
        return ""
    body = "".join(f"-{line}\n" for line in lines)
    tail = _NO_NEWLINE if endings[-1] == "" else ""
    return f"@@ -{_range(0, len(lines))} +0,0 @@\n{body}{tail}"
