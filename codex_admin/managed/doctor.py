"""`codex doctor`: one report of everything that decides whether Codex can run governed here.

Each check returns a :class:`Check` with a status (``ok``, ``info``, ``warn``, ``error``), what
was found, and -- for every problem -- the fix. Checks never raise: a broken configuration is a
finding, not a crash. Probes that belong to other packages (the sandbox's own availability check)
are injected by the CLI so this package keeps to its place in the dependency DAG.
"""

from __future__ import annotations

import errno
import importlib.util
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codex_admin.config import ConfigResult, codex_home, system_dir
from codex_admin.errors import CodexError
from codex_admin.managed.remote import resolve_remote_requirements

__all__ = ["Check", "DoctorReport", "run_doctor"]

DEFAULT_HTTP_PORT = 3128
DEFAULT_SOCKS_PORT = 8081
_RULES_CHECK_TIMEOUT = 30
_SELF = [sys.executable, "-c", "from codex_admin.cli.main import main; main()"]


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


SandboxProbe = Callable[[], dict[str, Any]]
# Given the loaded config (or None when it failed), describes the credential store and login
# without any secret (codex_admin.auth.describe_credentials); injected by the CLI.
CredentialsProbe = Callable[[ConfigResult | None], dict[str, Any]]


def run_doctor(
    load: Callable[[], ConfigResult],
    *,
    sandbox_probe: SandboxProbe | None = None,
    codex_argv: list[str] | None = None,
    credentials_probe: CredentialsProbe | None = None,
) -> DoctorReport:
    """Run every check. ``load`` is the CLI's config loader; ``codex_argv`` runs our own CLI."""
    checks: list[Check] = []
    result: ConfigResult | None = None
    try:
        result = load()
    except CodexError as err:
        checks.append(Check("config", "error", err.message, {"error": err.to_json()}, err.hint))
    if result is not None:
        checks.append(_config_check(result))
        checks.append(_requirements_check(result))
    checks.append(_remote_check())
    checks.append(_rules_check(result, codex_argv or _SELF))
    checks.append(_sandbox_check(sandbox_probe))
    checks.append(_keyring_check())
    if credentials_probe is not None:
        checks.append(_credentials_check(credentials_probe, result))
    checks.append(_ports_check(result))
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


def _rules_check(result: ConfigResult | None, codex_argv: list[str]) -> Check:
    folders = result.config_folders if result is not None else [system_dir()]
    files = sorted({p for f in folders for p in (f / "rules").glob("*.rules") if p.is_file()})
    if not files:
        return Check(
            "rules", "info", "no .rules files found", {"folders": [str(f) for f in folders]}
        )
    if importlib.util.find_spec("codex_admin.cli.execpolicy_cmd") is None:
        return Check(
            "rules",
            "warn",
            f"{len(files)} rules file(s) found but not checked (execpolicy is not installed)",
            {"files": [str(p) for p in files]},
            "install a codex-admin build that includes `codex execpolicy`",
        )
    reports = [_load_rules(path, codex_argv) for path in files]
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


def _load_rules(path: Path, codex_argv: list[str]) -> dict[str, Any]:
    """Load one file through `codex execpolicy check` (the same loader Codex uses)."""
    try:
        proc = subprocess.run(
            [*codex_argv, "execpolicy", "check", "--rules", str(path), "--", "true"],
            capture_output=True,
            text=True,
            timeout=_RULES_CHECK_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return {"path": str(path), "loads": False, "error": str(err)}
    if proc.returncode == 0:
        return {"path": str(path), "loads": True, "error": None}
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    errors = [line.removeprefix("error: ") for line in lines if line.startswith("error: ")]
    message = (errors or lines[-1:] or [f"exit code {proc.returncode}"])[0]
    return {"path": str(path), "loads": False, "error": message}


# --------------------------------------------------------------------------------------- sandbox


def probe_bwrap() -> dict[str, Any]:
    """Fallback probe when the sandbox package is absent: bwrap plus user/net namespaces."""
    path = shutil.which("bwrap")
    info: dict[str, Any] = {
        "path": path,
        "user_namespaces": False,
        "network_namespaces": False,
        "error": None,
    }
    if path is None:
        info["error"] = "bubblewrap (bwrap) is not installed"
        return info
    base = [path, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    for key, extra in (
        ("user_namespaces", ["--unshare-user"]),
        ("network_namespaces", ["--unshare-net"]),
    ):
        try:
            proc = subprocess.run(
                [*base, *extra, "--", "true"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            info["error"] = str(err)
            continue
        info[key] = proc.returncode == 0
        if proc.returncode != 0 and info["error"] is None:
            info["error"] = proc.stderr.strip() or f"bwrap exited {proc.returncode}"
    info["usable"] = bool(info["network_namespaces"]) and info["error"] is None
    return info


def _sandbox_check(probe: SandboxProbe | None) -> Check:
    if sys.platform == "darwin":  # pragma: no cover - macOS only
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
    info = (probe or probe_bwrap)()
    if info.get("usable"):
        return Check("sandbox", "ok", f"bubblewrap usable ({info.get('path')})", info)
    fix = (
        "install bubblewrap (apt-get install bubblewrap)"
        if not info.get("path")
        else "allow unprivileged user namespaces: sysctl -w kernel.unprivileged_userns_clone=1 "
        "(and kernel.apparmor_restrict_unprivileged_userns=0 on Ubuntu 24.04+)"
    )
    return Check("sandbox", "error", f"sandbox unusable: {info.get('error')}", info, fix)


# --------------------------------------------------------------------------------------- keyring


def _keyring_check() -> Check:
    try:
        import keyring
        from keyring.errors import KeyringError
    except ImportError:
        return Check(
            "keyring",
            "warn",
            "keyring library not installed",
            {},
            "reinstall codex-admin (it depends on keyring)",
        )
    try:
        backend = keyring.get_keyring()
    except KeyringError as err:
        return Check("keyring", "warn", f"keyring backend error: {err}", {}, "check keyring config")
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    priority = getattr(backend, "priority", None)
    details = {"backend": name, "priority": priority if isinstance(priority, int | float) else None}
    if name.startswith("keyring.backends.fail") or name.startswith("keyring.backends.null"):
        return Check(
            "keyring",
            "warn",
            "no OS keyring backend available; credentials fall back to a 0600 file",
            details,
            "install and unlock a Secret Service provider (gnome-keyring, KeePassXC) or KWallet, "
            "or accept file storage under $CODEX_HOME",
        )
    return Check("keyring", "ok", f"keyring backend {name}", details)


# ----------------------------------------------------------------------------------- credentials


def _credentials_check(probe: CredentialsProbe, result: ConfigResult | None) -> Check:
    """Which credential store is in use and whether a login exists (never the secret)."""
    try:
        info = probe(result)
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


# ------------------------------------------------------------------------------------- proxy ports


def _ports(result: ConfigResult | None) -> dict[str, tuple[int, str]]:
    ports = {"http": (DEFAULT_HTTP_PORT, "default"), "socks": (DEFAULT_SOCKS_PORT, "default")}
    if result is None:
        return ports
    network = result.config.get("network")
    pinned = result.requirements.value("experimental_network")
    for kind in ("http", "socks"):
        key = f"{kind}_port"
        if isinstance(network, dict) and isinstance(network.get(key), int):
            ports[kind] = (network[key], f"config network.{key}")
        if isinstance(pinned, dict) and isinstance(pinned.get(key), int):
            ports[kind] = (pinned[key], f"requirements experimental_network.{key}")
    return ports


def _ports_check(result: ConfigResult | None) -> Check:
    details: dict[str, Any] = {}
    busy = []
    for kind, (port, origin) in _ports(result).items():
        entry: dict[str, Any] = {"port": port, "origin": origin, "bindable": None, "error": None}
        details[kind] = entry
        if port == 0:
            entry["bindable"] = True  # ephemeral port chosen at start-up
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
                entry["bindable"] = True
            except OSError as err:
                entry["bindable"] = False
                entry["error"] = errno.errorcode.get(err.errno or 0, str(err))
                busy.append(f"{kind} 127.0.0.1:{port}")
    if busy:
        return Check(
            "proxy",
            "warn",
            f"proxy port(s) not free: {', '.join(busy)}",
            details,
            "stop the process holding the port (`ss -ltnp`) or set network.http_port / "
            "network.socks_port (0 picks a free port)",
        )
    http, socks = details["http"]["port"], details["socks"]["port"]
    return Check("proxy", "ok", f"proxy ports free (http {http}, socks {socks})", details)
