"""`codex instructions show [-C DIR] [--json]`: the AGENTS.md text the agent would receive.

Reads the effective configuration (``project_doc_max_bytes``,
``project_doc_fallback_filenames``, CODEX_HOME) and the requirements' ``deny_read``, then prints
each source file with the bytes used, truncation and skips, and the exact user message.
"""

from __future__ import annotations

import sys
from typing import Any

from codex_admin.cli.app import make_app
from codex_admin.cli.common import CwdOpt, JsonOpt, OverrideOpt, ProfileOpt, load_effective_config
from codex_admin.cli.output import print_json, print_warnings
from codex_admin.instructions import DEFAULT_PROJECT_DOC_MAX_BYTES, load_instructions

app = make_app("Show the AGENTS.md instructions the agent would receive.")


@app.callback()
def instructions() -> None:
    """AGENTS.md discovery: what the agent reads and sends (more subcommands may follow)."""


def _deny_read(permissions: Any) -> list[str]:
    if not isinstance(permissions, dict):
        return []
    filesystem = permissions.get("filesystem")
    entries = filesystem.get("deny_read") if isinstance(filesystem, dict) else None
    return [str(e) for e in entries] if isinstance(entries, list) else []


@app.command("show")
def show(
    cwd: CwdOpt = None,
    overrides: OverrideOpt = None,
    profile: ProfileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Each AGENTS.md source (bytes used, truncation, skips) and the message sent to the model.

    Example: codex instructions show -C src/pkg
    """
    result = load_effective_config(cwd, overrides, profile=profile)
    max_bytes = result.config.get("project_doc_max_bytes")
    fallbacks = result.config.get("project_doc_fallback_filenames") or []
    loaded = load_instructions(
        result.cwd,
        codex_home=result.codex_home,
        project_doc_max_bytes=DEFAULT_PROJECT_DOC_MAX_BYTES if max_bytes is None else max_bytes,
        fallback_filenames=[str(name) for name in fallbacks],
        deny_read=_deny_read(result.requirements.value("permissions")),
    )
    if json_out:
        print_json(loaded.to_json())
        return
    print_warnings([*result.warnings, *loaded.warnings])
    out = sys.stdout.write
    root = f" (git root {loaded.git_root})" if loaded.git_root else " (no git root: cwd only)"
    out(f"AGENTS.md instructions for {loaded.cwd}{root}\n")
    if not loaded.sources:
        out("  no AGENTS.md files found\n")
    for source in loaded.sources:
        if source.status == "used":
            detail = f"{source.bytes_used} bytes"
            if source.truncated:
                detail = f"{source.bytes_used} of {source.size} bytes (truncated)"
        elif source.status == "empty":
            detail = "empty, skipped"
        else:
            detail = f"skipped: {source.reason}"
        out(f"  {source.scope:<8} {source.path}  {detail}\n")
    out(
        f"project budget: {loaded.project_bytes_used} of {loaded.project_doc_max_bytes} bytes"
        " used\n"
    )
    message = loaded.message
    if message is None:
        out("\nnothing is sent to the model\n")
    else:
        out("\n--- user message sent to the model ---\n")
        out(message + "\n")
