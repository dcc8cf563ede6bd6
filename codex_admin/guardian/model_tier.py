"""The model tier: one review request to the review model, with Codex's failure handling.

Each attempt streams one Responses request (``x-openai-subagent: guardian``; the output
schema as ``text.format``; the policy as a developer message) under a deadline
(``timeout``, 90 s by default). Failure classes (spec guardian_otel_hooks §1.7):

==========================  ==========  ======================================================
what happened               retried?    result
==========================  ==========  ======================================================
deadline passed             once        ``timeout`` (the caller: ``timed_out``, not a denial)
transient provider error    once        ``session_error`` when the retry fails too
other provider error        no          ``session_error`` (also any other CodexError, e.g. a
                                        credential store that cannot be read)
prompt could not be built   no          ``prompt_build_error``
answer is not a verdict     no          ``parse_error``
task cancelled              no          ``CancelledError`` propagates (the caller: aborted)
==========================  ==========  ======================================================

"Transient" is Codex's list: the provider's retryable kinds (rate limit, 5xx, transport,
stream) or an error text containing 429, 500, 502, 503, 504, capacity, connection, internal
server error, overload, rate limit, service unavailable, temporarily unavailable, timed out,
timeout, too many requests or transport. The retry's prompt says why the first attempt failed.

The client's own retry loops are switched off (``request_max_retries = stream_max_retries =
0``): the guardian's single retry is the only one, so a review's worst case stays two attempts
and "500 twice" means denied. ``text.format`` is sent with ``strict: false``: strict structured
output requires every property to be required, and the contract requires only ``outcome``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import httpx

from codex_admin.errors import CodexError
from codex_admin.guardian.prompt import ReviewPrompt, build_prompt
from codex_admin.guardian.request import ReviewRequest
from codex_admin.guardian.settings import GuardianSettings
from codex_admin.guardian.verdict import (
    OUTPUT_SCHEMA,
    FailureReason,
    ModelVerdict,
    VerdictParseError,
    parse_model_verdict,
)
from codex_admin.providers import (
    Completed,
    Credentials,
    ModelClient,
    ModelProviderError,
    ModelRequest,
    OutputItemDone,
    OutputTextDelta,
    ProviderInfo,
    output_schema_format,
)

__all__ = ["SUBAGENT_HEADER", "ModelAssessment", "ModelTier", "is_transient"]

SUBAGENT_HEADER = {"x-openai-subagent": "guardian"}
_TRANSIENT_TEXT = (
    "429", "500", "502", "503", "504", "capacity", "connection", "internal server error",
    "overload", "rate limit", "service unavailable", "temporarily unavailable", "timed out",
    "timeout", "too many requests", "transport",
)  # fmt: skip
_TRANSIENT_KINDS = frozenset({"rate_limit", "server", "transport", "stream"})
MAX_RETRY_DELAY = 5.0


def is_transient(err: ModelProviderError) -> bool:
    """Codex's availability test for the single retry (see the module docstring)."""
    if err.kind.value in _TRANSIENT_KINDS:
        return True
    text = err.message.lower()
    return any(marker in text for marker in _TRANSIENT_TEXT)


@dataclass(frozen=True)
class ModelAssessment:
    """One model-tier result: a verdict, or the failure that ended it."""

    verdict: ModelVerdict | None
    failure: FailureReason = FailureReason.NONE
    error: str | None = None
    usage: dict[str, int] | None = None
    ttft_ms: float | None = None
    action_truncated: bool = False
    attempts: int = 1


Warn = Callable[[str, str], None]  # (kind, message)


class ModelTier:
    """Asks the review model. Create once per session; ``aclose()`` when done."""

    def __init__(
        self,
        provider: ProviderInfo,
        credentials: Credentials,
        settings: GuardianSettings,
        *,
        http: httpx.AsyncClient | None = None,
        environ: Mapping[str, str] | None = None,
        respect_system_proxy: bool = False,
        originator: str = "codex_exec",
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        single = replace(provider, request_max_retries=0, stream_max_retries=0)
        self.settings = settings
        self.model = settings.model
        self._client = ModelClient(
            single,
            credentials,
            http=http,
            environ=environ,
            respect_system_proxy=respect_system_proxy,
            originator=originator,
        )
        self._sleep = sleep

    async def aclose(self) -> None:
        await self._client.aclose()

    def _request(self, prompt: ReviewPrompt, request: ReviewRequest) -> ModelRequest:
        text_format = {**output_schema_format(OUTPUT_SCHEMA), "strict": False}
        effort = self.settings.reasoning_effort
        return ModelRequest(
            model=self.model,
            input=prompt.input(),
            text={"format": text_format},
            reasoning={"effort": effort} if effort else None,
            store=False,
            prompt_cache_key=f"guardian-{request.thread_id}" if request.thread_id else None,
            session_id=request.thread_id,
            extra_headers=SUBAGENT_HEADER,
        )

    async def _attempt(
        self, model_request: ModelRequest
    ) -> tuple[str, dict[str, int] | None, float | None]:
        started = time.monotonic()
        ttft: float | None = None
        texts: list[str] = []
        usage: dict[str, int] | None = None
        events = self._client.stream(model_request)
        try:
            async for event in events:
                if isinstance(event, OutputTextDelta) and ttft is None:
                    ttft = (time.monotonic() - started) * 1000
                elif isinstance(event, OutputItemDone):
                    item = event.item
                    if item.get("type") == "message":
                        for part in item.get("content") or []:
                            if isinstance(part, dict) and part.get("type") == "output_text":
                                texts.append(str(part.get("text", "")))
                elif isinstance(event, Completed) and event.usage is not None:
                    usage = event.usage.to_json()
        finally:
            close = getattr(events, "aclose", None)
            if close is not None:  # the stream is an async generator: close it on a timeout
                await close()
        if ttft is None:
            ttft = (time.monotonic() - started) * 1000
        return "".join(texts), usage, ttft

    async def assess(self, request: ReviewRequest, warn: Warn | None = None) -> ModelAssessment:
        """Review ``request`` (see the module docstring for failures and the retry)."""
        note: str | None = None
        truncated = False
        for attempt in (1, 2):
            try:
                prompt = build_prompt(request, self.settings.policy.text, attempt_note=note)
            except (CodexError, ValueError) as err:
                return ModelAssessment(None, FailureReason.PROMPT_BUILD_ERROR, str(err))
            truncated = prompt.action_truncated
            model_request = self._request(prompt, request)
            try:
                async with asyncio.timeout(self.settings.timeout):
                    text, usage, ttft = await self._attempt(model_request)
            except TimeoutError:
                reason = f"the review did not finish within {self.settings.timeout:g} s"
                if attempt == 1:
                    if warn:
                        warn(
                            "retry",
                            f"Automatic approval review timed out; retrying once ({reason}).",
                        )
                    note = f"Note: a previous review attempt failed ({reason}); this is the retry."
                    continue
                return ModelAssessment(
                    None, FailureReason.TIMEOUT, reason, action_truncated=truncated, attempts=2
                )
            except ModelProviderError as err:
                if attempt == 1 and is_transient(err):
                    if warn:
                        warn(
                            "retry",
                            "Automatic approval review is temporarily unavailable, retrying once:"
                            f" {err.message}",
                        )
                    note = (
                        "Note: a previous review attempt failed (the review model was "
                        f"temporarily unavailable: {err.message}); this is the retry."
                    )
                    delay = err.retry_after if err.retry_after is not None else 0.2
                    await self._sleep(min(max(delay, 0.0), MAX_RETRY_DELAY))
                    continue
                return ModelAssessment(
                    None,
                    FailureReason.SESSION_ERROR,
                    err.message,
                    action_truncated=truncated,
                    attempts=attempt,
                )
            except CodexError as err:  # e.g. a credential store that cannot be read
                return ModelAssessment(
                    None,
                    FailureReason.SESSION_ERROR,
                    err.message,
                    action_truncated=truncated,
                    attempts=attempt,
                )
            try:
                verdict = parse_model_verdict(text)
            except VerdictParseError as err:
                return ModelAssessment(
                    None, FailureReason.PARSE_ERROR, err.message, usage, ttft, truncated, attempt
                )
            return ModelAssessment(
                verdict, FailureReason.NONE, None, usage, ttft, truncated, attempt
            )
        raise AssertionError("unreachable: the loop returns on its second attempt")
