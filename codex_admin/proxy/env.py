"""The environment a child process needs to use the proxy (spec §9.3, §10).

Always overwrite inherited values: a child must not keep a stale proxy or bypass list. HTTP(S)
variables never carry a SOCKS URL (many clients break); ``ALL_PROXY`` prefers ``socks5h://`` so
names are resolved by the proxy. ``NO_PROXY`` is empty unless local binding is allowed, so local
targets go through the proxy and are policed. CA variables include ``CARGO_HTTP_CAINFO``
(Codex issue #32648).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["CA_VARIABLES", "LOCAL_NO_PROXY", "proxy_environment"]

HTTP_PROXY_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "http_proxy",
    "https_proxy",
    "YARN_HTTP_PROXY",
    "YARN_HTTPS_PROXY",
    "npm_config_http_proxy",
    "npm_config_https_proxy",
    "npm_config_proxy",
    "NPM_CONFIG_HTTP_PROXY",
    "NPM_CONFIG_HTTPS_PROXY",
    "NPM_CONFIG_PROXY",
    "BUNDLE_HTTP_PROXY",
    "BUNDLE_HTTPS_PROXY",
    "PIP_PROXY",
    "DOCKER_HTTP_PROXY",
    "DOCKER_HTTPS_PROXY",
    "WS_PROXY",
    "WSS_PROXY",
    "ws_proxy",
    "wss_proxy",
)
ALL_PROXY_VARIABLES = ("ALL_PROXY", "all_proxy", "FTP_PROXY", "ftp_proxy")
NO_PROXY_VARIABLES = (
    "NO_PROXY",
    "no_proxy",
    "npm_config_noproxy",
    "NPM_CONFIG_NOPROXY",
    "YARN_NO_PROXY",
    "BUNDLE_NO_PROXY",
)
CA_VARIABLES = (
    "CODEX_CA_CERTIFICATE",
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "GIT_SSL_CAINFO",
    "PIP_CERT",
    "BUNDLE_SSL_CA_CERT",
    "npm_config_cafile",
    "NPM_CONFIG_CAFILE",
    "CARGO_HTTP_CAINFO",
    "AWS_CA_BUNDLE",
    "DENO_CERT",
)
LOCAL_NO_PROXY = "localhost,127.0.0.1,::1,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16"


def proxy_environment(
    http_url: str,
    socks_url: str | None,
    *,
    allow_local_binding: bool,
    ca_bundle: Path | None,
) -> dict[str, str]:
    """Variables to set (overwriting) in a child's environment.

    ``http_url`` is e.g. ``http://127.0.0.1:43123``; ``socks_url`` e.g.
    ``socks5h://127.0.0.1:43124`` (None when SOCKS is off); ``ca_bundle`` is the session bundle
    (system CAs + session CA) when HTTPS is inspected.
    """
    env: dict[str, str] = {
        "CODEX_NETWORK_PROXY_ACTIVE": "1",
        "CODEX_NETWORK_ALLOW_LOCAL_BINDING": "1" if allow_local_binding else "0",
        "ELECTRON_GET_USE_PROXY": "true",
        "NODE_USE_ENV_PROXY": "1",
    }
    for name in HTTP_PROXY_VARIABLES:
        env[name] = http_url
    for name in ALL_PROXY_VARIABLES:
        env[name] = socks_url or http_url
    no_proxy = LOCAL_NO_PROXY if allow_local_binding else ""
    for name in NO_PROXY_VARIABLES:
        env[name] = no_proxy
    if ca_bundle is not None:
        for name in CA_VARIABLES:
            env[name] = str(ca_bundle)
    return env
