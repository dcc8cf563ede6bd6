""":class:`PatchError` on its own: the tool definitions and the agent's patch tool need it at
start-up, the patch model (a dozen dataclasses) only once a patch arrives."""

from __future__ import annotations

from codex_admin.errors import CodexError, Location

__all__ = ["PatchError"]


class PatchError(CodexError):
    """A patch that cannot be parsed or applied. ``str(err)`` is Codex's text, nothing more.

    ``kind`` is ``"parse"`` (nothing was touched) or ``"apply"``; ``line`` is the patch line
    (1 = the Begin line) of a hunk error; ``file`` the absolute path an apply error is about.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        line: int | None = None,
        file: str | None = None,
        hint: str | None = None,
    ) -> None:
        location = None
        if file is not None:
            location = Location(file)
        elif line is not None:
            location = Location("<patch>", line)
        super().__init__(message, location=location, hint=hint)
        self.kind = kind
        self.line = line
        self.file = file

    def __str__(self) -> str:
        return self.message
