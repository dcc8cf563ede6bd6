"""Signed policy bundles: Ed25519 over a manifest of file hashes (beyond Codex; OPA-style).

A *bundle* is a directory of policy files (``requirements.toml``, ``managed_config.toml``,
``rules/*.rules`` ...). Signing writes two files into it:

* ``.codex-bundle.json`` -- the manifest: ``{"format", "serial", "created", "expires",
  "files": {relative/posix/path: {"sha256", "size"}}}``. ``serial`` is monotonic: a client that
  has seen serial N refuses anything older (replay of a looser, older bundle). ``expires``
  (optional, UTC ``YYYY-MM-DDTHH:MM:SSZ``) is the signed end of the bundle's life: after it the
  bundle verifies no more, so an old bundle cannot be replayed, or kept alive by a cache its user
  can edit, forever. Remote requirements insist on it (see :mod:`.remote`).
* ``.codex-bundle.sig`` -- ``{"alg": "ed25519", "key_id", "signature"}``: a detached signature
  over the *canonical* manifest bytes (sorted keys, no whitespace, ASCII), so the signature does
  not depend on how the manifest file happens to be formatted on disk.

Verification recomputes every hash and compares the file *sets* in both directions, so a changed,
added or missing file fails with a message that names it. Symlinks and special files inside a
bundle are refused: a signed bundle must not point outside itself.

The same manifest + signature + file contents travel over the network as one JSON document (the
*wire* form, see :func:`pack_bundle`), checked by the same code.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import stat
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from codex_admin.config import read_file_bytes, read_text_file
from codex_admin.errors import CodexError, Location
from codex_admin.managed.output import write_output

__all__ = [
    "DEFAULT_VALIDITY",
    "MANIFEST_NAME",
    "SIGNATURE_NAME",
    "BundleInfo",
    "format_timestamp",
    "generate_keypair",
    "key_id",
    "load_private_key",
    "load_public_key",
    "pack_bundle",
    "parse_duration",
    "parse_public_key",
    "parse_timestamp",
    "public_key_text",
    "read_bundle_files",
    "sign_bundle",
    "verify_bundle",
    "verify_files",
]

MANIFEST_NAME = ".codex-bundle.json"
SIGNATURE_NAME = ".codex-bundle.sig"
FORMAT = "codex-policy-bundle/1"
WIRE_FORMAT = "codex-policy-bundle-wire/1"
_RESERVED = frozenset({MANIFEST_NAME, SIGNATURE_NAME})
MAX_BUNDLE_FILES = 1000
MAX_BUNDLE_BYTES = 8 * 1024 * 1024
# How long a newly signed bundle stays valid unless the signer says otherwise: long enough that a
# monthly re-signing job has slack, short enough that a replayed bundle dies on its own.
DEFAULT_VALIDITY = 30 * 24 * 3600.0
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True)
class BundleInfo:
    """A verified bundle: its manifest facts and the signing key's id."""

    serial: int
    created: str
    key_id: str
    files: dict[str, str]  # relative path -> sha256 hex
    manifest_sha256: str
    expires: str | None = None

    @property
    def created_at(self) -> float:
        return parse_timestamp(self.created, "created")

    @property
    def expires_at(self) -> float | None:
        return None if self.expires is None else parse_timestamp(self.expires, "expires")

    def to_json(self) -> dict[str, Any]:
        return {
            "serial": self.serial,
            "created": self.created,
            "expires": self.expires,
            "key_id": self.key_id,
            "manifest_sha256": self.manifest_sha256,
            "files": dict(sorted(self.files.items())),
        }


# ----------------------------------------------------------------------------------------- keys


def key_id(public_key: Ed25519PublicKey) -> str:
    """Short stable id of a public key (first 16 hex of sha256 of its raw bytes)."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_key_text(public_key: Ed25519PublicKey) -> str:
    """Base64 of the raw 32-byte key: the form pasted into ``remote_requirements.toml``."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def generate_keypair(private_path: Path, public_path: Path) -> tuple[str, str]:
    """Write a new Ed25519 key pair; returns ``(key_id, base64 public key)``.

    The private key is created with ``O_EXCL`` and mode 0600 from the start (never world-readable
    for an instant) and an existing file is never overwritten.
    """
    for path in (private_path, public_path):
        if path.exists() or path.is_symlink():
            raise CodexError(
                f"refusing to overwrite existing key file {path}",
                hint="choose another --out name or move the old key away first",
            )
    private_key = Ed25519PrivateKey.generate()
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_key = private_key.public_key()
    pub_pem = public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _write_exclusive(private_path, pem, 0o600)
    _write_exclusive(public_path, pub_pem, 0o644)
    return key_id(public_key), public_key_text(public_key)


def _write_exclusive(path: Path, data: bytes, mode: int) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    except FileExistsError as err:
        raise CodexError(f"refusing to overwrite existing key file {path}") from err
    except OSError as err:
        raise CodexError(f"cannot create key file {path}: {err.strerror}") from err
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, mode)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read a PEM (PKCS#8) Ed25519 private key, warning-free but strict about the type."""
    data = _read_key_file(path)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as err:
        raise CodexError(
            f"{path} is not an unencrypted PEM private key ({err})",
            location=Location(path),
            hint="create one with `codex managed keygen --out NAME`",
        ) from err
    if not isinstance(key, Ed25519PrivateKey):
        raise CodexError(f"{path} is not an Ed25519 private key", location=Location(path))
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Read a public key file: PEM SubjectPublicKeyInfo or one line of base64 raw bytes."""
    data = _read_key_file(path)
    return parse_public_key(data.decode("utf-8", "replace").strip(), origin=str(path))


def parse_public_key(text: str, *, origin: str) -> Ed25519PublicKey:
    """Parse an Ed25519 public key given as PEM or as base64 of the 32 raw bytes."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text.encode("ascii", "replace"))
        except ValueError as err:
            raise CodexError(f"{origin}: not a PEM public key ({err})") from err
        if not isinstance(key, Ed25519PublicKey):
            raise CodexError(f"{origin}: not an Ed25519 public key")
        return key
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as err:
        raise CodexError(
            f"{origin}: public key is neither PEM nor base64",
            hint="use the base64 line printed by `codex managed keygen`",
        ) from err
    if len(raw) != 32:
        raise CodexError(f"{origin}: an Ed25519 public key is 32 bytes, got {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def _read_key_file(path: Path) -> bytes:
    data = read_file_bytes(path, what="key file", max_bytes=64 * 1024)
    if data is None:
        raise CodexError(f"key file {path} does not exist", location=Location(path))
    return data


# ---------------------------------------------------------------------------------------- time


def format_timestamp(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime(_TIME_FORMAT)


def parse_timestamp(text: Any, what: str) -> float:
    """A manifest time (``YYYY-MM-DDTHH:MM:SSZ``, UTC) as a unix time; CodexError otherwise."""
    if not isinstance(text, str):
        raise CodexError(f"bundle manifest `{what}` must be a string like 2026-01-31T12:00:00Z")
    try:
        return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise CodexError(
            f"bundle manifest `{what}` {text!r} is not a UTC time like 2026-01-31T12:00:00Z"
        ) from None


def parse_duration(text: str) -> float | None:
    """``30d``, ``12h``, ``90m``, ``3600s``, ``2w`` (or a bare number of seconds) -> seconds;
    ``never`` -> None (no expiry). Anything else is a CodexError."""
    value = text.strip().lower()
    if value == "never":
        return None
    number, unit = (value[:-1], value[-1]) if value[-1:] in _UNITS else (value, "s")
    try:
        seconds = float(number) * _UNITS[unit]
    except ValueError:
        seconds = -1.0
    if not seconds > 0 or seconds == float("inf"):
        raise CodexError(
            f"invalid duration {text!r}",
            hint="use a positive number with a unit: 30d, 12h, 90m, 3600s, 2w (or `never`)",
        )
    return seconds


# ------------------------------------------------------------------------------ bundle contents


def read_bundle_files(bundle_dir: Path) -> dict[str, bytes]:
    """All policy files of a bundle directory (relative posix path -> bytes), reserved excluded.

    Symlinks, devices, FIFOs and sockets are refused with the offending path named.
    """
    if not bundle_dir.is_dir():
        raise CodexError(f"bundle directory {bundle_dir} does not exist or is not a directory")
    files: dict[str, bytes] = {}
    total = 0
    for root, dirnames, filenames in os.walk(bundle_dir, followlinks=False):
        dirnames.sort()
        root_path = Path(root)
        for name in [*dirnames, *sorted(filenames)]:
            full = root_path / name
            rel = full.relative_to(bundle_dir).as_posix()
            mode = full.lstat().st_mode
            if stat.S_ISLNK(mode):
                raise CodexError(
                    f"bundle contains a symlink: {rel}",
                    hint="copy the real file into the bundle; signed bundles may not point outside",
                )
            if stat.S_ISDIR(mode):
                continue
            if not stat.S_ISREG(mode):
                raise CodexError(f"bundle contains a special file: {rel}")
            if rel in _RESERVED:
                continue
            # nofollow + the reader's own file-type check: a file swapped for a link or a FIFO
            # after the lstat above is refused too, never followed or waited on.
            data = read_file_bytes(full, what="bundle file", nofollow=True) or b""
            total += len(data)
            files[rel] = data
            if len(files) > MAX_BUNDLE_FILES or total > MAX_BUNDLE_BYTES:
                raise CodexError(
                    f"bundle {bundle_dir} is too large (limit {MAX_BUNDLE_FILES} files, "
                    f"{MAX_BUNDLE_BYTES} bytes)"
                )
    return files


def canonical_json(value: Any) -> bytes:
    """The one byte form that is signed: sorted keys, no whitespace, ASCII only."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _manifest_for(
    files: Mapping[str, bytes], serial: int, created: str, expires: str | None
) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "serial": serial,
        "created": created,
        "files": {
            name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            for name, data in sorted(files.items())
        },
    }
    if expires is not None:
        manifest["expires"] = expires
    return manifest


def _previous_serial(bundle_dir: Path) -> int:
    path = bundle_dir / MANIFEST_NAME
    if path.is_symlink() or not path.is_file():
        return 0
    try:
        serial = json.loads(read_text_file(path, what="bundle manifest") or "{}").get("serial", 0)
    except (ValueError, AttributeError, CodexError):
        return 0
    return serial if isinstance(serial, int) and not isinstance(serial, bool) else 0


def sign_bundle(
    bundle_dir: Path,
    private_key: Ed25519PrivateKey,
    *,
    serial: int | None = None,
    now: float | None = None,
    valid_for: float | None = DEFAULT_VALIDITY,
) -> BundleInfo:
    """Write the manifest and detached signature for every file in ``bundle_dir``.

    The default serial is ``max(previous serial + 1, unix time)``: monotonic on one machine and
    roughly ordered across signing machines. An explicit ``serial`` must exceed the previous one.
    ``valid_for`` (seconds; None = no expiry) sets the signed ``expires``. This signs any files;
    :func:`codex_admin.managed.sign_policy_bundle` checks the policy first.
    """
    files = read_bundle_files(bundle_dir)
    if not files:
        raise CodexError(f"bundle directory {bundle_dir} has no files to sign")
    previous = _previous_serial(bundle_dir)
    moment = time.time() if now is None else now
    if serial is None:
        serial = max(previous + 1, int(moment))
    elif serial <= previous:
        raise CodexError(
            f"serial {serial} is not greater than the bundle's previous serial {previous}",
            hint="serials must grow so clients can refuse replayed older bundles",
        )
    if serial < 1:
        raise CodexError("serial must be a positive integer")
    if valid_for is not None and not valid_for > 0:
        raise CodexError("a bundle's validity must be a positive duration")
    created = format_timestamp(moment)
    expires = None if valid_for is None else format_timestamp(moment + valid_for)
    manifest = _manifest_for(files, serial, created, expires)
    body = canonical_json(manifest)
    signature = {
        "alg": "ed25519",
        "key_id": key_id(private_key.public_key()),
        "signature": base64.b64encode(private_key.sign(body)).decode("ascii"),
    }
    # Atomic, and never through a link (read_bundle_files refused any symlink above).
    for name, document in ((MANIFEST_NAME, manifest), (SIGNATURE_NAME, signature)):
        text = json.dumps(document, indent=2, sort_keys=True) + "\n"
        write_output(bundle_dir, name, text.encode("utf-8"), 0o644)
    return _info(manifest, signature["key_id"], body)


def _info(manifest: Mapping[str, Any], kid: str, body: bytes) -> BundleInfo:
    return BundleInfo(
        serial=manifest["serial"],
        created=manifest["created"],
        key_id=kid,
        files={name: entry["sha256"] for name, entry in manifest["files"].items()},
        manifest_sha256=hashlib.sha256(body).hexdigest(),
        expires=manifest.get("expires"),
    )


# --------------------------------------------------------------------------------- verification


def verify_bundle(
    bundle_dir: Path,
    trusted_keys: list[Ed25519PublicKey],
    *,
    min_serial: int | None = None,
    now: float | None = None,
    require_expiry: bool = False,
) -> BundleInfo:
    """Verify a signed bundle directory; raise :class:`CodexError` naming what is wrong."""
    manifest = _read_json_file(bundle_dir / MANIFEST_NAME, "manifest")
    signature = _read_json_file(bundle_dir / SIGNATURE_NAME, "signature")
    files = read_bundle_files(bundle_dir)
    return verify_files(
        manifest,
        signature,
        files,
        trusted_keys,
        min_serial=min_serial,
        now=now,
        require_expiry=require_expiry,
    )


def _read_json_file(path: Path, what: str) -> Any:
    if path.is_symlink():
        raise CodexError(f"bundle {what} {path} is a symlink")
    if not path.parent.is_dir():
        raise CodexError(
            f"bundle directory {path.parent} does not exist or is not a directory",
            location=Location(path.parent),
        )
    text = read_text_file(path, what=f"bundle {what}", nofollow=True)
    if text is None:
        raise CodexError(
            f"bundle is not signed: {path} is missing",
            hint="sign it with `codex managed sign --key KEY DIR`",
        )
    try:
        return json.loads(text)
    except ValueError as err:
        raise CodexError(f"bundle {what} {path} is not valid JSON: {err}") from err


def verify_files(
    manifest: Any,
    signature: Any,
    files: Mapping[str, bytes],
    trusted_keys: list[Ed25519PublicKey],
    *,
    min_serial: int | None = None,
    now: float | None = None,
    require_expiry: bool = False,
) -> BundleInfo:
    """Check signature, then serial and expiry, then the exact file set and every hash.

    The signature is checked first, over the canonical bytes of the manifest *as given*, so no
    field of an unverified manifest is trusted for anything but error messages. A bundle whose
    signed ``expires`` is not after ``now`` (default: the current time) is refused;
    ``require_expiry`` also refuses one without ``expires``.
    """
    if not trusted_keys:
        raise CodexError("no trusted public keys given; cannot verify a signed bundle")
    if not isinstance(manifest, dict) or not isinstance(signature, dict):
        raise CodexError("bundle manifest and signature must be JSON objects")
    sig_text = signature.get("signature")
    if signature.get("alg") != "ed25519" or not isinstance(sig_text, str):
        raise CodexError("bundle signature is malformed: expected alg 'ed25519' and a signature")
    try:
        sig = base64.b64decode(sig_text, validate=True)
    except (binascii.Error, ValueError) as err:
        raise CodexError("bundle signature is garbled: not valid base64") from err
    if len(sig) != 64:
        raise CodexError(
            f"bundle signature is truncated or garbled: {len(sig)} bytes, Ed25519 needs 64"
        )
    body = canonical_json(manifest)
    signer: Ed25519PublicKey | None = None
    for key in trusted_keys:
        try:
            key.verify(sig, body)
        except InvalidSignature:
            continue
        signer = key
        break
    if signer is None:
        claimed = signature.get("key_id")
        trusted = ", ".join(key_id(k) for k in trusted_keys)
        raise CodexError(
            f"bundle signature does not verify with any trusted key (signature claims key "
            f"{claimed!s}; trusted: {trusted})",
            hint="the manifest was modified after signing, or it was signed with another key",
        )
    _check_manifest_shape(manifest)
    serial = manifest["serial"]
    if min_serial is not None and serial < min_serial:
        raise CodexError(
            f"bundle serial {serial} is older than the already accepted serial {min_serial}; "
            "refusing a replayed older bundle",
            hint="publish a bundle signed with a higher serial",
        )
    expires = manifest.get("expires")
    if expires is None and require_expiry:
        raise CodexError(
            f"bundle serial {serial} has no signed `expires`; refusing a bundle that would be "
            "valid forever",
            hint="re-sign it with `codex managed sign --valid-for 30d` (or a shorter period)",
        )
    moment = time.time() if now is None else now
    if expires is not None and parse_timestamp(expires, "expires") <= moment:
        raise CodexError(
            f"bundle serial {serial} expired at {expires} (signed `expires`); refusing it",
            hint="publish a freshly signed bundle (`codex managed sign --valid-for ...`)",
        )
    listed: dict[str, Any] = manifest["files"]
    missing = sorted(set(listed) - set(files))
    extra = sorted(set(files) - set(listed))
    if missing:
        raise CodexError(f"bundle file missing: {missing[0]} (listed in the signed manifest)")
    if extra:
        raise CodexError(f"bundle has an unsigned extra file: {extra[0]}")
    for name in sorted(listed):
        data = files[name]
        entry = listed[name]
        if hashlib.sha256(data).hexdigest() != entry["sha256"] or len(data) != entry["size"]:
            raise CodexError(f"bundle file changed after signing: {name} (sha256 mismatch)")
    return _info(manifest, key_id(signer), body)


def _check_manifest_shape(manifest: Mapping[str, Any]) -> None:
    if manifest.get("format") != FORMAT:
        raise CodexError(f"unsupported bundle manifest format {manifest.get('format')!r}")
    serial = manifest.get("serial")
    if not isinstance(serial, int) or isinstance(serial, bool) or serial < 1:
        raise CodexError("bundle manifest serial must be a positive integer")
    files = manifest.get("files")
    if not isinstance(files, dict) or not isinstance(manifest.get("created"), str):
        raise CodexError("bundle manifest must have 'files' (object) and 'created' (string)")
    created = parse_timestamp(manifest["created"], "created")
    if "expires" in manifest and parse_timestamp(manifest["expires"], "expires") <= created:
        raise CodexError("bundle manifest `expires` must be later than `created`")
    for name, entry in files.items():
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("sha256"), str)
            or not isinstance(entry.get("size"), int)
        ):
            raise CodexError(f"bundle manifest entry for {name!r} is malformed")
        if name.startswith("/") or ".." in name.split("/") or "\\" in name:
            raise CodexError(f"bundle manifest names an unsafe path: {name!r}")


# ----------------------------------------------------------------------------------- wire form


def pack_bundle(bundle_dir: Path) -> dict[str, Any]:
    """The single-document form served at ``requirements_url``: manifest, signature, files.

    Packing does not verify (the publisher may not hold the trusted key list); clients do.
    """
    manifest = _read_json_file(bundle_dir / MANIFEST_NAME, "manifest")
    signature = _read_json_file(bundle_dir / SIGNATURE_NAME, "signature")
    files = read_bundle_files(bundle_dir)
    return {
        "format": WIRE_FORMAT,
        "manifest": manifest,
        "signature": signature,
        "files": {
            name: base64.b64encode(data).decode("ascii") for name, data in sorted(files.items())
        },
    }


def unpack_wire(document: Any, origin: str) -> tuple[Any, Any, dict[str, bytes]]:
    """Split a wire document into (manifest, signature, files) without trusting any of it."""
    if not isinstance(document, dict) or document.get("format") != WIRE_FORMAT:
        raise CodexError(f"{origin}: not a signed policy bundle (format {WIRE_FORMAT!r} expected)")
    raw_files = document.get("files")
    if not isinstance(raw_files, dict):
        raise CodexError(f"{origin}: bundle 'files' must be an object")
    files: dict[str, bytes] = {}
    for name, text in raw_files.items():
        if not isinstance(name, str) or not isinstance(text, str):
            raise CodexError(f"{origin}: bundle file entries must be base64 strings")
        try:
            files[name] = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as err:
            raise CodexError(f"{origin}: bundle file {name!r} is not valid base64") from err
    return document.get("manifest"), document.get("signature"), files
