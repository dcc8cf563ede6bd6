"""Whether any hook source exists for a directory, answered without the hooks grammar, models
or trust store: a session with no hook anywhere never loads them (start-up).

A source is what :func:`~.discovery.discover_hooks` reads or reports: the managed ``hooks``
requirement, a ``hooks`` table in a config layer, or a ``hooks.json`` in a config folder (the
system dir, ``CODEX_HOME``, each project ``.codex`` -- trusted or not, since an untrusted
project's file is reported). :func:`has_hook_sources` errs towards True (a profile's table, a
``hooks.state`` table alone, a layer that discovery skips), which costs only the full
discovery; False means discovery would find no hook, no problem and no warning.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from codex_admin.config import ConfigResult

__all__ = ["HOOKS_FILE", "has_hook_sources", "path_exists"]

HOOKS_FILE = "hooks.json"


def has_hook_sources(config: ConfigResult) -> bool:
    """True when ``config``'s directory has anything for hook discovery to read or report."""
    if config.requirements.get("hooks") is not None:
        return True
    if any("hooks" in layer.table for layer in config.layers):
        return True
    folders = {config.system_dir, config.codex_home}
    folders.update(layer.path.parent for layer in config.layers if layer.path is not None)
    return any(path_exists(folder / HOOKS_FILE) for folder in folders)


def path_exists(path: Path) -> bool:
    """Whether anything is at ``path`` (a file, a folder, a link even if dangling): discovery
    then reads it, or reports why it cannot."""
    try:
        path.lstat()
    except OSError:
        return False
    return True
