"""Per-session certificate authority for HTTPS inspection (spec §9, attack A27).

* A fresh ECDSA P-256 key per proxy process, kept in memory only; validity is short (one day by
  default) and ``pathLenConstraint=0`` so the CA can only sign leaves.
* Only public material reaches disk: ``$CODEX_HOME/proxy/ca-<sha256>.pem`` and
  ``ca-bundle-<sha256>.pem`` (system CAs + session CA), both 0644, named by the SHA-256 of their
  bytes, written through a private temp file and an atomic rename — never through a symlink.
* Those files are leased: ``session-<sha256>.lease`` lists them and stays ``flock``-ed while
  the proxy runs. A clean stop deletes them; after a crash the next proxy finds the lease
  unlocked and prunes it (plus unleased files older than a day), so the folder cannot grow.
* Leaf certificates are minted per CONNECT target (DNS or IP SAN) and cached (LRU) for the
  session.
  Python's ``ssl`` only loads keys from paths, so a leaf key is handed over through an anonymous
  in-memory file (``memfd``), encrypted with a random one-time password.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import ipaddress
import os
import re
import secrets
import ssl
import stat
import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from codex_admin.errors import CodexError

__all__ = ["LEAF_CACHE_SIZE", "SessionCA", "prune_artifacts", "system_ca_pem"]

_PEM_CERT = re.compile(
    rb"-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----"
)
_MAX_SYSTEM_BUNDLE = 4 * 1024 * 1024
_ARTIFACT = re.compile(r"^ca(?:-bundle)?-[0-9a-f]{64}\.pem$")
_LEASE = re.compile(r"^session-[0-9a-f]{64}\.lease$")
_ORPHAN_AGE = 24 * 3600.0  # unleased artifacts outlive every session CA (validity <= 1 day)
LEAF_CACHE_SIZE = 512
_SYSTEM_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
    "/etc/ssl/ca-bundle.pem",
)


def system_ca_pem() -> bytes:
    """Certificate blocks of the platform trust store (keys or junk in the file are dropped)."""
    candidates = [ssl.get_default_verify_paths().openssl_cafile, *_SYSTEM_BUNDLES]
    for candidate in candidates:
        path = Path(candidate)
        try:
            if not path.is_file() or path.stat().st_size > _MAX_SYSTEM_BUNDLE:
                continue
            data = path.read_bytes()
        except OSError:
            continue
        blocks = _PEM_CERT.findall(data)
        if blocks:
            return b"\n".join(blocks) + b"\n"
    return b""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class SessionCA:
    """An in-memory CA that mints cached leaf certificates and SSL contexts per host."""

    def __init__(self, validity: dt.timedelta = dt.timedelta(days=1)) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, "codex-admin session proxy CA"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "codex-admin"),
            ]
        )
        public = self._key.public_key()
        self.not_after = now + validity
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(self.not_after)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        self.cert_pem = self.certificate.public_bytes(serialization.Encoding.PEM)
        self._contexts: OrderedDict[str, ssl.SSLContext] = OrderedDict()
        self._lease: tuple[int, Path, list[Path]] | None = None

    # -- leaves --------------------------------------------------------------------------
    def leaf_certificate(self, host: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        """A fresh leaf for ``host`` (normalised): IP SAN for literals, DNS SAN otherwise."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        try:
            san: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host.split("%", 1)[0]))
        except ValueError:
            san = x509.DNSName(host)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host[:64])]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(self.not_after)
            .add_extension(x509.SubjectAlternativeName([san]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )
        return cert, key

    def server_context(
        self, host: str, sni_check: Callable[[str | None], bool] | None = None
    ) -> ssl.SSLContext:
        """A TLS server context presenting the (cached) leaf for ``host``.

        ``sni_check`` may refuse a ClientHello whose SNI names a different host (A2).
        """
        ctx = self._contexts.get(host)
        if ctx is not None:
            self._contexts.move_to_end(host)
            return ctx
        cert, key = self.leaf_certificate(host)
        password = secrets.token_bytes(32)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(password),
        )
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_alpn_protocols(["http/1.1"])
        chain = cert.public_bytes(serialization.Encoding.PEM)
        with _memory_file(chain) as cert_path, _memory_file(key_pem) as key_path:
            ctx.load_cert_chain(cert_path, key_path, password=password)
        if sni_check is not None:

            def _on_sni(sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> int | None:
                return None if sni_check(name) else ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME

            ctx.sni_callback = _on_sni
        self._contexts[host] = ctx
        if len(self._contexts) > LEAF_CACHE_SIZE:
            self._contexts.popitem(last=False)  # a long session visiting many hosts stays bounded
        return ctx

    # -- public artifacts ------------------------------------------------------------------
    def write_artifacts(self, codex_home: Path) -> tuple[Path, Path]:
        """Write the CA certificate and the trust bundle; return ``(ca_path, bundle_path)``.

        Files left by proxies that are gone are pruned first; ours stay leased until
        :meth:`release`.
        """
        directory = codex_home / "proxy"
        try:
            directory.mkdir(mode=0o755, parents=True, exist_ok=True)
            info = os.lstat(directory)
        except OSError as err:
            raise CodexError(f"cannot create {directory}: {err.strerror}") from None
        if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
            raise CodexError(
                f"{directory} is not a plain directory",
                hint="remove it (it must not be a symlink) and start the proxy again",
            )
        prune_artifacts(directory)
        digest = hashlib.sha256(self.cert_pem).hexdigest()
        bundle = system_ca_pem() + self.cert_pem
        bundle_name = f"ca-bundle-{hashlib.sha256(bundle).hexdigest()}.pem"
        names = [f"ca-{digest}.pem", bundle_name]
        fd, lease_path = _take_lease(directory, f"session-{digest}.lease", names)
        try:
            ca_path = _write_addressed(directory, "ca", self.cert_pem)
            bundle_path = _write_addressed(directory, "ca-bundle", bundle)
        except CodexError:
            os.close(fd)
            raise
        self._lease = (fd, lease_path, [ca_path, bundle_path])
        return ca_path, bundle_path

    def release(self) -> None:
        """Delete this session's files and drop the lease (the proxy has stopped)."""
        if self._lease is None:
            return
        fd, lease_path, paths = self._lease
        self._lease = None
        for path in [*paths, lease_path]:
            with contextlib.suppress(OSError):
                path.unlink()
        os.close(fd)


def _take_lease(directory: Path, name: str, artifacts: list[str]) -> tuple[int, Path]:
    """Create ``name`` listing ``artifacts``, locked *before* it becomes visible by name."""
    fd, tmp = tempfile.mkstemp(prefix=".lease-", dir=directory)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, ("\n".join(artifacts) + "\n").encode())
        target = directory / name
        os.replace(tmp, target)
    except OSError as err:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise CodexError(f"cannot write a lease in {directory}: {err.strerror}") from None
    return fd, target


def _prune_lease(directory: Path, name: str, removed: list[str]) -> list[str]:
    """Prune one lease if its owner is gone (appending to ``removed``); return live names.

    Opened non-blocking and checked to be a regular file, so a FIFO or a directory planted
    under a lease's name can neither hang nor break the proxy's start.
    """
    try:
        fd = os.open(directory / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return []
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return []
        listed = [
            n for n in os.read(fd, 4096).decode("ascii", "replace").split() if _ARTIFACT.match(n)
        ]
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return listed
        for stale in [*listed, name]:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(directory / stale)
                removed.append(stale)
        return []
    except OSError:
        return []
    finally:
        os.close(fd)


def prune_artifacts(directory: Path, *, now: float | None = None) -> list[str]:
    """Remove CA files no running proxy holds; return the names removed.

    A lease whose ``flock`` can be taken belongs to a proxy that is gone: its files go with
    it. CA files no live lease lists are removed once older than a day. Only names this module
    writes are ever touched, and symlinks are removed as links, never followed.
    """
    removed: list[str] = []
    live: set[str] = set()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        if _LEASE.match(entry.name):
            live.update(_prune_lease(directory, entry.name, removed))
    cutoff = (time.time() if now is None else now) - _ORPHAN_AGE
    for entry in entries:
        if not _ARTIFACT.match(entry.name) or entry.name in live or entry.name in removed:
            continue
        with contextlib.suppress(OSError):
            if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                os.unlink(entry.path)
                removed.append(entry.name)
    return removed


def _write_addressed(directory: Path, stem: str, data: bytes) -> Path:
    """Write ``data`` as ``<stem>-<sha256>.pem`` (0644) unless an identical regular file exists."""
    digest = hashlib.sha256(data).hexdigest()
    target = directory / f"{stem}-{digest}.pem"
    with contextlib.suppress(FileNotFoundError):
        info = os.lstat(target)
        if stat.S_ISREG(info.st_mode) and target.read_bytes() == data:
            return target
    fd, tmp = tempfile.mkstemp(prefix=f".{stem}-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)  # replaces a symlink itself, never writes through it
    except OSError as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise CodexError(f"cannot write {target}: {err.strerror}") from None
    return target


@contextlib.contextmanager
def _memory_file(data: bytes) -> Iterator[str]:
    """A path to ``data`` that lives only in memory (Linux memfd); a 0600 temp file elsewhere."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("codex-proxy", 0)
        try:
            os.write(fd, data)
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    handle = tempfile.NamedTemporaryFile(delete=False)  # noqa: SIM115 - closed below
    try:
        os.chmod(handle.name, 0o600)
        handle.write(data)
        handle.close()
        yield handle.name
    finally:
        os.unlink(handle.name)
