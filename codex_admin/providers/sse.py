"""A sans-IO Server-Sent Events decoder (WHATWG HTML §9.2 "event stream interpretation").

Why hand-written rather than httpx-sse: the same decoder is fed by the httpx transport, by tests
that cut a stream at every byte, and by both wires; it must be strict where httpx-sse is lenient
and bounded where it is not. Feed it bytes in pieces of any size; it returns the complete events.

* Bytes are UTF-8, decoded incrementally (a character split across pieces is fine); invalid UTF-8
  is an error, not a replacement character. A leading BOM is dropped.
* Lines end in CRLF, LF or CR; a CR at the end of a piece waits for the next piece to decide.
* ``data`` lines are joined with LF; ``event`` sets the type (default ``message``); ``id`` (without
  NUL) and ``retry`` (digits) are kept; comments (``:``) and unknown fields are ignored; a blank
  line dispatches the event when it has data.
* Limits: one event (all its data) may not exceed ``max_event_bytes`` characters (default 16 MiB),
  so a hostile server cannot make us buffer without bound.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

__all__ = ["SSEDecoder", "SSEError", "SSEEvent"]

MAX_EVENT_BYTES = 16 * 1024 * 1024
_EOL = re.compile(r"\r\n|\r|\n")


class SSEError(ValueError):
    """The byte stream is not a valid event stream (bad UTF-8, an oversized event)."""


@dataclass(frozen=True)
class SSEEvent:
    """One server-sent event: its name, data and optional id and retry."""

    event: str
    data: str
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    def __init__(self, *, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._max = max_event_bytes
        self._line = ""  # text of the line being read (no terminator yet)
        self._pending_cr = False
        self._started = False
        self._event = ""
        self._data: list[str] = []
        self._size = 0
        self._last_id: str | None = None
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Decode ``chunk`` and return the events it completed."""
        try:
            text = self._decoder.decode(chunk)
        except UnicodeDecodeError as err:
            raise SSEError(f"event stream is not valid UTF-8 ({err.reason})") from None
        return self._text(text)

    def close(self) -> list[SSEEvent]:
        """End of stream: a final event without its blank line is discarded (per the spec)."""
        try:
            tail = self._decoder.decode(b"", final=True)
        except UnicodeDecodeError as err:
            raise SSEError(f"event stream ends inside a UTF-8 character ({err.reason})") from None
        events = self._text(tail)
        self._pending_cr = False
        return events

    def _text(self, text: str) -> list[SSEEvent]:
        if not self._started and text:
            self._started = True
            text = text.removeprefix("\ufeff")
        events: list[SSEEvent] = []
        pos = 0
        if self._pending_cr and text:
            self._pending_cr = False
            if text[0] == "\n":
                pos = 1
        length = len(text)
        for match in _EOL.finditer(text, pos):  # one pass over the piece
            self._append(text[pos : match.start()])
            line, self._line = self._line, ""
            event = self._line_done(line)
            if event is not None:
                events.append(event)
            pos = match.end()
            if pos == length and match.group() == "\r":
                self._pending_cr = True  # an LF may start the next piece
        if pos < length:
            self._append(text[pos:])
        return events

    def _append(self, piece: str) -> None:
        if len(self._line) + len(piece) + self._size > self._max:
            raise SSEError(f"event stream line or event exceeds {self._max} characters")
        self._line += piece

    def _line_done(self, line: str) -> SSEEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._size += len(value) + 1
            if self._size > self._max:
                raise SSEError(f"event stream event exceeds {self._max} characters")
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._last_id = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)
        return None

    def _dispatch(self) -> SSEEvent | None:
        data, event = self._data, self._event
        self._data, self._event, self._size = [], "", 0
        if not data:
            return None
        return SSEEvent(event or "message", "\n".join(data), self._last_id, self._retry)
