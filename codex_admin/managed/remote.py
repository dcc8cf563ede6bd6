"""Remote requirements: fetch a signed bundle, verify it, cache it, fail closed.

Who controls what: the admin controls ``<system dir>/remote_requirements.toml`` (root-owned:
the URL, the trusted keys, ``min_serial``) and what the server serves (signed). The *user*
controls ``$CODEX_HOME``, so the cache there is attacker-writable: they can delete it, plant an
older signed bundle they kept, or edit its unsigned ``fetched_at`` and ``etag``. So:

* the cache only decides *when to ask the server again* (``fetched_at`` + ``ttl``);
* *how long a bundle may be used at all* is decided by signed data: every remote bundle must carry
  a signed ``expires`` and is refused after it, fetched or cached, grace period or not;
* the anti-rollback floor is ``min_serial`` from the system dir (the user cannot lower it) and,
  on top, the serial of a valid cached bundle (deleting the cache only falls back to the floor);
* a cache that claims a future ``fetched_at``, or one earlier than its bundle was signed, is
  refused outright (someone edited it).

Decision table (``age`` = now - ``fetched_at`` of a valid, unexpired cache):

* no cache, fetch OK                         -> use the fetched bundle
* cache younger than ``ttl``                 -> use the cache, no request at all
* cache older than ``ttl``, fetch OK / 304   -> use the new bundle / refresh the cache's age
* cache older than ``ttl``, fetch fails      -> warning while ``age < ttl + grace`` and the
                                                bundle has not expired, then error
* no usable cache, fetch fails               -> error (fail closed)

"Fetch fails" includes an invalid signature, a manifest without ``requirements.toml`` or
``expires``, an expired bundle and a replayed bundle whose serial is below the floor: a bundle
that is not *provably* current policy is never activated. Editing the cache therefore buys a user
at most the remaining signed lifetime of a bundle they were once given; admins bound that with
``managed sign --valid-for`` and raise ``min_serial`` to revoke a bad bundle at once.
"""

from __future__ import annotations

import json
import os
import ssl
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from codex_admin.config import RequirementsDocument, read_file_bytes
from codex_admin.errors import CodexError
from codex_admin.managed.remote_config import RemoteConfig, read_remote_config
from codex_admin.managed.signing import BundleInfo, format_timestamp, unpack_wire, verify_files

__all__ = [
    "CACHE_NAME",
    "REQUIREMENTS_FILE",
    "RemoteResult",
    "load_remote_requirements",
    "resolve_remote_requirements",
]

CACHE_NAME = "remote-requirements-cache.json"
REQUIREMENTS_FILE = "requirements.toml"
MAX_RESPONSE_BYTES = 12 * 1024 * 1024
# Clock skew tolerated between this machine and the one that wrote the cache or signed a bundle.
_FUTURE_SLACK = 300.0


class _FetchFailed(Exception):
    """Internal: one fetch round failed; the message is user-facing."""


@dataclass
class RemoteResult:
    """What the remote source produced and how (``state`` is for `codex doctor`)."""

    configured: bool
    url: str | None = None
    state: str = "not-configured"  # fresh | not-modified | cached | stale-grace | not-configured
    text: str | None = None
    bundle: BundleInfo | None = None
    fetched_at: float | None = None
    cache_path: Path | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def source(self) -> str:
        serial = self.bundle.serial if self.bundle else "?"
        return f"remote requirements {self.url} (serial {serial})"

    def to_json(self) -> dict[str, Any]:
        return {
            "configured": self.configured,
            "url": self.url,
            "state": self.state,
            "serial": self.bundle.serial if self.bundle else None,
            "key_id": self.bundle.key_id if self.bundle else None,
            "created": self.bundle.created if self.bundle else None,
            "expires": self.bundle.expires if self.bundle else None,
            "fetched_at": _iso(self.fetched_at),
            "cache_path": str(self.cache_path) if self.cache_path else None,
            "warnings": list(self.warnings),
        }


@dataclass
class _Cache:
    url: str
    etag: str | None
    fetched_at: float
    wire: dict[str, Any]
    info: BundleInfo
    text: str


def load_remote_requirements(system_dir: Path, codex_home: Path) -> RequirementsDocument | None:
    """The verified remote requirements document, or ``None`` when no remote source is set.

    Raises :class:`CodexError` when a source is configured but no verified bundle (fresh or a
    cache within its grace period) is available. Non-fatal problems travel in the document's
    ``warnings`` and are reported with the configuration's warnings.
    """
    result = resolve_remote_requirements(system_dir, codex_home)
    if result.text is None:
        return None
    return RequirementsDocument(
        source=result.source, text=result.text, path=None, warnings=tuple(result.warnings)
    )


def resolve_remote_requirements(
    system_dir: Path, codex_home: Path, *, now: float | None = None
) -> RemoteResult:
    """The full decision (see the module docstring) with its state and warnings."""
    config = read_remote_config(system_dir)
    if config is None:
        return RemoteResult(configured=False)
    moment = time.time() if now is None else now
    cache_path = codex_home / CACHE_NAME
    result = RemoteResult(configured=True, url=config.url, cache_path=cache_path)
    cache = _read_cache(cache_path, config, moment, result.warnings)
    age = None if cache is None else moment - cache.fetched_at
    if cache is not None and age is not None and 0 <= age < config.ttl_seconds:
        return _use(result, cache, "cached")
    try:
        fresh = _fetch(config, cache, moment)
    except _FetchFailed as err:
        reason = str(err)
        ends = None if cache is None else _grace_end(cache, config)
        if cache is not None and ends is not None and moment < ends:
            result.warnings.append(
                f"could not refresh remote requirements from {config.url}: {reason}; using the "
                f"cached bundle (serial {cache.info.serial}) until the grace period ends at "
                f"{_iso(ends)}"
            )
            return _use(result, cache, "stale-grace")
        detail = (
            "and the cached bundle expired beyond its grace period"
            if cache is not None
            else "and there is no valid cached bundle"
        )
        raise CodexError(
            f"failed to load remote requirements from {config.url}: {reason} {detail}; "
            "refusing to run without the managed policy (fail closed)",
            hint="check the network connection to the policy server, or ask your administrator; "
            f"remote source configured in {config.path}",
        ) from err
    state = "not-modified" if fresh is cache else "fresh"
    fresh.fetched_at = moment
    _write_cache(cache_path, fresh, result.warnings)
    return _use(result, fresh, state)


def _grace_end(cache: _Cache, config: RemoteConfig) -> float:
    """When a cache may no longer stand in for an unreachable server: the configured grace
    after its TTL, but never past the bundle's signed expiry (``fetched_at`` is forgeable)."""
    grace = cache.fetched_at + config.ttl_seconds + config.grace_seconds
    expires = cache.info.expires_at
    return grace if expires is None else min(grace, expires)


def _use(result: RemoteResult, cache: _Cache, state: str) -> RemoteResult:
    result.state = state
    result.text = cache.text
    result.bundle = cache.info
    result.fetched_at = cache.fetched_at
    return result


def _iso(moment: float | None) -> str | None:
    return None if moment is None else format_timestamp(moment)


# ------------------------------------------------------------------------------------ bundles


def _activate(
    wire: Any, config: RemoteConfig, origin: str, min_serial: int, now: float
) -> tuple[BundleInfo, str]:
    """Verify a wire bundle and extract its requirements text (all failures are CodexError).

    Signature, serial floor, signed expiry (required) and every file hash are checked.
    """
    manifest, signature, files = unpack_wire(wire, origin)
    info = verify_files(
        manifest,
        signature,
        files,
        list(config.keys),
        min_serial=min_serial or None,
        now=now,
        require_expiry=True,
    )
    data = files.get(REQUIREMENTS_FILE)
    if data is None:
        raise CodexError(f"{origin}: signed bundle has no {REQUIREMENTS_FILE}")
    try:
        text = data.decode("utf-8")
        tomllib.loads(text)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise CodexError(f"{origin}: {REQUIREMENTS_FILE} in the signed bundle: {err}") from err
    return info, text


def _read_cache(path: Path, config: RemoteConfig, now: float, notes: list[str]) -> _Cache | None:
    """The cache when it is valid *now*; every way it can be wrong is a note and ``None``.

    Read with the safe reader (a FIFO or ``/dev/zero`` planted as the cache must not hang us).
    """
    try:
        raw = read_file_bytes(path, what="remote requirements cache", max_bytes=MAX_RESPONSE_BYTES)
    except CodexError as err:
        notes.append(f"ignoring unreadable remote requirements cache {path}: {err.message}")
        return None
    if raw is None:
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
        if data.get("url") != config.url:
            return None  # cache of another source: neither usable nor a replay reference
        etag = data.get("etag")
        fetched_at = data["fetched_at"]
        if isinstance(fetched_at, bool) or not isinstance(fetched_at, int | float):
            raise ValueError("fetched_at is not a number")
        fetched_at = float(fetched_at)
        if not fetched_at <= now + _FUTURE_SLACK:  # also refuses NaN
            raise ValueError(f"it claims a future fetch time ({_iso(min(fetched_at, 2**33))})")
        info, text = _activate(data["wire"], config, f"cache {path}", config.min_serial, now)
        if fetched_at < info.created_at - _FUTURE_SLACK:
            raise ValueError("it claims a fetch before its bundle was signed")
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError, CodexError) as err:
        reason = err.message if isinstance(err, CodexError) else str(err)
        notes.append(f"ignoring invalid remote requirements cache {path}: {reason}")
        return None
    return _Cache(
        url=config.url,
        etag=etag if isinstance(etag, str) else None,
        fetched_at=fetched_at,
        wire=data["wire"],
        info=info,
        text=text,
    )


def _write_cache(path: Path, cache: _Cache, notes: list[str]) -> None:
    """Atomic 0600 write (temp file in the same directory + rename); failures only warn."""
    body = json.dumps(
        {"url": cache.url, "etag": cache.etag, "fetched_at": cache.fetched_at, "wire": cache.wire}
    )
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".remote-requirements.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(body)
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except OSError:
            os.unlink(tmp)
            raise
    except OSError as err:
        notes.append(f"could not write remote requirements cache {path}: {err}")


# ------------------------------------------------------------------------------------ network


def _fetch(config: RemoteConfig, cache: _Cache | None, now: float) -> _Cache:
    """One bounded round of attempts; returns ``cache`` itself on 304."""
    verify: ssl.SSLContext | bool = True
    if config.ca_file is not None:
        try:
            verify = ssl.create_default_context(cafile=str(config.ca_file))
        except (OSError, ssl.SSLError) as err:
            raise CodexError(f"cannot load remote.ca_file {config.ca_file}: {err}") from err
    headers = {"Accept": "application/json"}
    if cache is not None and cache.etag:
        headers["If-None-Match"] = cache.etag
    last = "no attempt made"
    with httpx.Client(verify=verify, timeout=config.timeout_seconds) as client:
        for attempt in range(config.max_attempts):
            if attempt:
                time.sleep(min(0.25 * 2 ** (attempt - 1), 2.0))
            try:
                status, etag, body = _get(client, config, headers)
            except _Retryable as err:
                last = str(err)
                continue
            if status == 304:
                if cache is None:
                    raise _FetchFailed("server answered 304 Not Modified but nothing is cached")
                return cache
            if status != 200:
                raise _FetchFailed(f"server answered HTTP {status}")
            return _accept(config, cache, etag, body, now)
    raise _FetchFailed(f"{last} (after {config.max_attempts} attempts)")


class _Retryable(Exception):
    pass


def _get(
    client: httpx.Client, config: RemoteConfig, headers: dict[str, str]
) -> tuple[int, str | None, bytes]:
    deadline = time.monotonic() + config.timeout_seconds
    try:
        with client.stream("GET", config.url, headers=headers) as response:
            if response.status_code == 429 or response.status_code >= 500:
                raise _Retryable(f"server answered HTTP {response.status_code}")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    raise _FetchFailed(f"response larger than {MAX_RESPONSE_BYTES} bytes")
                if time.monotonic() > deadline:
                    raise _Retryable(f"timed out after {config.timeout_seconds:g} s")
                chunks.append(chunk)
            return response.status_code, response.headers.get("etag"), b"".join(chunks)
    except httpx.TimeoutException as err:
        raise _Retryable(
            f"timed out after {config.timeout_seconds:g} s ({type(err).__name__})"
        ) from err
    except httpx.TransportError as err:
        raise _Retryable(f"cannot reach the server: {err or type(err).__name__}") from err


def _accept(
    config: RemoteConfig, cache: _Cache | None, etag: str | None, body: bytes, now: float
) -> _Cache:
    try:
        wire = json.loads(body)
    except ValueError as err:
        raise _FetchFailed(f"response is not JSON: {err}") from err
    floor = max(config.min_serial, cache.info.serial if cache is not None else 0)
    try:
        info, text = _activate(wire, config, config.url, floor, now)
    except CodexError as err:
        raise _FetchFailed(err.message) from err
    if (
        cache is not None
        and info.serial == cache.info.serial
        and info.manifest_sha256 != cache.info.manifest_sha256
    ):
        raise _FetchFailed(
            f"bundle reuses serial {info.serial} with different contents; refusing it"
        )
    return _Cache(url=config.url, etag=etag, fetched_at=now, wire=wire, info=info, text=text)
