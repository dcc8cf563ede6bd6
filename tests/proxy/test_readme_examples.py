"""Every proxy/network example in the READMEs works as written (issue 18).

Each ``$ codex ...`` line of a fenced ``sh`` block in the README's proxy section and in
``proxy/README.md`` is run from the repository root in a fresh ``CODEX_HOME`` and its output
is compared with the lines shown under it. In the shown output ``…`` stands for any text (a
line of its own: any number of lines), ``/home/me/.codex`` for the ``CODEX_HOME`` and
``127.0.0.1:<port>`` for whichever port the proxy bound. A long-running ``codex proxy run`` is
stopped once its shown lines have appeared.
"""

from __future__ import annotations

import os
import re
import select
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GAP = "…"


@dataclass(frozen=True)
class Example:
    source: str
    command: str
    expected: tuple[str, ...]


def _section(text: str, start: str, end: str) -> str:
    return text[text.index(start) : text.index(end)]


def _examples() -> list[Example]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    sources = {
        "README.md#proxy": _section(readme, "<!-- section:proxy -->", "<!-- /section:proxy -->"),
        "proxy/README.md": (REPO / "proxy" / "README.md").read_text(encoding="utf-8"),
    }
    found: list[Example] = []
    for name, text in sources.items():
        for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
            command: str | None = None
            expected: list[str] = []
            for line in block.splitlines():
                if line.startswith("$ "):
                    if command is not None:
                        found.append(Example(name, command, tuple(expected)))
                    command, expected = line[2:], []
                elif command is not None:
                    expected.append(line)
            if command is not None:
                found.append(Example(name, command, tuple(expected)))
    return found


EXAMPLES = _examples()


def _pattern(line: str, home: Path) -> re.Pattern[str]:
    placeholders = {"\0HOME\0": re.escape(str(home)), "\0PORT\0": r"127\.0\.0\.1:\d+"}
    text = line.replace("/home/me/.codex", "\0HOME\0")
    text = re.sub(r"127\.0\.0\.1:\d+", "\0PORT\0", text)
    parts = [re.escape(part) for part in text.split(GAP)]
    regex = ".*".join(parts)
    for token, replacement in placeholders.items():
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
        rest = self.items[self.index :]
        return all(item is None for item in rest) and not self.unmatched

    @property
    def open_ended(self) -> bool:
        return bool(self.items) and self.items[-1] is None


def _argv_and_env(command: str, home: Path, system: Path) -> tuple[list[str], dict[str, str]]:
    words = shlex.split(command)
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(
        {
            "CODEX_HOME": str(home),
            "CODEX_SYSTEM_DIR": str(system),
            "CODEX_MDM_PLIST": "",
            "PYTHONWARNINGS": "ignore",
        }
    )
    while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    assert words and words[0] == "codex", f"not a codex command: {command}"
    return [sys.executable, "-m", "codex_admin.cli.main", *words[1:]], env


def test_the_readmes_have_examples() -> None:
    commands = [e.command for e in EXAMPLES]
    assert any("network check" in c for c in commands)
    assert any("proxy run" in c for c in commands)
    assert all(e.expected for e in EXAMPLES), "every example shows its output"


@pytest.mark.parametrize(
    "example", EXAMPLES, ids=[f"{e.source}:{e.command[:60]}" for e in EXAMPLES]
)
def test_readme_example_works_as_written(example: Example, tmp_path: Path) -> None:
    home, system = tmp_path / "home", tmp_path / "system"
    home.mkdir()
    system.mkdir()
    argv, env = _argv_and_env(example.command, home, system)
    matcher = Matcher(example.expected, home)
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    output: list[str] = []
    pending = b""
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and not matcher.unmatched:
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                output.append(line.decode("utf-8"))
                matcher.feed(output[-1])
            if matcher.complete and matcher.open_ended and proc.poll() is None:
                break  # a long-running proxy showed everything the README shows
        if pending:
            output.append(pending.decode("utf-8"))
            matcher.feed(output[-1])
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        _, raw_err = proc.communicate(timeout=30)
    err = raw_err.decode("utf-8", "replace")
    shown = "\n".join(output)
    assert "Traceback" not in err, err
    assert matcher.complete, (
        f"{example.source}: `{example.command}` printed:\n{shown}\n--- stderr:\n{err}\n"
        f"--- but the README shows:\n" + "\n".join(example.expected)
    )
