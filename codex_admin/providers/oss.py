"""`--oss`: check that the local server answers before the first turn (as Codex does).

Ollama is probed at ``GET <host>/api/tags`` (its native API, beside ``/v1``), LM Studio at
``GET <base_url>/models``. Any HTTP answer below 500 counts as "running"; a refused connection or
a timeout is a :class:`ProviderConfigError` with Codex's start-up hint.
"""

from __future__ import annotations

from codex_admin.providers.errors import ProviderConfigError
from codex_admin.providers.httpx_lib import httpx
from codex_admin.providers.info import ProviderInfo

__all__ = ["check_oss_server"]

_MESSAGES = {
    "ollama": (
        "No running Ollama server detected. Start it with: `ollama serve` (after installing)."
        " Install instructions: https://github.com/ollama/ollama?tab=readme-ov-file#ollama"
    ),
    "lmstudio": (
        "LM Studio is not responding. Install from https://lmstudio.ai/download and run"
        " 'lms server start'."
    ),
}


async def check_oss_server(
    provider: ProviderInfo, http: httpx.AsyncClient, *, timeout: float = 5.0
) -> None:
    """Raise ProviderConfigError unless the local provider's server answers."""
    base = (provider.base_url or "").rstrip("/")
    native = provider.id == "ollama"
    url = base.removesuffix("/v1") + "/api/tags" if native else base + "/models"
    try:
        response = await http.get(url, timeout=timeout)
    except httpx.HTTPError:
        ok = False
    else:
        ok = response.status_code < 500
    if not ok:
        raise ProviderConfigError(
            f"OSS setup failed: {_MESSAGES.get(provider.id, f'{url} is not responding.')}",
            hint=f"the server is expected at {base} (CODEX_OSS_BASE_URL / CODEX_OSS_PORT)",
            provider=provider.id,
        )
