"""What a program that runs other programs will run: a command, a script, or nothing visible.

The :mod:`delegators` family answers with these three values, and :mod:`analysis` follows them:

* :class:`Argv` -- a command (``env FOO=1 git push`` -> ``git push``); its words stay
  :class:`~codex_admin.execpolicy.words.Word`\\ s, so ``find -exec git {} ;`` gives ``git`` plus
  a *dynamic* word (file names are chosen by whoever names files);
* :class:`Script` -- shell text to analyse (``su -c``, ``script -c``, ``eval``, ``rsync -e``...);
* :class:`Opaque` -- something whose effect cannot be seen (``source FILE``, a script file,
  ``parallel``, a computed option, inline interpreter code that can start programs).
"""

from __future__ import annotations

from dataclasses import dataclass

from codex_admin.execpolicy.words import Word

__all__ = ["Argv", "Opaque", "Script", "Target", "program_name"]


@dataclass(frozen=True)
class Argv:
    words: list[Word]
    via: str
    assignments: tuple[str, ...] = ()


@dataclass(frozen=True)
class Script:
    text: Word
    via: str
    stdin_dynamic: bool = False  # its commands read data the caller pipes in (a git pager)


@dataclass(frozen=True)
class Opaque:
    reason: str


Target = Argv | Script | Opaque


def program_name(word: Word) -> str:
    """The name a word runs as: its file name (``/usr/bin/env`` -> ``env``); ld.so's spellings
    (``/lib64/ld-linux-x86-64.so.2``) are ``ld.so``."""
    name = word.text.rstrip("/").rsplit("/", 1)[-1]
    if name.startswith(("ld-linux", "ld-musl", "ld.so", "ld64.so")):
        return "ld.so"
    return name
