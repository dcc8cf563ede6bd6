"""Extract the `codex` examples of the READMEs and run them as written (issue 18).

Which lines are examples: in a fenced ``sh`` or ``console`` block, every command that starts with
``codex`` (optionally after ``VAR=value`` assignments), written either bare (``codex config show``)
or as a prompt (``$ codex config show``, followed by the output it prints). A line ending in
``\\`` continues on the next one.

What the example implies:

* the exit status: ``0``, unless the command's trailing comment *ends* with ``exit N``
  (``# blocked: exit 3``, ``# exit 1``); a comment such as "(exit 3 when one fails)" describes
  the command and implies nothing;
* for the prompt form, the output shown under it, matched line by line: ``…`` stands for any
  text (on a line of its own: any number of lines), ``/home/me`` for ``$HOME`` (``$CODEX_HOME``
  is ``/home/me/.codex``) and ``127.0.0.1:<port>`` for whichever port was bound. A long-running command (``proxy run``) is
  stopped once its shown lines have appeared.

An HTML comment right above a block adjusts it:

* ``<!-- example: skip (needs a model) -->`` -- not run (a live model, a network, macOS, root);
  the reason is reported and the skips are counted;
* ``<!-- example: setup SHELL -->`` -- run before the block (repeatable), for the files the
  prose around the example says exist (``a change.patch``).

Each README runs in one workspace, examples in order (a block may use what an earlier one
wrote): a temporary copy of the shipped admin folders as the working directory, a temporary
``HOME`` (with ``~/src/app`` and ``~/src/proj/pkg``), ``CODEX_HOME`` and system dir, no MDM, no
proxy variables and no credentials from the caller's environment.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GAP = "…"
ADMIN_FOLDERS = ("managed", "policies", "proxy", "deploy", "telemetry")
_MARKER = re.compile(r"<!--\s*example:\s*(skip|setup)\b\s*(.*?)\s*-->")
_FENCE = re.compile(r"^```(sh|console)\s*$")
_COMMAND = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*codex(?:\s|$)")
_EXIT = re.compile(r"#.*\bexit\s+(\d+)\s*$")
_SECTION = re.compile(r"<!--\s*section:([\w-]+)\s*-->")
# How long a command that printed everything the README shows may stay quiet before it is taken
# for a long-running one (`proxy run`) and stopped.
_SETTLE = 2.0


@dataclass(frozen=True)
class Example:
    source: str  # README path relative to the repository (and its section)
    line: int
    command: str
    expected: tuple[str, ...] = ()
    exit_code: int = 0
    skip: str | None = None
    setup: tuple[str, ...] = ()
    block: int = 0  # examples of one fenced block share it

    @property
    def readme(self) -> str:
        return self.source.split("#", 1)[0]

    @property
    def id(self) -> str:
        return f"{self.source}:{self.line}:{self.command[:50]}"


def readme_files() -> list[Path]:
    """README.md and the README of every admin-facing folder (and their subfolders)."""
    found = [REPO / "README.md"]
    for folder in ADMIN_FOLDERS:
        found += sorted((REPO / folder).rglob("README.md"))
    return [p for p in found if p.is_file()]


def _joined(lines: list[str]) -> Iterator[tuple[int, str]]:
    """(index of the first line, text) with ``\\`` continuations joined."""
    i = 0
    while i < len(lines):
        start, text = i, lines[i]
        while text.endswith("\\") and i + 1 < len(lines):
            i += 1
            text = text[:-1].rstrip() + " " + lines[i].strip()
        yield start, text
        i += 1


def examples() -> list[Example]:
    found: list[Example] = []
    block_no = 0
    for path in readme_files():
        rel = path.relative_to(REPO).as_posix()
        lines = path.read_text(encoding="utf-8").splitlines()
        section, markers = "", []
        i = 0
        while i < len(lines):
            line = lines[i]
            if match := _SECTION.search(line):
                section = match.group(1)
            if match := _MARKER.search(line):
                markers.append((match.group(1), match.group(2)))
                i += 1
                continue
            if not _FENCE.match(line):
                if line.strip():
                    markers = []
                i += 1
                continue
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            block_no += 1
            source = f"{rel}#{section}" if rel == "README.md" and section else rel
            skip = next(
                (text.strip("() ") or "skipped" for kind, text in markers if kind == "skip"), None
            )
            setup = tuple(text for kind, text in markers if kind == "setup")
            found += _block(lines[i + 1 : end], i + 2, source, skip, setup, block_no)
            markers = []
            i = end + 1
    return found


def _block(
    body: list[str], first: int, source: str, skip: str | None, setup: tuple[str, ...], block: int
) -> list[Example]:
    found: list[Example] = []
    prompt = any(line.startswith("$ ") for line in body)
    current: list[str] | None = None
    pending: tuple[int, str] | None = None

    def flush() -> None:
        if pending is not None:
            index, text = pending
            command, code = _split_comment(text)
            found.append(
                Example(
                    source, first + index, command, tuple(current or ()), code, skip, setup, block
                )
            )

    for index, text in _joined(body):
        if prompt:
            if text.startswith("$ "):
                flush()
                pending, current = None, None
                if _COMMAND.match(text[2:]):
                    pending, current = (index, text[2:]), []
            elif current is not None:
                current.append(text)
        elif _COMMAND.match(text):
            command, code = _split_comment(text)
            found.append(Example(source, first + index, command, (), code, skip, setup, block))
    if prompt:
        flush()
    return found


def _split_comment(text: str) -> tuple[str, int]:
    """The command without a trailing ``# comment``, and the exit status the comment implies."""
    match = _EXIT.search(text)
    code = int(match.group(1)) if match else 0
    # A ` #` outside quotes starts the comment (a heuristic good enough for the READMEs).
    quote: str | None = None
    for pos, char in enumerate(text):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and pos > 0 and text[pos - 1] in " \t":
            return text[:pos].rstrip(), code
    return text.rstrip(), code


# ------------------------------------------------------------------------------------- running


@dataclass
class Workspace:
    root: Path
    cwd: Path
    home: Path
    codex_home: Path
    system: Path
    done_blocks: set[int] = field(default_factory=set)

    @classmethod
    def create(cls, root: Path) -> Workspace:
        cwd, home = root / "work", root / "home"
        cwd.mkdir(parents=True)
        for folder in ADMIN_FOLDERS:
            if (REPO / folder).is_dir():
                shutil.copytree(REPO / folder, cwd / folder)
        for sub in ("src/app", "src/proj/pkg"):
            (home / sub).mkdir(parents=True)
        codex_home, system = home / ".codex", root / "etc-codex"
        codex_home.mkdir()
        system.mkdir()
        return cls(root, cwd, home, codex_home, system)

    def env(self) -> dict[str, str]:
        drop = ("CODEX_", "OPENAI_", "OTEL_")
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(drop) and not k.lower().endswith("_proxy")
        }
        env.update(
            HOME=str(self.home),
            CODEX_HOME=str(self.codex_home),
            CODEX_SYSTEM_DIR=str(self.system),
            CODEX_MDM_PLIST="",
            PYTHONWARNINGS="ignore",
            PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        )
        return env

    def prepare(self, example: Example) -> None:
        if example.block in self.done_blocks:
            return
        self.done_blocks.add(example.block)
        for command in example.setup:
            done = subprocess.run(
                ["bash", "-c", command],
                cwd=self.cwd,
                env=self.env(),
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            if done.returncode:
                raise AssertionError(
                    f"{example.source}: setup `{command}` failed:\n{done.stdout}{done.stderr}"
                )


def _pattern(line: str, home: Path) -> re.Pattern[str]:
    text = line.replace("/home/me", "\0HOME\0")
    text = re.sub(r"127\.0\.0\.1:\d+", "\0PORT\0", text)
    regex = ".*".join(re.escape(part) for part in text.split(GAP))
    for token, replacement in (
        ("\0HOME\0", re.escape(str(home))),
        ("\0PORT\0", r"127\.0\.0\.1:\d+"),
    ):
        regex = regex.replace(re.escape(token), replacement).replace(token, replacement)
    return re.compile(regex)


class Matcher:
    """Matches output lines, as they arrive, against the expected lines with gaps."""

    def __init__(self, expected: tuple[str, ...], home: Path) -> None:
        self.items = [None if line == GAP else _pattern(line, home) for line in expected]
        self.index = 0
        self.gap = False
        self.unmatched: list[str] = []

    def feed(self, line: str) -> None:
        while self.index < len(self.items) and self.items[self.index] is None:
            self.gap = True
            self.index += 1
        if self.index == len(self.items):
            if not self.gap:
                self.unmatched.append(line)
            return
        pattern = self.items[self.index]
        assert pattern is not None
        if pattern.fullmatch(line):
            self.index += 1
            self.gap = False
        elif not self.gap:
            self.unmatched.append(line)

    @property
    def complete(self) -> bool:
        return all(item is None for item in self.items[self.index :]) and not self.unmatched

    @property
    def open_ended(self) -> bool:
        return bool(self.items) and self.items[-1] is None


@dataclass
class Outcome:
    code: int | None  # None: stopped after it printed what the README shows
    stdout: list[str]
    stderr: str
    matched: bool


def run(example: Example, workspace: Workspace, timeout: float = 60) -> Outcome:
    """Run the example with bash in the workspace; stream stdout through the matcher."""
    matcher = Matcher(example.expected, workspace.home) if example.expected else None
    proc = subprocess.Popen(
        ["bash", "-o", "pipefail", "-c", example.command],
        cwd=workspace.cwd,
        env=workspace.env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert proc.stdout is not None
    output: list[str] = []
    pending = b""
    stopped = False
    deadline = time.monotonic() + timeout
    settled: float | None = None  # when everything shown had appeared
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.25)
            if not ready:
                if proc.poll() is not None:
                    break
                if matcher is not None and matcher.complete:
                    settled = settled or time.monotonic()
                    if time.monotonic() - settled > _SETTLE:
                        stopped = True  # still running, quiet, and it showed all the README shows
                        break
                continue
            settled = None
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                output.append(raw.decode("utf-8", "replace"))
                if matcher is not None:
                    matcher.feed(output[-1])
            if (
                matcher is not None
                and matcher.complete
                and matcher.open_ended
                and proc.poll() is None
            ):
                stopped = True  # a long-running command showed everything the README shows
                break
        if pending:
            output.append(pending.decode("utf-8", "replace"))
            if matcher is not None:
                matcher.feed(output[-1])
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            _, raw_err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            _, raw_err = proc.communicate()
    return Outcome(
        code=None if stopped else proc.returncode,
        stdout=output,
        stderr=raw_err.decode("utf-8", "replace"),
        matched=matcher is None or matcher.complete,
    )
