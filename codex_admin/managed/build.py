"""`codex managed build`: check the inputs, then write every requested deployment artifact.

Checks first (:func:`.sources.check_build_inputs`): each input gets the validation of
``codex config validate``; a file that is the other kind (swapped ``--config`` and
``--requirements``) and a managed config asking for what its requirements forbid are errors; the
identifier must be reverse-DNS. Errors -- and with ``strict`` warnings -- stop the build before
anything is written.

Layout of ``--out DIR`` (all formats)::

    com.openai.codex.mobileconfig          Jamf / Intune (macOS) / Kandji custom profile
    com.openai.codex.plist                 `defaults import com.openai.codex ...`
    windows/Codex/{managed_config,requirements}.toml   files for %ProgramData%\\OpenAI\\Codex
    windows/Install-CodexPolicy.ps1        self-contained installer, sets ACLs
    linux/etc-codex/{managed_config,requirements}.toml files for /etc/codex
    linux/install-codex-policy.sh          self-contained installer (root, 0644, atomic)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from codex_admin.config import read_text_file
from codex_admin.errors import CodexError, Location
from codex_admin.managed.checks import check_identifier
from codex_admin.managed.installers import linux_installer, windows_installer
from codex_admin.managed.mdm import DEFAULT_IDENTIFIER, PolicyTexts, build_mobileconfig, build_plist
from codex_admin.managed.output import check_output_dir, write_output
from codex_admin.managed.sources import check_build_inputs

__all__ = ["FORMATS", "BuildResult", "build_policy"]

FORMATS = ("mobileconfig", "plist", "windows", "linux")


@dataclass
class BuildResult:
    files: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _read(path: Path | None) -> str | None:
    if path is None:
        return None
    text = read_text_file(path, what="policy file")
    if text is None:
        raise CodexError(f"{path} does not exist", location=Location(path))
    return text


def build_policy(
    config: Path | None,
    requirements: Path | None,
    out: Path,
    *,
    formats: Iterable[str] = FORMATS,
    organization: str = "",
    identifier: str = DEFAULT_IDENTIFIER,
    strict: bool = False,
) -> BuildResult:
    """Check, then write the artifacts; returns the written paths (sorted) and the warnings."""
    chosen = set(formats)
    unknown = sorted(chosen - set(FORMATS))
    if unknown:
        raise CodexError(f"unknown format {unknown[0]!r}", hint=f"use {', '.join(FORMATS)}, all")
    if config is None and requirements is None:
        raise CodexError("nothing to build", hint="give --config FILE and/or --requirements FILE")
    check_identifier(identifier)
    check_output_dir(out)
    report = check_build_inputs(config, requirements)
    report.raise_if_failed("refusing to build", strict=strict)
    texts = PolicyTexts(config=_read(config), requirements=_read(requirements))
    files = {
        name: text
        for name, text in (
            ("managed_config.toml", texts.config),
            ("requirements.toml", texts.requirements),
        )
        if text is not None
    }
    result = BuildResult(warnings=list(report.warnings))

    def write(rel: str, data: bytes, mode: int = 0o644) -> None:
        result.files.append(write_output(out, rel, data, mode))

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
    result.files.sort()
    return result
