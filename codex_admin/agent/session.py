"""A session (thread): turns over one conversation, driven by submissions, reported by events.

The turn loop (spec runtime §3.3): send the full history (no ``previous_response_id``), take
the authoritative output items of the completed response, run the tool calls they contain
(concurrently when the model asked for parallel calls and every called tool allows it), append
the outputs, and loop until a response has no tool calls. Tool errors the model should see are
tool outputs, never turn failures. Auto-compaction runs between requests when the context gets
too large. Everything is recorded in the rollout as it happens. Telemetry (a span per turn
and per tool call, the prompt, the results) goes through ``services.observe``
(:mod:`.observability`), and is flushed -- within its bound -- when the session closes.

Use::

    async with Session(config, services, client) as session:
        await session.submit(UserInput("fix the tests"))
        async for event in session.events():
            ...  # until TurnCompleted / TurnFailed for that input
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from codex_admin.agent.calls import ToolCall, ToolResult
from codex_admin.agent.compaction import (
    REPEATED_COMPACTION_WARNING,
    build_compacted_history,
    estimate_tokens,
    summary_from_items,
)
from codex_admin.agent.context import compact_prompt, user_message
from codex_admin.agent.events import (
    ErrorEvent,
    Event,
    ThreadStarted,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
    Usage,
)
from codex_admin.agent.lifecycle import HookStop
from codex_admin.agent.model import ModelStreamer, collect_response
from codex_admin.agent.observability import TurnObservation
from codex_admin.agent.response_items import message_text, reasoning_text
from codex_admin.agent.reviewers import TurnAborted
from codex_admin.agent.submissions import Interrupt, Shutdown, Submission, UserInput
from codex_admin.agent.tools.base import ToolRegistry
from codex_admin.agent.turn_context import SessionServices, TurnContext
from codex_admin.errors import CodexError
from codex_admin.hooks import HookBlockedError
from codex_admin.providers import ContextWindowExceeded, ModelRequest

if TYPE_CHECKING:  # annotations only: these load with their first use (start-up)
    from codex_admin.agent.rollout import RolloutWriter
    from codex_admin.providers import Retrying

__all__ = ["Session", "SessionConfig", "new_thread_id", "random_uuid"]

_END = object()
CONTEXT_WINDOW_MESSAGE = (
    "Codex ran out of room in the model's context window. Start a new session or clear "
    "earlier history before retrying."
)


def new_thread_id() -> str:
    """A new thread id: a random UUID, as Codex's (:func:`random_uuid`)."""
    return random_uuid()


def random_uuid() -> str:
    """A random (version 4) UUID in its canonical text form, as ``str(uuid.uuid4())``.

    Formatted here because the ``uuid`` module imports ``platform`` (a few milliseconds of
    every `codex exec` start-up) for its hardware-address functions, which ids never use."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # the RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass(frozen=True)
class SessionConfig:
    """What a session sends besides the conversation."""

    model: str
    instructions: str
    context: Sequence[dict[str, Any]]  # the context messages (see agent.context)
    reasoning: dict[str, Any] | None = None
    parallel_tool_calls: bool = False
    output_schema: dict[str, Any] | None = None
    auto_compact_token_limit: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Session:
    """One thread. See the module docstring for the protocol."""

    def __init__(
        self,
        config: SessionConfig,
        services: SessionServices,
        client: ModelStreamer,
        tools: ToolRegistry,
        *,
        rollout: RolloutWriter | None = None,
        history: Sequence[dict[str, Any]] | None = None,
        resumed: bool = False,
    ) -> None:
        self.config = config
        self.services = services
        self.client = client
        self.tools = tools
        self.rollout = rollout
        self.history: list[dict[str, Any]] = list(history or [])
        self._resumed = resumed
        self._events: asyncio.Queue[Event | object] = asyncio.Queue()
        self._inputs: asyncio.Queue[UserInput | object] = asyncio.Queue()
        self._turn: asyncio.Task[None] | None = None
        self._runner: asyncio.Task[None] | None = None
        self._compactions = 0
        self._stopped: str | None = None  # a SessionStart hook ended the session
        self._started = False
        self._early: list[Event] = []
        services.emit = self._emit

    @property
    def thread_id(self) -> str:
        return self.services.thread_id

    # --------------------------------------------------------------------------- the channels

    async def __aenter__(self) -> Session:
        self._emit(ThreadStarted(None, self.thread_id))
        self._started = True
        for early in self._early:
            self._emit(early)
        if not self._resumed:
            for item in self.config.context:
                self._record(dict(item))
        contexts, self._stopped = await self.services.hooks.session_start(
            "resume" if self._resumed else "startup"
        )
        self._record_hook_context(contexts)
        self._runner = asyncio.create_task(self._run_inputs())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def submit(self, submission: Submission) -> None:
        if isinstance(submission, UserInput):
            await self._inputs.put(submission)
        elif isinstance(submission, Interrupt):
            if self._turn is not None and not self._turn.done():
                self._turn.cancel()
        elif isinstance(submission, Shutdown):
            await self._inputs.put(_END)

    async def events(self) -> AsyncIterator[Event]:
        """Events as they happen, until the session closes. A turn that died of a bug ends
        the stream by raising that bug here, so a front-end never waits forever."""
        while True:
            event = await self._events.get()
            if event is _END:
                runner = self._runner
                if runner is not None and runner.done() and not runner.cancelled():
                    crash = runner.exception()
                    if crash is not None:
                        raise crash
                return
            assert isinstance(event, Event)
            yield event

    def pending_events(self) -> list[Event]:
        """The events queued and not consumed yet, without waiting (a front-end that stopped
        reading at the end of its turn collects what the session said while closing)."""
        found: list[Event] = []
        while not self._events.empty():
            event = self._events.get_nowait()
            if isinstance(event, Event):
                found.append(event)
        return found

    async def close(self) -> None:
        """Stop after the running turn, close the sandbox session (proxy) and the rollout."""
        if self._runner is not None and not self._runner.done():
            await self._inputs.put(_END)
            await self._runner
        try:
            await self.services.hooks.close()
            await self.services.sandbox.close()
        finally:
            # Export trouble is a warning, never an error of the run.
            for warning in await self.services.observe.shutdown():
                self.warn(warning)
            if self.rollout is not None:
                self.rollout.close()
            self._events.put_nowait(_END)

    def warn(self, message: str) -> None:
        """A session-level warning (before any turn), as an ``error`` item; warnings given
        before the session starts follow ``thread.started``."""
        # Here, not at the top: the items load with the first one, which a session without
        # warnings makes only once the model has answered (start-up).
        from codex_admin.agent.items import ErrorItem

        event = ErrorItem(self.services.next_item_id(), message=message).completed(None)
        if self._started:
            self._emit(event)
        else:
            self._early.append(event)

    def _emit(self, event: Event) -> None:
        if self.rollout is not None:
            self.rollout.write("event_msg", event.to_json())
        self._events.put_nowait(event)

    def _record_hook_context(self, contexts: Sequence[str]) -> None:
        for text in contexts:
            self._record(
                {
                    "type": "message",
                    "role": "developer",
                    "content": [
                        {"type": "input_text", "text": f"<hook_context>\n{text}\n</hook_context>"}
                    ],
                }
            )

    def _record(self, item: dict[str, Any]) -> None:
        self.history.append(item)
        if self.rollout is not None:
            self.rollout.write("response_item", item)

    async def _run_inputs(self) -> None:
        try:
            while True:
                submission = await self._inputs.get()
                if submission is _END:
                    return
                assert isinstance(submission, UserInput)
                self._turn = asyncio.create_task(self._run_turn(submission))
                with contextlib.suppress(asyncio.CancelledError):
                    await self._turn
                self._turn = None
        except BaseException:
            self._events.put_nowait(_END)  # wake events(), which re-raises this
            raise

    # ------------------------------------------------------------------------------ the turn

    async def _run_turn(self, submission: UserInput) -> None:
        turn_id = random_uuid()
        observe = self.services.observe
        with observe.turn(turn_id, self.config.model) as turn:
            observe.user_prompt(submission.text, submission.images)
            await self._turn_loop(submission, turn_id, turn)

    async def _turn_loop(self, submission: UserInput, turn_id: str, turn: TurnObservation) -> None:
        self._emit(TurnStarted(turn_id))
        ctx = TurnContext(self.services, turn_id, self.history, turn)
        if self._stopped is not None:
            self._fail(ctx, self._stopped)
            return
        hooks = self.services.hooks
        try:
            text, contexts = await hooks.user_prompt(submission.text, turn_id)
        except HookBlockedError as blocked:
            self._fail(ctx, f"prompt blocked by a UserPromptSubmit hook: {blocked.reason}")
            return
        prompt = user_message(text)
        prompt["content"].extend(dict(image) for image in submission.images)
        self._record(prompt)
        self._record_hook_context(contexts)
        usage = Usage()
        last_message: str | None = None
        stop_round = 0
        try:
            while True:
                response = await collect_response(
                    self.client, self._request(), lambda r: self._announce_retry(ctx, r)
                )
                usage = usage + response.usage
                turn.usage(response.usage)
                calls: list[ToolCall] = []
                for item in response.items:
                    self._record(item)
                    message = self._show(ctx, item)
                    if message is not None:
                        last_message = message
                    call = ToolCall.from_item(item)
                    if call is not None:
                        calls.append(call)
                if not calls:
                    continuation = await hooks.stop(turn_id, last_message, stop_round)
                    if continuation is None:
                        break
                    stop_round += 1
                    self._record(user_message(continuation))
                    continue
                for call, result in zip(calls, await self._dispatch(ctx, calls), strict=True):
                    self._record(result.history_item(call))
                await self._maybe_compact(ctx, response.usage, mid_turn=True)
        except asyncio.CancelledError:
            ctx.finish()
            self._emit(TurnFailed(turn_id, "turn interrupted", interrupted=True))
            raise
        except ContextWindowExceeded:
            self._fail(ctx, CONTEXT_WINDOW_MESSAGE)
            return
        except (TurnAborted, HookStop) as stopped:
            self._fail(ctx, str(stopped))
            return
        except CodexError as err:
            self._fail(ctx, err.message)
            return
        ctx.finish()
        self._emit(TurnCompleted(turn_id, usage, last_message))

    def _fail(self, ctx: TurnContext, message: str) -> None:
        ctx.observation.failed()
        ctx.finish()
        self._emit(ErrorEvent(ctx.turn_id, message))
        self._emit(TurnFailed(ctx.turn_id, message))

    def _request(
        self, *, extra_input: Sequence[dict[str, Any]] = (), tools: bool = True
    ) -> ModelRequest:
        text = None
        if self.config.output_schema is not None and tools:
            from codex_admin.providers import output_schema_format

            text = {"format": output_schema_format(self.config.output_schema)}
        return ModelRequest(
            model=self.config.model,
            input=[*self.history, *extra_input],
            instructions=self.config.instructions,
            tools=self.tools.specs() if tools else (),
            parallel_tool_calls=self.config.parallel_tool_calls and tools,
            reasoning=self.config.reasoning,
            prompt_cache_key=self.thread_id,
            text=text,
            session_id=self.thread_id,
        )

    def _announce_retry(self, ctx: TurnContext, retry: Retrying) -> None:
        reason = f" ({retry.reason})" if retry.reason else ""
        ctx.warn(f"{retry.message}{reason}")

    def _show(self, ctx: TurnContext, item: dict[str, Any]) -> str | None:
        """Emit the user-visible item for a model output item; the agent message's text."""
        # Here, not at the top: the items load with the first response (start-up); from the
        # second output item on this is a lookup.
        from codex_admin.agent.items import AgentMessageItem, ReasoningItem

        kind = item.get("type")
        if kind == "message" and item.get("role") == "assistant":
            text = message_text(item)
            ctx.observation.first_message()
            ctx.complete(AgentMessageItem(ctx.new_id(), text=text))
            return text
        if kind == "reasoning":
            text = reasoning_text(item)
            if text:
                ctx.complete(ReasoningItem(ctx.new_id(), text=text))
        return None

    async def _dispatch(self, ctx: TurnContext, calls: list[ToolCall]) -> list[ToolResult]:
        handlers = [self._handler(call) for call in calls]
        parallel = self.config.parallel_tool_calls and all(
            tool is not None and tool.parallel for tool, _ in handlers
        )
        if parallel:
            return list(await asyncio.gather(*(run(ctx) for _, run in handlers)))
        return [await run(ctx) for _, run in handlers]

    def _handler(self, call: ToolCall) -> tuple[Any, Callable[[TurnContext], Any]]:
        """The tool for ``call`` and how to run it: through the lifecycle hooks, always."""
        name = "shell" if call.kind == "local_shell" else call.name
        tool = self.tools.get(name)
        hooks = self.services.hooks
        observe = self.services.observe

        async def run(ctx: TurnContext) -> ToolResult:
            async def handle(current: ToolCall) -> ToolResult:
                if tool is None:
                    return ToolResult(f"unsupported call: {current.name}", success=False)
                result: ToolResult = await tool.handle(current, ctx)
                return result

            with observe.tool_call(name, call.call_id, call.arguments) as observed:
                result = await hooks.run_tool(call, ctx.turn_id, handle)
                observed.finished(result.output, result.success)
            return result

        return tool, run

    # ----------------------------------------------------------------------------- compaction

    async def _maybe_compact(self, ctx: TurnContext, last: Usage, *, mid_turn: bool) -> None:
        limit = self.config.auto_compact_token_limit
        if not limit:
            return
        size = max(last.total_tokens, estimate_tokens(self.history))
        if size < limit:
            return
        await self.services.hooks.pre_compact(ctx.turn_id)
        await self.compact(ctx, mid_turn=mid_turn)

    async def compact(self, ctx: TurnContext, *, mid_turn: bool) -> None:
        """Replace the history by a summary (see :mod:`.compaction`)."""
        prompt = [user_message(self.config.extra.get("compact_prompt") or compact_prompt())]
        history = list(self.history)
        while True:
            trial = replace(
                self._request(extra_input=prompt, tools=False), input=[*history, *prompt]
            )
            try:
                response = await collect_response(
                    self.client, trial, lambda r: self._announce_retry(ctx, r)
                )
                break
            except ContextWindowExceeded:
                if len(history) <= 1:
                    raise
                history.pop(0)
        summary = summary_from_items(response.items)
        replacement = build_compacted_history(
            self.history, self.config.context, summary, mid_turn=mid_turn
        )
        self.history[:] = replacement
        self._compactions += 1
        if self.rollout is not None:
            self.rollout.write(
                "compacted", {"message": summary, "replacement_history": replacement}
            )
        if self._compactions > 1:
            ctx.warn(REPEATED_COMPACTION_WARNING)
