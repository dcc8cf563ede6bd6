"""`ModelClient`: one provider, one credential source, a stream of typed events per request.

The thin I/O edge around the sans-IO parts (:mod:`.sse`, :mod:`.responses_wire`,
:mod:`.chat_wire`). Retry policy, as Codex:

* **Request retries** (``request_max_retries``, default 4): HTTP 5xx and transport errors
  (connection refused/reset, timeouts) before the stream starts. Not 429, not other 4xx, not a
  TLS certificate failure (retrying cannot fix those).
* **Stream retries** (``stream_max_retries``, default 5): retryable errors once the request was
  accepted -- the stream closed before ``response.completed``, no event for
  ``stream_idle_timeout_ms``, ``response.failed`` of a retryable class, 429 rate limits.
* Delay before retry *n*: the server's ("try again in 1.5s", ``Retry-After``) when it gave one,
  else 200 ms × 2^(n−1) with ±10 % jitter. Each retry is announced with a :class:`Retrying`
  event *before* the wait.
* 401/403: the credential source may refresh once (ChatGPT tokens, an ``auth`` command); then
  :class:`AuthenticationFailed` ("authentication failed for provider X (HTTP 401)").

Headers: ``Authorization`` from the credentials, ``chatgpt-account-id`` for a ChatGPT login,
``originator``, ``session-id`` / ``thread-id`` / ``x-client-request-id`` (as Codex 0.169), the
provider's ``http_headers`` / ``env_http_headers`` and the
request's ``extra_headers``. Nothing here prints or logs; secrets are redacted from every error.

Telemetry: an optional ``observer`` (:mod:`.observer`) hears about every HTTP attempt and every
server-sent event; without one the client does no extra work.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from codex_admin import __version__
from codex_admin.providers.credentials import Credentials
from codex_admin.providers.errors import (
    AuthenticationFailed,
    InvalidResponse,
    ModelProviderError,
    ProviderConfigError,
    RequestRejected,
    ServerError,
    StreamError,
    TransportError,
    redact,
)
from codex_admin.providers.http import build_http_client
from codex_admin.providers.httpx_lib import httpx
from codex_admin.providers.info import ProviderInfo, WireApi
from codex_admin.providers.request import ModelRequest

if TYPE_CHECKING:
    # The stream's side -- the event types (a dozen dataclasses), the SSE decoder and the wire
    # parsers -- is imported when a response arrives (or a retry is announced), while the
    # model works: not before the first request goes out (start-up, issue 14).
    from codex_admin.providers.chat_wire import ChatParser
    from codex_admin.providers.events import RateLimitSnapshot, ResponseEvent, Retrying
    from codex_admin.providers.observer import ModelObserver
    from codex_admin.providers.responses_wire import ResponsesParser
    from codex_admin.providers.sse import SSEEvent

__all__ = ["ModelClient", "backoff_delay"]

BASE_DELAY = 0.2
_MAX_ERROR_BODY = 64 * 1024
_CHAT_TRAILER_GRACE = 2.0  # after a chat finish_reason, wait this long for usage / [DONE]
_MAX_OBSERVED_ERROR = 512  # characters of an error body an observer is given
_AUTH_HEADERS = frozenset({"authorization", "api-key", "x-api-key"})
_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-oai-request-id")


def backoff_delay(attempt: int, rand: Callable[[], float] = random.random) -> float:
    """200 ms × 2^(attempt−1), ±10 % jitter (``rand`` returns [0, 1))."""
    return float(BASE_DELAY * (2 ** (attempt - 1)) * (0.9 + 0.2 * rand()))


def _rate_limits(headers: httpx.Headers) -> RateLimitSnapshot | None:
    from codex_admin.providers.events import RateLimitSnapshot, RateLimitWindow  # see above

    def window(prefix: str) -> RateLimitWindow | None:
        used = headers.get(f"x-codex-{prefix}-used-percent")
        if used is None:
            return None
        try:
            percent = float(used)
        except ValueError:
            return None
        minutes = headers.get(f"x-codex-{prefix}-window-minutes")
        reset_at = headers.get(f"x-codex-{prefix}-reset-at")
        reset_after = headers.get(f"x-codex-{prefix}-reset-after-seconds")
        resets: int | None = None
        if reset_at and reset_at.strip().isdigit():
            resets = int(reset_at)
        elif reset_after and reset_after.strip().isdigit():
            resets = int(time.time()) + int(reset_after)
        return RateLimitWindow(
            percent, int(minutes) if minutes and minutes.strip().isdigit() else None, resets
        )

    primary, secondary = window("primary"), window("secondary")
    if primary is None and secondary is None:
        return None
    return RateLimitSnapshot(primary, secondary)


def _certificate_failure(err: BaseException) -> bool:
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class ModelClient:
    """Streams model responses from one provider. Use as ``async with ModelClient(...)``.

    ``http`` injects an ``httpx.AsyncClient`` (else one is built for the provider's URL with
    the custom CA and proxy policy); ``sleep`` and ``rand`` make retry timing testable;
    ``observer`` receives :class:`ApiAttempt` / :class:`SseObservation` reports (telemetry).
    """

    def __init__(
        self,
        provider: ProviderInfo,
        credentials: Credentials,
        *,
        http: httpx.AsyncClient | None = None,
        environ: Mapping[str, str] | None = None,
        respect_system_proxy: bool = False,
        originator: str = "codex_exec",
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
        observer: ModelObserver | None = None,
    ) -> None:
        self.provider = provider
        self.credentials = credentials
        self._environ = dict(os.environ if environ is None else environ)
        self.endpoint = provider.endpoint(chatgpt=credentials.chatgpt)
        self._http = http or build_http_client(
            self.endpoint, environ=self._environ, respect_system_proxy=respect_system_proxy
        )
        self._owns_http = http is None
        self._originator = originator
        self._sleep = sleep
        self._rand = rand
        self._clock = clock
        self._observer = observer

    def __repr__(self) -> str:
        return f"ModelClient(provider={self.provider.id!r}, endpoint={self.endpoint!r})"

    async def __aenter__(self) -> ModelClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    # ------------------------------------------------------------------------------ request

    def body(self, request: ModelRequest) -> dict[str, Any]:
        """The JSON body this client sends for ``request`` on its wire."""
        if self.provider.wire_api is WireApi.CHAT:
            from codex_admin.providers.chat_wire import chat_body  # the Chat wire only

            return chat_body(request)
        return request.responses_body(default_store=self.provider.is_azure)

    def _secrets(self) -> list[str]:
        values = list(self.credentials.secrets())
        values += [v for v in self.provider.headers(self._environ).values() if len(v) >= 8]
        if self.provider.experimental_bearer_token:
            values.append(self.provider.experimental_bearer_token)
        return values

    async def _headers(self, request: ModelRequest) -> dict[str, str]:
        headers = {
            "Accept": "text/event-stream",
            "originator": self._originator,
            "User-Agent": f"{self._originator}/{__version__} (codex-admin)",
        }
        headers.update(self.provider.headers(self._environ))
        if request.session_id:
            headers["session-id"] = request.session_id
            headers["x-client-request-id"] = request.session_id
        if request.thread_id or request.session_id:
            headers["thread-id"] = request.thread_id or request.session_id or ""
        headers.update(request.extra_headers)
        headers.update(await self.credentials.headers(self._http))
        return headers

    def _name(self) -> str:
        return (
            self.provider.name
            if self.provider.name == self.provider.id
            else (f"{self.provider.name} ({self.provider.id})")
        )

    async def _error_text(self, response: httpx.Response) -> str:
        data = b""
        try:
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) >= _MAX_ERROR_BODY:
                    break
        except httpx.HTTPError:
            pass
        finally:
            await response.aclose()
        return data[:_MAX_ERROR_BODY].decode("utf-8", errors="replace")

    def _http_error(self, response: httpx.Response, text: str) -> ModelProviderError:
        status = response.status_code
        secrets = self._secrets()
        error: Any = None
        try:
            parsed = json.loads(text)
            error = parsed.get("error", parsed) if isinstance(parsed, dict) else None
        except ValueError:
            error = None
        message = (
            redact(str(error.get("message")), secrets)
            if isinstance(error, dict) and error.get("message")
            else redact(text, secrets) or response.reason_phrase
        )
        pid = self.provider.id
        if status in (401, 403):
            return AuthenticationFailed(
                f"authentication failed for provider {self._name()} (HTTP {status}): {message}",
                hint=self._auth_hint(),
                status=status,
                provider=pid,
            )
        if status == 429 or (
            isinstance(error, dict)
            and (error.get("code") or error.get("type"))
            in ("context_length_exceeded", "insufficient_quota", "usage_not_included")
        ):
            from codex_admin.providers.responses_wire import classify_error  # an error only

            return classify_error(
                error if isinstance(error, dict) else {"message": message},
                provider=pid,
                secrets=secrets,
                status=status,
                retry_after_header=response.headers.get("retry-after"),
            )
        if status >= 500:
            return ServerError(
                f"exceeded retry limit, last status: {status} {response.reason_phrase}: {message}",
                status=status,
                provider=pid,
            )
        return RequestRejected(
            f"provider {self._name()} rejected the request (HTTP {status}): {message}",
            status=status,
            provider=pid,
        )

    def _auth_hint(self) -> str:
        provider = self.provider
        source = self.credentials.source
        if provider.env_key:
            return f"check the API key in {provider.env_key}"
        if provider.command_auth:
            return f"check the token printed by {provider.command_auth.command!r}"
        if source.startswith("env:"):
            return f"check the API key in {source[4:]}"
        if provider.requires_openai_auth:
            return "run `codex login` again (or check OPENAI_API_KEY)"
        return f"configure credentials for [model_providers.{provider.id}] (env_key or auth)"

    def _observe_attempt(
        self,
        number: int,
        started: float,
        headers: Mapping[str, str],
        response: httpx.Response | None,
        error: str | None,
    ) -> None:
        observer = self._observer
        if observer is None:
            return
        # Imported here, like the stream's side: a report is built only once an attempt is over.
        from codex_admin.providers.observer import ApiAttempt

        auth = next((name for name in headers if name.lower() in _AUTH_HEADERS), None)
        request_id = None
        if response is not None:
            request_id = next(
                (response.headers[h] for h in _REQUEST_ID_HEADERS if h in response.headers), None
            )
        observer.on_attempt(
            ApiAttempt(
                attempt=number,
                duration_ms=(self._clock() - started) * 1000.0,
                endpoint=self.endpoint,
                status_code=response.status_code if response is not None else None,
                error=error[:_MAX_OBSERVED_ERROR] if error is not None else None,
                auth_header_attached=auth is not None,
                auth_header_name=auth,
                request_id=request_id,
            )
        )

    async def _open(
        self, request: ModelRequest, result: list[httpx.Response], attempts: Iterator[int]
    ) -> AsyncIterator[Retrying]:
        """POST with request-level retries, yielding their announcements; the accepted
        response is appended to ``result``. ``attempts`` numbers the HTTP attempts."""
        body = self.body(request)
        limit = self.provider.request_max_retries
        attempt = 0
        refreshed = False
        while True:
            headers = await self._headers(request)
            number, started = next(attempts), self._clock()
            try:
                response = await self._send(
                    self._http.build_request("POST", self.endpoint, json=body, headers=headers)
                )
            except httpx.UnsupportedProtocol as err:
                raise ProviderConfigError(
                    f"cannot send to {self.endpoint}: {err}", provider=self.provider.id
                ) from None
            except httpx.LocalProtocolError as err:
                # e.g. a CR/LF in a header value (from env_http_headers): never retried, never
                # sent -- h11 refuses to put it on the wire, so no header can be smuggled
                raise ProviderConfigError(
                    f"cannot build the request to provider {self._name()}: "
                    + redact(str(err), self._secrets()),
                    hint="check http_headers / env_http_headers values for line breaks",
                    provider=self.provider.id,
                ) from None
            except httpx.TransportError as err:
                reason = redact(f"{type(err).__name__}: {err}", self._secrets())
                self._observe_attempt(number, started, headers, None, reason)
                if _certificate_failure(err):
                    raise TransportError(
                        f"TLS certificate of {self.endpoint} could not be verified: {reason}",
                        hint="if a gateway inspects TLS, point CODEX_CA_CERTIFICATE at its CA"
                        " certificate (PEM)",
                        provider=self.provider.id,
                    ) from None
                if attempt >= limit:
                    raise TransportError(
                        f"cannot reach provider {self._name()} at {self.endpoint}: {reason}",
                        hint="check that the server is running and base_url is right",
                        provider=self.provider.id,
                    ) from None
                attempt += 1
                retry = _retrying(
                    attempt, limit, self._backoff(attempt), reason, "transport", "request"
                )
                yield retry
                await self._sleep(retry.delay)
                continue
            status = response.status_code
            if 200 <= status < 300:
                self._observe_attempt(number, started, headers, response, None)
                result.append(response)
                return
            text = await self._error_text(response)
            if self._observer is not None:
                error = redact(text, self._secrets()) or f"HTTP {status} {response.reason_phrase}"
                self._observe_attempt(number, started, headers, response, error)
            if status in (401, 403) and not refreshed:
                refreshed = True
                if await self.credentials.on_unauthorized(self._http):
                    continue
            if status >= 500 and attempt < limit:
                attempt += 1
                reason = f"HTTP {status} {response.reason_phrase}"
                retry = _retrying(
                    attempt, limit, self._backoff(attempt), reason, "server", "request"
                )
                yield retry
                await self._sleep(retry.delay)
                continue
            raise self._http_error(response, text)

    async def _send(self, request: httpx.Request) -> httpx.Response:
        """Send and wait for the response head, at most ``stream_idle_timeout`` (the client has
        no read timeout of its own: the stream's idle timeout bounds every wait for the model,
        and a server that takes the request but never answers is such a wait). Timing out is a
        transport failure, retried like one."""
        idle = self.provider.stream_idle_timeout
        try:
            async with asyncio.timeout(idle):
                return await self._http.send(request, stream=True)
        except TimeoutError:
            raise httpx.ReadTimeout(f"no response within {idle:g} s", request=request) from None

    def _backoff(self, attempt: int) -> float:
        return backoff_delay(attempt, self._rand)

    # ------------------------------------------------------------------------------ stream

    async def stream(self, request: ModelRequest) -> AsyncIterator[ResponseEvent]:
        """Send ``request``; yield typed events until :class:`Completed` (see module doc)."""
        limit = self.provider.stream_max_retries
        attempt = 0
        attempts = itertools.count(1)
        while True:
            try:
                async for event in self._attempt(request, attempts):
                    yield event
                return
            except ModelProviderError as err:
                if not err.retryable or attempt >= limit:
                    raise
                attempt += 1
                delay = err.retry_after if err.retry_after is not None else self._backoff(attempt)
                yield _retrying(attempt, limit, delay, err.message, err.kind.value, "stream")
                await self._sleep(delay)

    async def _attempt(
        self, request: ModelRequest, attempts: Iterator[int]
    ) -> AsyncIterator[ResponseEvent]:
        result: list[httpx.Response] = []
        async for retrying in self._open(request, result, attempts):
            yield retrying
        response = result[0]
        tracker = _SseTracker(self._observer, self._clock) if self._observer else None
        try:
            async for event in self._events(response, tracker):
                yield event
        except ModelProviderError as err:
            if tracker is not None:
                tracker.failed(err)
            raise
        finally:
            await response.aclose()

    async def _events(
        self, response: httpx.Response, tracker: _SseTracker | None
    ) -> AsyncIterator[ResponseEvent]:
        pid = self.provider.id
        ctype = response.headers.get("content-type", "")
        if "text/event-stream" not in ctype.lower():
            text = await self._error_text(response)
            snippet = redact(text, self._secrets())[:200]
            raise InvalidResponse(
                f"provider {self._name()} did not answer with an event stream (HTTP"
                f" {response.status_code}, Content-Type: {ctype or 'none'})"
                + (f": {snippet}" if snippet else ""),
                hint=f"check that {self.endpoint} is an OpenAI-compatible API endpoint",
                status=response.status_code,
                provider=pid,
            )
        # With the first response (see the imports at the top of this module).
        from codex_admin.providers.chat_wire import ChatParser
        from codex_admin.providers.events import RateLimits
        from codex_admin.providers.responses_wire import ResponsesParser
        from codex_admin.providers.sse import SSEDecoder, SSEError

        snapshot = _rate_limits(response.headers)
        if snapshot is not None:
            yield RateLimits(snapshot)
        decoder = SSEDecoder()
        parser: ResponsesParser | ChatParser
        if self.provider.wire_api is WireApi.CHAT:
            parser = ChatParser(pid, self._secrets)
        else:
            parser = ResponsesParser(pid, self._secrets)
        idle = self.provider.stream_idle_timeout
        chunks = response.aiter_bytes().__aiter__()
        deadline = self._clock() + idle
        while True:
            finishing = isinstance(parser, ChatParser) and parser.finish_seen
            wait = max(0.0, deadline - self._clock())
            if finishing:
                wait = min(wait, _CHAT_TRAILER_GRACE)
            try:
                # scoped to the read: a timeout must never fire in the consumer's code
                async with asyncio.timeout(wait):
                    chunk = await chunks.__anext__()
            except StopAsyncIteration:
                break
            except TimeoutError:
                if finishing and isinstance(parser, ChatParser):
                    for event in _finish(parser, tracker):
                        yield event
                    return
                raise StreamError(
                    f"idle timeout waiting for SSE from provider {self._name()}"
                    f" (no event for {idle:g} s)",
                    hint=f"raise [model_providers.{pid}] stream_idle_timeout_ms if the model is"
                    " slow to start",
                    provider=pid,
                ) from None
            except httpx.TransportError as err:
                raise StreamError(
                    "stream disconnected before completion: "
                    + redact(f"{type(err).__name__}: {err}", self._secrets()),
                    provider=pid,
                ) from None
            try:
                sse_events = decoder.feed(chunk)
            except SSEError as err:
                raise InvalidResponse(
                    f"malformed event stream from provider {self._name()}: {err}", provider=pid
                ) from None
            if sse_events:
                deadline = self._clock() + idle
            for sse in sse_events:
                for event in parser.feed(sse) if tracker is None else tracker.feed(parser, sse):
                    yield event
                if parser.done:
                    return
        try:
            tail = decoder.close()
        except SSEError as err:
            raise InvalidResponse(
                f"malformed event stream from provider {self._name()}: {err}", provider=pid
            ) from None
        for sse in tail:
            for event in parser.feed(sse) if tracker is None else tracker.feed(parser, sse):
                yield event
            if parser.done:
                return
        if isinstance(parser, ChatParser):
            for event in _finish(parser, tracker):
                yield event
            return
        raise StreamError("stream closed before response.completed", provider=pid)


def _retrying(
    attempt: int, limit: int, delay: float, reason: str, kind: str, scope: str
) -> Retrying:
    """The announcement of a retry (the event types load with the first one, see above)."""
    from codex_admin.providers.events import Retrying

    return Retrying(attempt, limit, delay, reason, kind, scope)


def _finish(parser: ChatParser, tracker: _SseTracker | None) -> list[ResponseEvent]:
    """The Chat wire's end of stream (no ``[DONE]``): flush, and report it as ``done``."""
    events = parser.finish()
    if tracker is not None:
        tracker.report("done", events)
    return events


class _SseTracker:
    """Reports each server-sent event to the observer: kind, time since the previous one,
    usage on completion, and the failure that ended the stream (once)."""

    __slots__ = ("_clock", "_failed", "_last", "_observer", "_report")

    def __init__(self, observer: ModelObserver, clock: Callable[[], float]) -> None:
        # Imported here, like the stream's side: a tracker exists once a response has arrived.
        from codex_admin.providers.observer import SseObservation

        self._report = SseObservation
        self._observer = observer
        self._clock = clock
        self._last = clock()
        self._failed = False

    def _elapsed_ms(self) -> float:
        now = self._clock()
        elapsed, self._last = (now - self._last) * 1000.0, now
        return elapsed

    def feed(self, parser: ResponsesParser | ChatParser, sse: SSEEvent) -> list[ResponseEvent]:
        try:
            events = parser.feed(sse)
        except ModelProviderError as err:
            self._failed = True
            kind = parser.last_kind or "unknown"
            self._observer.on_sse(self._report(kind, self._elapsed_ms(), err.message))
            raise
        self.report(parser.last_kind or "unknown", events)
        return events

    def report(self, kind: str, events: list[ResponseEvent]) -> None:
        from codex_admin.providers.events import Completed  # loaded: events were parsed

        usage = next((e.usage for e in events if isinstance(e, Completed)), None)
        self._observer.on_sse(self._report(kind, self._elapsed_ms(), None, usage))

    def failed(self, err: ModelProviderError) -> None:
        """The stream failed outside an event (idle timeout, closed early, transport)."""
        if not self._failed:
            self._failed = True
            self._observer.on_sse(self._report("unknown", self._elapsed_ms(), err.message))
