"""How a command's result is shown to the model: head + tail truncation in Codex's format.

Codex keeps the model's context small and predictable: output over 256 lines or 10 KiB is cut to
its first and last halves around a marker ``[... omitted N of M lines ...]``, and the result is
prefixed with ``Total output lines: M``. Function tools receive JSON ``{"output", "metadata":
{"exit_code", "duration_seconds"}}``; when the freeform apply_patch tool is in use the same
content is plain text ("Exit code: …", "Wall time: … seconds", "Output:"). The full output still
goes to the ``command_execution`` item (capped by the runner) and the rollout.
"""

from __future__ import annotations

import json

__all__ = [
    "MAX_BYTES",
    "MAX_LINES",
    "format_exec_output",
    "shell_output_json",
    "shell_output_text",
    "truncate_for_model",
]

MAX_LINES = 256
MAX_BYTES = 10 * 1024


def truncate_for_model(text: str, *, max_lines: int = MAX_LINES, max_bytes: int = MAX_BYTES) -> str:
    """``text`` itself when small; else ``Total output lines`` + head + marker + tail."""
    lines = text.splitlines(keepends=True)
    total = len(lines)
    if total <= max_lines and len(text.encode("utf-8")) <= max_bytes:
        return text
    head_lines = max_lines // 2
    tail_lines = max_lines - head_lines
    head = _fit("".join(lines[:head_lines]), max_bytes // 2, from_end=False)
    tail = _fit("".join(lines[-tail_lines:]) if total > head_lines else "", max_bytes // 2, True)
    kept = head.count("\n") + tail.count("\n")
    omitted = max(total - kept, 0)
    marker = f"\n[... omitted {omitted} of {total} lines ...]\n\n"
    return f"Total output lines: {total}\n\n{head}{marker}{tail}"


def _fit(text: str, budget: int, from_end: bool) -> str:
    """At most ``budget`` UTF-8 bytes of ``text`` from its start (or end), on a char boundary."""
    data = text.encode("utf-8")
    if len(data) <= budget:
        return text
    piece = data[-budget:] if from_end else data[:budget]
    return piece.decode("utf-8", "ignore")


def format_exec_output(output: str, exit_code: int, timed_out: bool, timeout_ms: int) -> str:
    """The aggregated output as the model sees it (timeouts are said in words, as Codex does)."""
    if timed_out:
        output = f"command timed out after {timeout_ms} milliseconds\n{output}"
    return truncate_for_model(output)


def shell_output_json(output: str, exit_code: int, duration_seconds: float) -> str:
    """The function-tool form: ``{"output", "metadata": {"exit_code", "duration_seconds"}}``."""
    return json.dumps(
        {
            "output": output,
            "metadata": {"exit_code": exit_code, "duration_seconds": round(duration_seconds, 1)},
        },
        ensure_ascii=False,
    )


def shell_output_text(output: str, exit_code: int, duration_seconds: float) -> str:
    """The plain-text form used when the freeform apply_patch tool is in use."""
    wall = round(duration_seconds, 1)
    return f"Exit code: {exit_code}\nWall time: {wall} seconds\nOutput:\n{output}"
