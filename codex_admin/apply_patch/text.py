"""Apply an update's chunks to a file's text, keeping its line endings; build the unified diff.

Behaviour of Codex 0.169.0 (the newest; each point checked against the binary):

* A file is split into lines at CRLF, LF and a lone CR; each line keeps its own ending. The
  file's preferred ending is that of its first line (LF when it has none).
* Chunks are located in order (:func:`~.seek.seek_sequence`); a chunk without old lines is added
  at the end of the file. If a chunk ending in an empty line is not found, it is retried without
  that line. Each run of removed/added lines is one edit; edits are applied in file order, and
  edits at the same line in patch order.
* In a replaced region, context lines keep the file's own text and ending (even when they were
  matched ignoring whitespace or punctuation); added lines are the patch text with the preferred
  ending. Every line ends with a newline afterwards, so the result always ends with one.

The diff is built from the same edit script (no second diff pass), so it is exact and linear in
the file size: ``git apply`` accepts it.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass

from codex_admin.apply_patch.model import Chunk, PatchError
from codex_admin.apply_patch.seek import seek_sequence

__all__ = ["NO_NEWLINE", "UpdatedText", "hunk_range", "split_lines", "update_text"]

_BREAK = re.compile(r"(\r\n|\r|\n)")


@dataclass(frozen=True)
class UpdatedText:
    """The new text and the unified diff hunks (without file headers)."""

    text: str
    hunks: str


def split_lines(text: str) -> tuple[list[str], list[str]]:
    """(texts, endings) of every line; the last ending is "" when the file does not end in one."""
    if "\r" not in text:  # the common case, at C speed
        texts = text.split("\n")
        if texts[-1] == "":
            texts.pop()
            return texts, ["\n"] * len(texts)
        return texts, ["\n"] * (len(texts) - 1) + [""]
    parts = _BREAK.split(text)
    texts, endings = parts[0::2], parts[1::2]
    if texts[-1] == "":
        texts.pop()
    else:
        endings.append("")
    return texts, endings


_Entries = list[tuple[str, str]]  # (marker, text) as in Chunk.lines


def _drop_trailing_empty(entries: _Entries) -> _Entries:
    """Codex's retry: drop the last old line (it is empty), and the last new line if empty."""
    entries = list(entries)
    last_old = max(i for i, (marker, _) in enumerate(entries) if marker != "+")
    news = [i for i, (marker, _) in enumerate(entries) if marker != "-"]
    last_new = news[-1] if news and entries[news[-1]][1] == "" else None
    marker, text = entries[last_old]
    entries[last_old] = ("+", text) if marker == " " else ("", text)
    if last_new is not None:
        marker, text = entries[last_new]
        entries[last_new] = ("-", text) if marker == " " else ("", text)
    return [entry for entry in entries if entry[0]]


def _locate(
    texts: list[str], chunks: Sequence[Chunk], display: str
) -> list[tuple[int, int, _Entries]]:
    replacements: list[tuple[int, int, _Entries]] = []
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
        entries: _Entries = list(chunk.lines)
        old = [text for marker, text in entries if marker != "+"]
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
    return replacements


# An edit script in file order: ``(start, stop)`` is a run of unchanged original lines; a list
# is a change block of ``(tag, text, no_newline)`` with its removed lines before its added ones.
_Range = tuple[int, int]
_Block = list[tuple[str, str, bool]]


def _edits(replacements: list[tuple[int, int, _Entries]]) -> list[tuple[int, int, list[str]]]:
    """Each chunk's runs of removed/added lines as ``(start, removed, added)``, in file order.

    Context lines are not replaced (they keep the file's text and ending). Edits starting at the
    same line stay in patch order (a stable sort, as Codex's), so an addition at the end of the
    file from an earlier chunk precedes one from a later chunk.
    """
    edits: list[tuple[int, int, list[str]]] = []
    for start, _length, entries in replacements:
        source = run_start = start
        removed = 0
        added: list[str] = []
        for marker, line in entries:
            if marker == " ":
                if removed or added:
                    edits.append((run_start, removed, added))
                source += 1
                run_start, removed, added = source, 0, []
            elif marker == "-":
                removed += 1
                source += 1
            else:
                added.append(line)
        if removed or added:
            edits.append((run_start, removed, added))
    edits.sort(key=lambda edit: edit[0])
    return edits


def update_text(text: str, chunks: Sequence[Chunk], display: str, context: int = 3) -> UpdatedText:
    """Apply ``chunks`` to ``text``; ``display`` names the file in error messages.

    Linear in the file: unchanged runs are copied as slices and only the changed lines are
    looked at again to build the diff.
    """
    texts, endings = split_lines(text)
    preferred = next((e for e in endings if e), "\n")
    replacements = _locate(texts, chunks, display)
    full = list(map(operator.add, texts, endings))
    missing_newline = bool(endings) and endings[-1] == ""
    if missing_newline:
        full[-1] += preferred
    pieces: list[str] = []
    script: list[_Range | _Block] = []

    def keep(first: int, stop: int) -> None:
        if stop <= first:
            return
        pieces.append(full[first] if stop == first + 1 else "".join(full[first:stop]))
        last = script[-1] if script else None
        if isinstance(last, tuple) and last[1] == first:
            script[-1] = (last[0], stop)
        else:
            script.append((first, stop))

    def change(removed: Sequence[str], added: Sequence[str]) -> None:
        if removed or added:
            script.append([("-", t, False) for t in removed] + [("+", t, False) for t in added])

    position = 0
    for start, removed, added in _edits(replacements):
        keep(position, start)
        pieces.extend(line + preferred for line in added)
        change(texts[start : start + removed], added)
        position = start + removed
    keep(position, len(texts))
    if missing_newline:
        _mark_missing_newline(script, texts)
    return UpdatedText(text="".join(pieces), hunks=_hunks(script, texts, context))


def _mark_missing_newline(script: list[_Range | _Block], texts: list[str]) -> None:
    """The last old line gains a newline: show it as changed, with git's marker."""
    last = len(texts) - 1
    for index in range(len(script) - 1, -1, -1):
        item = script[index]
        if isinstance(item, tuple):
            first, stop = item
            if stop != last + 1:
                return
            block: _Block = [("-", texts[last], True), ("+", texts[last], False)]
            following = script[index + 1] if index + 1 < len(script) else None
            if isinstance(following, list):
                block += following
                del script[index + 1]
            script[index : index + 1] = [(first, last), block] if last > first else [block]
            return
        removed = [i for i, (tag, _, _) in enumerate(item) if tag == "-"]
        if removed:
            tag, line, _ = item[removed[-1]]
            item[removed[-1]] = (tag, line, True)
            return


NO_NEWLINE = "\\ No newline at end of file\n"


def hunk_range(start: int, length: int) -> str:
    if length == 1:
        return f"{start + 1}"
    return f"{start + 1 if length else start},{length}"


def _hunks(script: list[_Range | _Block], texts: list[str], context: int) -> str:
    """Unified-diff hunks (``context`` lines around each change) for an edit script."""
    blocks = [i for i, item in enumerate(script) if isinstance(item, list)]
    if not blocks:
        return ""
    last_block = blocks[-1]
    parts: list[str] = []
    lines: list[str] = []
    old_start = new_start = old_count = new_count = 0
    old_pos = new_pos = 0
    open_hunk = False

    def close() -> None:
        header = f"@@ -{hunk_range(old_start, old_count)} +{hunk_range(new_start, new_count)} @@\n"
        parts.append(header + "".join(lines))

    for index, item in enumerate(script):
        if isinstance(item, tuple):
            first, stop = item
            size = stop - first
            if open_hunk:
                take = size if index < last_block and size <= 2 * context else min(size, context)
                lines.extend(f" {t}\n" for t in texts[first : first + take])
                old_count += take
                new_count += take
                if take < size or index > last_block:
                    close()
                    open_hunk = False
            old_pos += size
            new_pos += size
            continue
        if not open_hunk:
            previous = script[index - 1] if index else None
            lead = min(context, previous[1] - previous[0]) if isinstance(previous, tuple) else 0
            old_start, new_start = old_pos - lead, new_pos - lead
            lines = [f" {t}\n" for t in texts[old_pos - lead : old_pos]]
            old_count = new_count = lead
            open_hunk = True
        for tag, line, no_newline in item:
            lines.append(f"{tag}{line}\n")
            if no_newline:
                lines.append(NO_NEWLINE)
            if tag == "-":
                old_pos += 1
                old_count += 1
            else:
                new_pos += 1
                new_count += 1
    if open_hunk:
        close()
    return "".join(parts)
