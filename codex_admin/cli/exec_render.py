"""`codex exec` output: JSONL on stdout (``--json``), or Codex's human transcript on stderr.

Human mode writes progress to stderr and only the final agent message to stdout, so
``codex exec "…" > answer.txt`` captures just the answer. JSON mode writes one event per line to
stdout and nothing else there (warnings are ``error`` items in the stream itself).

Everything shown comes from the model, from command output or from file names, i.e. from
whoever wrote the repository or the web page the model read, so human mode never writes it to
the terminal raw: control characters (escape sequences that retitle the terminal, rewrite the
clipboard with OSC 52, move the cursor to overwrite "declined" with "succeeded", hide text),
a lone carriage return and bidirectional overrides are shown as ``\\xNN`` / ``\\uNNNN``
(:func:`printable`). JSON escapes them by itself; both modes replace lone surrogates.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from codex_admin.agent import Event, TurnCompleted

__all__ = ["HumanRenderer", "JsonRenderer", "printable"]

# C0 (but tab and newline) and C1 controls, DEL, a CR not ending a line, bidi overrides and
# isolates, and lone surrogates (no encoder takes them).
_UNSAFE = re.compile(
    "\r(?!\n)|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xD800 <= code <= 0xDFFF:
        return "\ufffd"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` safe to write to a terminal: controls made visible, CRLF kept as a newline."""
    return _UNSAFE.sub(_escape, text).replace("\r\n", "\n")


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _encodable(text: str) -> str:
    """``text`` with lone surrogates (a file name that is not UTF-8) replaced: stdout is UTF-8."""
    return _LONE_SURROGATE.sub("\ufffd", text)


@dataclass
class JsonRenderer:
    """``--json``: every event as one line on ``out``; notices on ``err``."""

    out: TextIO
    err: TextIO

    def header(self, lines: Sequence[tuple[str, str]], prompt: str) -> None:
        """JSON mode prints no header: stdout holds events only."""

    def notice(self, text: str) -> None:
        self.err.write(text + "\n")
        self.err.flush()

    def event(self, event: Event) -> None:
        if event.type == "approval.requested":
            return  # exec never shows an approval prompt: nobody can answer it
        self.out.write(_encodable(json.dumps(event.to_json(), ensure_ascii=False)) + "\n")
        self.out.flush()


_BOLD, _DIM, _RED, _GREEN, _MAGENTA, _CYAN, _RESET = (
    "\x1b[1m",
    "\x1b[2m",
    "\x1b[31m",
    "\x1b[32m",
    "\x1b[35m",
    "\x1b[36m",
    "\x1b[0m",
)


@dataclass
class HumanRenderer:
    """Codex's human transcript: progress on ``err``; ``final_message`` goes to stdout later."""

    err: TextIO
    color: bool
    cwd: str
    final_message: str | None = None
    _started_ms: dict[str, float] = field(default_factory=dict)

    def _c(self, code: str, text: str) -> str:
        """``text`` (made printable) in ``code``'s colour."""
        text = printable(text)
        return f"{code}{text}{_RESET}" if self.color else text

    def _line(self, text: str = "") -> None:
        """Write one line; every value in ``text`` has been through :func:`printable`."""
        self.err.write(text + "\n")
        self.err.flush()

    def notice(self, text: str) -> None:
        self._line(printable(text))

    def header(self, lines: Sequence[tuple[str, str]], prompt: str) -> None:
        self._line(self._c(_BOLD, "codex-admin (Codex-compatible) exec"))
        self._line("--------")
        for key, value in lines:
            self._line(f"{self._c(_BOLD, key)}: {printable(value)}")
        self._line("--------")
        self._line(self._c(_CYAN, "user"))
        self._line(printable(prompt))

    def event(self, event: Event) -> None:
        # Item events by their wire type, like errors below: the item classes load with the
        # first item, not with the renderer (start-up).
        if event.type == "item.started":
            self._started(event.to_json()["item"])
        elif event.type == "item.updated":
            self._updated(event.to_json()["item"])
        elif event.type == "item.completed":
            self._completed(event.to_json()["item"])
        elif isinstance(event, TurnCompleted):
            self.final_message = event.last_agent_message
            self._line(self._c(_MAGENTA, "tokens used"))
            self._line(f"{event.usage.total_tokens:,}")
        elif event.type == "error":
            self._line(self._c(_RED, f"ERROR: {event.to_json().get('message', '')}"))
        elif event.type == "turn.failed":
            error = event.to_json().get("error") or {}
            self._line(self._c(_RED, f"turn failed: {error.get('message', '')}"))

    def _started(self, item: Mapping[str, Any]) -> None:
        if item.get("type") == "command_execution":
            self._line(self._c(_MAGENTA, "exec"))
            self._line(f"{self._c(_BOLD, str(item.get('command')))} in {printable(self.cwd)}")
        elif item.get("type") == "todo_list":
            self._plan(item)

    def _updated(self, item: Mapping[str, Any]) -> None:
        if item.get("type") == "todo_list":
            self._plan(item)

    def _plan(self, item: Mapping[str, Any]) -> None:
        self._line(self._c(_MAGENTA, "Plan update"))
        for entry in item.get("items") or []:
            mark = "✔" if entry.get("completed") else "□"
            self._line(f"  {mark} {printable(str(entry.get('text', '')))}")

    def _completed(self, item: Mapping[str, Any]) -> None:
        kind = item.get("type")
        if kind == "agent_message":
            self._line(self._c(_MAGENTA, "codex"))
            self._line(printable(str(item.get("text", ""))))
        elif kind == "reasoning":
            self._line(self._c(_DIM, "thinking"))
            self._line(self._c(_DIM, str(item.get("text", ""))))
        elif kind == "command_execution":
            self._command_done(item)
        elif kind == "file_change":
            status = printable(str(item.get("status")))
            self._line(self._c(_MAGENTA, "apply_patch") + f" {status}")
            for change in item.get("changes") or []:
                self._line(printable(f"  {change.get('kind')} {change.get('path')}"))
        elif kind == "error":
            # Warnings carry model text (a guardian rationale): never raw to the terminal.
            self._line(self._c(_RED, f"warning: {printable(str(item.get('message', '')))}"))

    def _command_done(self, item: Mapping[str, Any]) -> None:
        status, code = item.get("status"), item.get("exit_code")
        output = str(item.get("aggregated_output", ""))
        if status == "declined":
            self._line(self._c(_MAGENTA, "exec"))
            self._line(f"{self._c(_BOLD, str(item.get('command')))} in {printable(self.cwd)}")
            self._line(self._c(_RED, f" declined: {output}"))
            return
        if code == 0:
            self._line(self._c(_GREEN, " succeeded:"))
        else:
            self._line(self._c(_RED, f" exited {code}:"))
        if output:
            self._line(self._c(_DIM, output.rstrip("\n")))
