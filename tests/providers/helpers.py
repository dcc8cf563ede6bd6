"""Drive a ModelClient against a mock server from a sync test."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from codex_admin.auth import auth_settings
from codex_admin.providers import (
    ModelClient,
    ModelProviderError,
    ModelRequest,
    ResponseEvent,
    resolve_credentials,
    resolve_provider,
)

KEY = "sk-test-SECRETKEY-0123456789abcdef"


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def request(**kwargs: Any) -> ModelRequest:
    base: dict[str, Any] = {"model": "gpt-test", "input": [user("hi")], "session_id": "sess-1"}
    base.update(kwargs)
    return ModelRequest(**base)


class Run:
    def __init__(self) -> None:
        self.events: list[ResponseEvent] = []
        self.error: ModelProviderError | None = None
        self.sleeps: list[float] = []

    def of(self, cls: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, cls)]


def stream(
    provider_table: Mapping[str, Any],
    req: ModelRequest | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    codex_home: Path = Path("/nonexistent"),
    real_sleep: bool = False,
    client_kwargs: Mapping[str, Any] | None = None,
) -> Run:
    env = {"MOCK_KEY": KEY} if environ is None else dict(environ)
    table = {"env_key": "MOCK_KEY", **provider_table} if "MOCK_KEY" in env else dict(provider_table)
    config = {"model_provider": "mock", "model_providers": {"mock": table}}
    provider = resolve_provider(config, environ=env)
    credentials = resolve_credentials(
        provider, auth_settings({}, codex_home=codex_home, environ=env), environ=env
    )
    run = Run()

    async def fake_sleep(delay: float) -> None:
        run.sleeps.append(delay)
        if real_sleep:
            await asyncio.sleep(delay)

    async def go() -> None:
        async with ModelClient(
            provider, credentials, environ=env, sleep=fake_sleep, **(client_kwargs or {})
        ) as client:
            try:
                async for event in client.stream(req or request()):
                    run.events.append(event)
            except ModelProviderError as err:
                run.error = err

    asyncio.run(go())
    return run
