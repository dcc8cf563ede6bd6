"""The httpx client every provider request and sign-in uses: custom CA, proxy policy, no surprises.

* **Custom CA.** Gateways that inspect TLS present certificates signed by the organisation's CA.
  ``CODEX_CA_CERTIFICATE`` (else ``SSL_CERT_FILE``) names a PEM file whose certificates are
  trusted *in addition to* the system roots. The file may hold several certificates, OpenSSL's
  ``TRUSTED CERTIFICATE`` form (the trust settings after the certificate are dropped) and other
  sections such as ``X509 CRL`` (ignored). A file without any usable certificate, or with a
  certificate that does not parse, is an error naming the file -- never a silent fallback.
* **TLS only when needed.** The SSL context (and the system bundle behind it) is built only for an
  ``https://`` URL; a plain-HTTP local server costs nothing. The context for plain HTTP trusts no
  root, so a redirect or misconfiguration can never reach a TLS server unverified.
* **Proxy.** With ``features.respect_system_proxy`` on, httpx honours ``HTTP(S)_PROXY`` /
  ``ALL_PROXY`` / ``NO_PROXY`` (through its own transport); otherwise the variables are ignored
  (the default: a proxy variable set for another tool must not capture model traffic and keys)
  and requests go straight to the origin over :class:`~.transport.DirectTransport`, which does
  not load httpcore and anyio (start-up, see its module docstring).
* No redirects are followed (a redirect could carry the ``Authorization`` header elsewhere); read
  timeouts are off because the client enforces ``stream_idle_timeout_ms`` itself.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from codex_admin.providers.errors import ProviderConfigError
from codex_admin.providers.httpx_lib import httpx
from codex_admin.providers.transport import DirectTransport

__all__ = ["build_http_client", "load_custom_ca", "respects_system_proxy", "ssl_context_for"]

_MAX_CA_FILE = 8 * 1024 * 1024
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\s*(.*?)\s*-----END \1-----", re.DOTALL)
CONNECT_TIMEOUT = 30.0


def _der_prefix(data: bytes) -> bytes:
    """The first DER element of ``data`` (a TRUSTED CERTIFICATE is a cert plus trust info)."""
    if len(data) < 2 or data[0] != 0x30:
        raise ValueError("not a DER SEQUENCE")
    first = data[1]
    if first < 0x80:
        length, offset = first, 2
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or len(data) < 2 + count:
            raise ValueError("bad DER length")
        length, offset = int.from_bytes(data[2 : 2 + count], "big"), 2 + count
    if offset + length > len(data):
        raise ValueError("truncated DER certificate")
    return data[: offset + length]


def load_custom_ca(environ: Mapping[str, str] | None = None) -> tuple[Path, list[bytes]] | None:
    """The custom CA file and its certificates (DER), or None when no variable is set."""
    env = os.environ if environ is None else environ
    var = "CODEX_CA_CERTIFICATE" if env.get("CODEX_CA_CERTIFICATE", "").strip() else "SSL_CERT_FILE"
    raw = env.get(var, "").strip()
    if not raw:
        return None
    path = Path(raw).expanduser()
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_CA_FILE + 1)
    except OSError as err:
        raise ProviderConfigError(
            f"{var} points to {path}, which cannot be read: {err.strerror or err}",
            hint=f"point {var} at a PEM file with your organisation's CA certificate(s)",
        ) from None
    if len(data) > _MAX_CA_FILE:
        raise ProviderConfigError(f"{var} file {path} is larger than {_MAX_CA_FILE} bytes")
    text = data.decode("ascii", errors="replace")
    certs: list[bytes] = []
    for index, match in enumerate(_PEM_BLOCK.finditer(text), start=1):
        label, body = match.group(1), match.group(2)
        if label not in ("CERTIFICATE", "TRUSTED CERTIFICATE", "X509 CERTIFICATE"):
            continue  # X509 CRL, keys, parameters: not trust anchors
        try:
            der = base64.b64decode("".join(body.split()), validate=True)
            der = _der_prefix(der)
            ssl.DER_cert_to_PEM_cert(der)
        except (ValueError, binascii.Error) as err:
            raise ProviderConfigError(
                f"{var} file {path}: PEM block {index} ({label}) is not a valid certificate"
                f" ({err})",
                hint="re-export the CA certificate in PEM format",
            ) from None
        certs.append(der)
    if not certs:
        raise ProviderConfigError(
            f"{var} file {path} contains no PEM certificate",
            hint="the file must contain at least one -----BEGIN CERTIFICATE----- block",
        )
    return path, certs


def ssl_context_for(url: str, environ: Mapping[str, str] | None = None) -> ssl.SSLContext:
    """A verifying context for ``url``: system roots (+ the custom CA) for https, none for http."""
    if urlsplit(url).scheme != "https":
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies against an empty trust store
    ctx = ssl.create_default_context()
    custom = load_custom_ca(environ)
    if custom is not None:
        path, certs = custom
        try:
            ctx.load_verify_locations(cadata=b"".join(certs))
        except ssl.SSLError as err:
            raise ProviderConfigError(
                f"the CA certificates in {path} cannot be loaded: {err.reason or err}"
            ) from None
    return ctx


def respects_system_proxy(resolved: Mapping[str, Any]) -> bool:
    """Whether the effective config (``ConfigResult.resolved``) turns on
    ``features.respect_system_proxy``: the one reading of the switch, for every client built
    for model traffic or sign-in (the agent, the guardian's reviewer, ``codex login``). Project
    layers cannot set it (the loader strips it), so a repository cannot redirect the traffic."""
    features = resolved.get("features")
    return isinstance(features, Mapping) and features.get("respect_system_proxy") is True


def build_http_client(
    url: str,
    *,
    environ: Mapping[str, str] | None = None,
    respect_system_proxy: bool = False,
    connect_timeout: float = CONNECT_TIMEOUT,
) -> httpx.AsyncClient:
    """An AsyncClient for requests to ``url``'s origin (see the module docstring)."""
    timeout = httpx.Timeout(connect=connect_timeout, read=None, write=60.0, pool=60.0)
    context = ssl_context_for(url, environ)
    return httpx.AsyncClient(
        verify=context,
        trust_env=respect_system_proxy,
        transport=None if respect_system_proxy else DirectTransport(context),
        follow_redirects=False,
        timeout=timeout,
    )
