"""Parse Codex's patch format (spec §5.1) into a :class:`~.model.Patch`.

The grammar, with the leniencies of Codex 0.169.0 (each checked against the binary):

* the whole text is trimmed, then split into lines the way Rust's ``str::lines`` does (LF, with
  one trailing CR dropped per line), so CRLF patches parse like LF ones;
* ``*** Begin Patch`` / ``*** End Patch`` may carry surrounding whitespace, and so may hunk
  headers (``*** Add File:`` ...) between operations; ``*** Move to:`` must start its line;
* a patch wrapped in a heredoc (first line exactly ``<<EOF``, ``<<'EOF'`` or ``<<"EOF"``, last
  line ending in ``EOF``, at least four lines) is unwrapped, then parsed strictly;
* an earlier ``*** End Patch`` line ends the patch; only blank lines may follow it;
* inside an update, ``@@`` lines and ``*** End of File`` may carry trailing whitespace; an update
  ends at the next ``*** Add/Delete/Update File:`` header (at the start of its line); any other
  line starting with ``*`` is an error there; blank lines are skipped between chunks but are
  empty context lines before the first one; the ``@@`` line may be left out of the first chunk;
* a patch with no operations parses (applying it fails with "No files were modified.").

Error texts and line numbers (1 = the Begin line) are Codex's. The parser never raises anything
but :class:`~.model.PatchError` (a hypothesis test holds it to that) and is linear in the patch.
"""

from __future__ import annotations

from codex_admin.apply_patch.model import AddFile, Chunk, DeleteFile, Hunk, Patch, PatchError
from codex_admin.apply_patch.model import UpdateFile as Update

__all__ = ["parse", "rust_lines", "rust_trim"]

BEGIN = "*** Begin Patch"
END = "*** End Patch"
ADD = "*** Add File: "
DELETE = "*** Delete File: "
UPDATE = "*** Update File: "
MOVE = "*** Move to: "
END_OF_FILE = "*** End of File"
HEREDOC_OPENERS = ("<<EOF", "<<'EOF'", '<<"EOF"')

# Rust's `char::is_whitespace` (the Unicode White_Space property). Python's str.strip() also
# strips U+001C..U+001F, which Rust keeps, so the set is spelled out.
_WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)

_VALID_HEADERS = "'*** Add File: {path}', '*** Delete File: {path}', '*** Update File: {path}'"
_NO_LINES = "Update hunk does not contain any lines"


def rust_trim(text: str) -> str:
    """``str::trim`` of Rust: strip Unicode White_Space at both ends."""
    return text.strip(_WHITESPACE)


def rust_lines(text: str) -> list[str]:
    """``str::lines`` of Rust: split on LF, drop one CR before each LF, no final empty line."""
    if not text:
        return []
    parts = text.split("\n")
    if parts[-1] == "":
        parts.pop()
    return [p[:-1] if p.endswith("\r") else p for p in parts]


def _hunk_error(message: str, line: int, hint: str | None = None) -> PatchError:
    return PatchError(
        f"Invalid patch hunk on line {line}: {message}", kind="parse", line=line, hint=hint
    )


def _boundary_error(message: str, hint: str, line: int | None = None) -> PatchError:
    return PatchError(f"Invalid patch: {message}", kind="parse", line=line, hint=hint)


def _check_boundaries(lines: list[str]) -> None:
    first = rust_trim(lines[0]) if lines else None
    last = rust_trim(lines[-1]) if lines else None
    if first == BEGIN and last == END and len(lines) >= 2:
        return
    if first is not None and first != BEGIN:
        raise _boundary_error(
            "The first line of the patch must be '*** Begin Patch'",
            "start the patch with a line '*** Begin Patch'",
            1,
        )
    raise _boundary_error(
        "The last line of the patch must be '*** End Patch'",
        "end the patch with a line '*** End Patch'",
        max(len(lines), 1),
    )


def _strip_boundaries(lines: list[str]) -> list[str]:
    """The lines between Begin and End, unwrapping a heredoc when the strict check fails."""
    try:
        _check_boundaries(lines)
        return lines
    except PatchError as original:
        if len(lines) >= 4 and lines[0] in HEREDOC_OPENERS and lines[-1].endswith("EOF"):
            inner = lines[1:-1]
            _check_boundaries(inner)
            return inner
        raise original from None


def _rstrip(text: str) -> str:
    return text.rstrip(_WHITESPACE)


def _cut_at_end_marker(body: list[str], *, trimmed: bool) -> list[str]:
    """Stop at an early ``*** End Patch``; only blank lines may follow it (0.169.0)."""
    for index, line in enumerate(body):
        marker = rust_trim(line) if trimmed else _rstrip(line)
        if marker == END:
            if any(rust_trim(rest) for rest in body[index + 1 :]):
                raise _boundary_error(
                    "The last line of the patch must be '*** End Patch'",
                    "nothing may follow '*** End Patch'; send one patch per call",
                )
            return body[:index]
    return body


def parse(text: str) -> Patch:
    """Parse ``text`` (a whole patch) or raise :class:`PatchError` with Codex's message."""
    lines = _strip_boundaries(rust_lines(rust_trim(text)))
    body = _cut_at_end_marker(lines[1:-1], trimmed=False)
    hunks: list[Hunk] = []
    index = 0
    line_number = 2
    while index < len(body):
        if rust_trim(body[index]) == END:
            _cut_at_end_marker(body[index:], trimmed=True)
            break
        hunk, used = _parse_hunk(body, index, line_number)
        hunks.append(hunk)
        index += used
        line_number += used
    return Patch(hunks=tuple(hunks), text="\n".join(lines))


def _parse_hunk(lines: list[str], start: int, line_number: int) -> tuple[Hunk, int]:
    header = rust_trim(lines[start])
    if header.startswith(ADD):
        parts: list[str] = []
        end = start + 1
        while end < len(lines) and lines[end].startswith("+"):
            parts.append(lines[end][1:] + "\n")
            end += 1
        used = end - start
        return AddFile(path=header[len(ADD) :], contents="".join(parts), line=line_number), used
    if header.startswith(DELETE):
        return DeleteFile(path=header[len(DELETE) :], line=line_number), 1
    if header.startswith(UPDATE):
        return _parse_update(lines, start, line_number, header[len(UPDATE) :])
    raise _hunk_error(
        f"'{header}' is not a valid hunk header. Valid hunk headers: {_VALID_HEADERS}",
        line_number,
        hint="each operation starts with '*** Add File: ', '*** Delete File: ' or "
        "'*** Update File: ' followed by a path",
    )


def _parse_update(lines: list[str], start: int, line_number: int, path: str) -> tuple[Hunk, int]:
    index = start + 1
    move_path = None
    if index < len(lines) and lines[index].startswith(MOVE):
        move_path = lines[index][len(MOVE) :]
        index += 1
    chunks: list[Chunk] = []
    while index < len(lines):
        line = lines[index]
        if chunks and not rust_trim(line):
            index += 1
            continue
        marker = _rstrip(line)
        if marker.startswith((ADD, DELETE, UPDATE)) or (not chunks and marker == END_OF_FILE):
            break
        chunk, used = _parse_chunk(
            lines, index, line_number + (index - start), allow_missing_context=not chunks
        )
        chunks.append(chunk)
        index += used
    if not chunks:
        raise _hunk_error(
            f"Update file hunk for path '{path}' is empty",
            line_number,
            hint="add at least one chunk ('@@' followed by ' ', '-' and '+' lines)",
        )
    return Update(path=path, chunks=tuple(chunks), move_path=move_path, line=line_number), (
        index - start
    )


def _parse_chunk(
    lines: list[str], start: int, line_number: int, *, allow_missing_context: bool
) -> tuple[Chunk, int]:
    first = lines[start]
    header = _rstrip(first)
    context: str | None = None
    body_start = start
    if header == "@@":
        body_start = start + 1
    elif header.startswith("@@ "):
        context = header[3:]
        body_start = start + 1
    elif not allow_missing_context:
        raise _hunk_error(
            f"Expected update hunk to start with a @@ context marker, got: '{first}'",
            line_number,
            hint="start every chunk after the first with '@@' or '@@ <anchor line>'",
        )
    if body_start >= len(lines):
        raise _hunk_error(_NO_LINES, line_number + 1, hint="give the chunk at least one line")
    body: list[tuple[str, str]] = []
    end_of_file = False
    used = 0
    for index in range(body_start, len(lines)):
        line = lines[index]
        if _rstrip(line) == END_OF_FILE:
            if used == 0:
                raise _hunk_error(
                    _NO_LINES, line_number + 1, hint="give the chunk at least one line"
                )
            end_of_file = True
            used += 1
            break
        marker = line[:1]
        if marker == "":
            body.append((" ", ""))
        elif marker in (" ", "-", "+"):
            body.append((marker, line[1:]))
        else:
            if used == 0:
                raise _hunk_error(
                    f"Unexpected line found in update hunk: '{line}'. Every line should start"
                    " with ' ' (context line), '+' (added line), or '-' (removed line)",
                    line_number + (body_start - start),
                    hint="prefix every chunk line with ' ', '-' or '+'",
                )
            break
        used += 1
    chunk = Chunk(context=context, lines=tuple(body), end_of_file=end_of_file)
    return chunk, used + (body_start - start)
