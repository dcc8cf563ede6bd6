"""Shared builders for guardian tests: requests, contexts, a guardian wired to the mock server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codex_admin.auth import auth_settings
from codex_admin.guardian import (
    DeterministicContext,
    Guardian,
    GuardianEvent,
    GuardianSettings,
    ModelTier,
    PathEnv,
    ReviewRequest,
    compose_policy,
    parse_request,
)
from codex_admin.providers import resolve_credentials, resolve_provider
from tests.support import MockResponsesServer

HOME = "/home/user"
CWD = "/home/user/repo"
PATHS = PathEnv(HOME, f"{HOME}/.codex")
CONTEXT = DeterministicContext(PATHS, (CWD,))


def shell(
    script: str, *, transcript: list[dict[str, str]] | None = None, **extra: Any
) -> ReviewRequest:
    return parse_request(
        {
            "action": {"type": "shell", "command": ["bash", "-lc", script], "cwd": CWD},
            "transcript": transcript or [{"role": "user", "text": "do the task"}],
            **extra,
        }
    )


def argv(*words: str, transcript: list[dict[str, str]] | None = None) -> ReviewRequest:
    return parse_request(
        {
            "action": {"type": "shell", "command": list(words), "cwd": CWD},
            "transcript": transcript or [{"role": "user", "text": "do the task"}],
        }
    )


def settings(
    timeout: float = 5.0, model: str = "review-model", *, fail_open: bool = False
) -> GuardianSettings:
    return GuardianSettings(
        policy=compose_policy(),
        model=model,
        timeout=timeout,
        fail_open=fail_open,
        fail_open_source="requirements: /etc/codex/requirements.toml" if fail_open else None,
    )


def model_tier(server: MockResponsesServer, tmp: Path, timeout: float = 5.0) -> ModelTier:
    config = {"model_provider": "mock", "model_providers": {"mock": server.provider_config()}}
    provider = resolve_provider(config)
    credentials = resolve_credentials(provider, auth_settings({}, codex_home=tmp))
    return ModelTier(provider, credentials, settings(timeout))


def guardian(
    server: MockResponsesServer | None,
    tmp: Path,
    *,
    timeout: float = 5.0,
    events: list[GuardianEvent] | None = None,
    offline: bool = False,
    fail_open: bool = False,
) -> Guardian:
    tier = model_tier(server, tmp, timeout) if server is not None else None
    return Guardian(
        settings(timeout, fail_open=fail_open),
        paths=PATHS,
        workspace_roots=(CWD,),
        model_tier=tier,
        offline=offline,
        on_event=None if events is None else events.append,
    )
