"""`codex managed build`: validate the inputs, then write every requested deployment artifact.

Layout of ``--out DIR`` (all formats)::

    com.openai.codex.mobileconfig          Jamf / Intune (macOS) / Kandji custom profile
    com.openai.codex.plist                 `defaults import com.openai.codex ...`
    windows/Codex/{managed_config,requirements}.toml   files for %ProgramData%\\OpenAI\\Codex
    windows/Install-CodexPolicy.ps1        self-contained installer, sets ACLs
    linux/etc-codex/{managed_config,requirements}.toml files for /etc/codex
    linux/install-codex-policy.sh          self-contained installer (root, 0644, atomic)
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from codex_admin.errors import CodexError, Location
from codex_admin.managed.installers import linux_installer, windows_installer
from codex_admin.managed.mdm import DEFAULT_IDENTIFIER, PolicyTexts, build_mobileconfig, build_plist
from codex_admin.managed.sources import validate_inputs

__all__ = ["FORMATS", "build_policy"]

FORMATS = ("mobileconfig", "plist", "windows", "linux")


def _read(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise CodexError("file is not UTF-8", location=Location(path)) from err
    except OSError as err:
        raise CodexError(f"cannot read {path}: {err.strerror}", location=Location(path)) from err


def build_policy(
    config: Path | None,
    requirements: Path | None,
    out: Path,
    *,
    formats: Iterable[str] = FORMATS,
    organization: str = "",
    identifier: str = DEFAULT_IDENTIFIER,
) -> list[Path]:
    """Validate, then write the artifacts; returns the written paths (sorted)."""
    chosen = set(formats)
    unknown = sorted(chosen - set(FORMATS))
    if unknown:
        raise CodexError(f"unknown format {unknown[0]!r}", hint=f"use {', '.join(FORMATS)}, all")
    if config is None and requirements is None:
        raise CodexError("nothing to build", hint="give --config FILE and/or --requirements FILE")
    validate_inputs(config, requirements)
    texts = PolicyTexts(config=_read(config), requirements=_read(requirements))
    files = {
        name: text
        for name, text in (
            ("managed_config.toml", texts.config),
            ("requirements.toml", texts.requirements),
        )
        if text is not None
    }
    written: list[Path] = []

    def write(rel: str, data: bytes, mode: int = 0o644) -> None:
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink():
            raise CodexError(f"refusing to write through symlink {target}")
        target.write_bytes(data)
        os.chmod(target, mode)
        written.append(target)

    if "mobileconfig" in chosen:
        profile = build_mobileconfig(texts, organization=organization, identifier=identifier)
        write("com.openai.codex.mobileconfig", profile)
    if "plist" in chosen:
        write("com.openai.codex.plist", build_plist(texts))
    if "windows" in chosen:
        for name, text in files.items():
            write(f"windows/Codex/{name}", text.encode("utf-8"))
        write("windows/Install-CodexPolicy.ps1", windows_installer(files).encode("utf-8"))
    if "linux" in chosen:
        for name, text in files.items():
            write(f"linux/etc-codex/{name}", text.encode("utf-8"))
        write("linux/install-codex-policy.sh", linux_installer(files).encode("utf-8"), 0o755)
    return sorted(written)
