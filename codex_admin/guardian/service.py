"""Entry points for front-ends: build a guardian from configuration, review, test, show policy.

* :func:`guardian_from_config` -- the :class:`Guardian` for one effective configuration: the
  shipped rule table, ``~`` / ``$CODEX_HOME`` from the config, and a model tier built on first
  need from the session's provider and credentials (a provider or login problem then makes
  model-tier reviews fail closed with that error, as an unreachable model would);
* :func:`review_text` -- `codex guardian review`: a JSON request in, a verdict out;
* :func:`test_cases` -- `codex guardian test` (always fails closed: a case checks the policy);
* :func:`guardian_settings` (re-exported) -- `codex guardian policy show`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from codex_admin.auth import auth_settings
from codex_admin.config import ConfigResult
from codex_admin.errors import CodexError
from codex_admin.guardian.cases import Case, CaseReport, load_cases, run_cases
from codex_admin.guardian.events import EventSink, GuardianEvent
from codex_admin.guardian.model_tier import ModelTier
from codex_admin.guardian.paths import PathEnv
from codex_admin.guardian.request import parse_request
from codex_admin.guardian.reviewer import Guardian, ModelTierFactory
from codex_admin.guardian.rules import builtin_rules
from codex_admin.guardian.settings import GuardianSettings, guardian_settings
from codex_admin.guardian.verdict import Verdict
from codex_admin.providers import resolve_credentials, resolve_provider, respects_system_proxy

__all__ = [
    "ReviewRun",
    "guardian_from_config",
    "model_tier_factory",
    "review_text",
    "test_cases",
]


def model_tier_factory(
    result: ConfigResult, settings: GuardianSettings, *, originator: str = "codex_exec"
) -> ModelTierFactory:
    """Builds the model tier from the session's provider and credentials when first needed."""

    async def build() -> ModelTier:
        provider = resolve_provider(
            result.config, provider_id=str(result.resolved.get("model_provider") or "openai")
        )
        auth = auth_settings(
            result.config, codex_home=result.codex_home, requirements=result.requirements
        )
        credentials = resolve_credentials(provider, auth, exec_mode=True)
        return ModelTier(
            provider,
            credentials,
            settings,
            respect_system_proxy=respects_system_proxy(result.resolved),
            originator=originator,
        )

    return build


def guardian_from_config(
    result: ConfigResult,
    *,
    offline: bool = False,
    on_event: EventSink | None = None,
    workspace_roots: tuple[str, ...] = (),
    paths: PathEnv | None = None,
    model_tier: ModelTier | ModelTierFactory | None = None,
) -> Guardian:
    """The guardian for one effective configuration (see the module docstring)."""
    settings = guardian_settings(result)
    return Guardian(
        settings,
        rules=builtin_rules(),
        paths=paths or PathEnv.from_environ(codex_home=str(result.codex_home)),
        workspace_roots=workspace_roots,
        model_tier=None if offline else (model_tier or model_tier_factory(result, settings)),
        offline=offline,
        on_event=on_event,
    )


@dataclass
class ReviewRun:
    verdict: Verdict
    events: list[GuardianEvent] = field(default_factory=list)


def _decode(text: str, where: str) -> object:
    if not text.strip():
        raise CodexError(
            f"{where}: no request given",
            hint='pipe a JSON request: {"action": {"type": "shell", "command": [...],'
            ' "cwd": "/..."}}',
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise CodexError(
            f"{where}:{err.lineno}:{err.colno}: not valid JSON: {err.msg}",
            hint="the request is one JSON object (see `codex guardian review --help`)",
        ) from None


def review_text(
    text: str, result: ConfigResult, *, offline: bool, where: str = "stdin"
) -> ReviewRun:
    """`codex guardian review`: parse the JSON request in ``text`` and review it once."""
    request = parse_request(_decode(text, where), where=where)
    events: list[GuardianEvent] = []

    async def run() -> Verdict:
        async with guardian_from_config(result, offline=offline, on_event=events.append) as g:
            return await g.review(request)

    return ReviewRun(asyncio.run(run()), events)


def test_cases(paths: Sequence[Path], result: ConfigResult, *, offline: bool) -> CaseReport:
    """`codex guardian test`: load the cases, run them, report (one model tier shared)."""
    cases = load_cases(paths)
    rules = builtin_rules()
    # Cases test the policy: a review that fails must show as a failed case, never pass
    # because requirements let a live session fail open.
    settings = replace(guardian_settings(result), fail_open=False)

    async def run() -> CaseReport:
        shared: list[ModelTier] = []
        factory = model_tier_factory(result, settings)

        async def tier() -> ModelTier:
            if not shared:
                shared.append(await factory())
            return shared[0]

        def make(case: Case) -> Guardian:
            return Guardian(
                settings,
                rules=rules,
                paths=case.paths,
                workspace_roots=case.workspace_roots,
                model_tier=None if offline else tier,
                offline=offline,
            )

        try:
            return await run_cases(cases, make, offline=offline, rules=rules)
        finally:
            for model_tier in shared:
                await model_tier.aclose()

    return asyncio.run(run())
