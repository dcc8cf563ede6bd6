"""A real freedesktop Secret Service for tests: ``gnome-keyring-daemon`` on a private D-Bus.

    with SecretService(tmp_path) as service:     # or the ``secret_service`` pytest fixture
        env = service.environ                    # DBUS_SESSION_BUS_ADDRESS, HOME, XDG_* ...
        subprocess.run([...codex...], env={**os.environ, **env})

It starts ``dbus-daemon --session`` on a Unix socket inside ``root`` and ``gnome-keyring-daemon
--foreground --unlock --components=secrets`` with HOME/XDG dirs inside ``root`` (so the test's
login keyring is created fresh, unlocked with a throwaway password, and never touches the
developer's own), waits until ``org.freedesktop.secrets`` answers, and stops both processes (by
their pids) on exit. :func:`unavailable_reason` says why it cannot run here (missing binaries, or
the daemons do not come up); tests skip with exactly that reason. ``.ci/run`` installs the Debian
packages ``dbus`` and ``gnome-keyring`` when they are missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

__all__ = ["SecretService", "SecretServiceUnavailable", "unavailable_reason"]


_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class SecretServiceUnavailable(RuntimeError):
    pass


def unavailable_reason() -> str | None:
    """Why no private Secret Service can start here (None when it can)."""
    missing = [b for b in ("dbus-daemon", "gnome-keyring-daemon") if shutil.which(b) is None]
    if missing:
        return f"no D-Bus session can start: {', '.join(missing)} not installed (apt-get install dbus gnome-keyring)"
    try:
        import secretstorage  # noqa: F401
    except ImportError:
        return "the secretstorage Python package is not installed"
    return None


class SecretService:
    def __init__(self, root: Path, *, timeout: float = 15.0) -> None:
        self.root = Path(root)
        self.timeout = timeout
        self._procs: list[subprocess.Popen[bytes]] = []
        self.environ: dict[str, str] = {}

    def __enter__(self) -> SecretService:
        reason = unavailable_reason()
        if reason:
            raise SecretServiceUnavailable(reason)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _start(self) -> None:
        home, run = self.root / "home", self.root / "run"
        home.mkdir(parents=True, exist_ok=True)
        run.mkdir(parents=True, exist_ok=True)
        run.chmod(0o700)
        socket = run / "bus"
        base_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "XDG_RUNTIME_DIR": str(run),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"),
        }
        # A private bus without service directories: nothing is D-Bus-activated behind our
        # back (the system's org.freedesktop.secrets.service would start a second, locked
        # gnome-keyring that wins the name race against ours).
        config = self.root / "bus.conf"
        config.write_text(_BUS_CONFIG.format(socket=socket))
        dbus = subprocess.Popen(
            ["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=base_env,
        )
        self._procs.append(dbus)
        assert dbus.stdout is not None
        address = dbus.stdout.readline().decode().strip()
        if not address:
            raise SecretServiceUnavailable(
                "no D-Bus session can start: dbus-daemon printed no address"
            )
        env = {**base_env, "DBUS_SESSION_BUS_ADDRESS": address}
        keyring = subprocess.Popen(
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self._procs.append(keyring)
        assert keyring.stdin is not None
        keyring.stdin.write(b"test-keyring-password")
        keyring.stdin.close()
        self.environ = env
        self._wait_ready(address)

    def _wait_ready(self, address: str) -> None:
        import secretstorage
        from jeepney.bus_messages import message_bus
        from jeepney.io.blocking import Proxy, open_dbus_connection

        deadline = time.monotonic() + self.timeout
        last = "not answering"
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self._procs):
                raise SecretServiceUnavailable("no D-Bus session can start: a daemon exited early")
            try:
                connection = open_dbus_connection(address)
                try:
                    bus = Proxy(message_bus, connection)
                    if bus.NameHasOwner("org.freedesktop.secrets")[0] == 1:
                        # Collection() only opens the "default" alias; get_default_collection()
                        # would try to create it (a prompt nobody can answer) if --unlock has
                        # not set the login keyring up yet.
                        collection = secretstorage.Collection(connection)
                        if not collection.is_locked():
                            return
                        last = "the login collection is locked"
                finally:
                    connection.close()
            except (OSError, secretstorage.exceptions.SecretStorageException) as err:
                last = str(err)
            time.sleep(0.05)
        raise SecretServiceUnavailable(f"gnome-keyring did not become ready: {last}")

    def stop(self) -> None:
        for proc in reversed(self._procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
            if proc.stdout is not None:
                proc.stdout.close()
        self._procs.clear()
