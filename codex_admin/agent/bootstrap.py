"""`open_session`: from the governance of a directory to a running, recorded session.

The one entry point a front-end calls. It resolves the model provider and its credentials,
builds the context messages (base instructions, permissions, AGENTS.md, environment), the
tools, the reviewer (the guardian for ``approvals_reviewer = "auto_review"`` under an asking
approval policy, else a refusing one for headless runs), the sandbox session with its lazily
started proxy, and the rollout -- or resumes a recorded thread. Telemetry (`[otel]`) is started
here too, and its observers are handed to the model client, the session proxy, the guardian and
the hooks (:mod:`.observability`); without an exporter none of them gets one.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codex_admin import __version__
from codex_admin.agent.context import SessionContext, base_instructions, context_messages
from codex_admin.agent.lifecycle import SessionHooks
from codex_admin.agent.observability import SessionObservability
from codex_admin.agent.reviewers import RefusingReviewer, Reviewer
from codex_admin.agent.session import Session, SessionConfig, new_thread_id
from codex_admin.agent.tools import PlanTool, ShellTool, ToolRegistry
from codex_admin.agent.tools.patch_tool import PatchTool
from codex_admin.agent.turn_context import SessionServices
from codex_admin.errors import CodexError
from codex_admin.governance import Governance
from codex_admin.instructions import DEFAULT_PROJECT_DOC_MAX_BYTES, load_instructions
from codex_admin.vocabulary import ApprovalPolicy, ApprovalsReviewer

if TYPE_CHECKING:  # annotations only: these load at run time only when a session uses them
    from codex_admin.agent.guardian_reviewer import GuardianEvents
    from codex_admin.agent.rollout import RolloutState
    from codex_admin.guardian import Guardian
    from codex_admin.providers import Credentials, ProviderInfo

__all__ = ["SessionOptions", "open_session", "session_summary"]


@dataclass(frozen=True)
class SessionOptions:
    """How a front-end wants the session: who it is, whether to record, what to return."""

    originator: str = "codex_exec"
    exec_mode: bool = True
    ephemeral: bool = False
    output_schema: dict[str, Any] | None = None
    oss: bool = False
    local_provider: str | None = None
    resume: RolloutState | None = None
    reviewer: Reviewer | None = None
    environ: Mapping[str, str] | None = None
    redact: Callable[[str], str] | None = None  # default: telemetry's Redactor + credentials
    extra: dict[str, Any] = field(default_factory=dict)


def _redactor(options: SessionOptions, secrets: list[str]) -> Callable[[str], str]:
    """Known secret shapes plus the session's own credentials never reach the rollout."""
    if options.redact is not None:
        return options.redact
    # Deferred: an ephemeral session records nothing, so it never compiles the secret shapes
    # (start-up).
    from codex_admin.telemetry import Redactor

    return Redactor(secrets)


def _instructions(config: Mapping[str, Any], cwd: Path) -> str:
    path = config.get("model_instructions_file") or config.get("experimental_instructions_file")
    if isinstance(path, str) and path:
        from codex_admin.config import read_text_file

        text = read_text_file((cwd / os.path.expanduser(path)), what="model instructions file")
        if text is None:
            raise CodexError(f"model_instructions_file {path} does not exist")
        return text
    # Codex 0.169: the `instructions` key replaces the base prompt (it is not AGENTS.md text).
    for key in ("base_instructions", "instructions"):
        value = config.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return base_instructions()


def session_summary(governance: Governance, session: Session) -> list[tuple[str, str]]:
    """The lines `codex exec` prints before the first turn (human mode)."""
    resolved = governance.config.resolved
    policy = governance.sandbox_policy()
    roots = ", ".join(["workdir", *(str(r) for r in policy.writable_roots)])
    sandbox = governance.sandbox_mode.value
    if governance.sandbox_mode.value == "workspace-write":
        sandbox += f" [{roots}]"
    return [
        ("workdir", str(governance.cwd)),
        ("model", str(session.config.model)),
        ("provider", str(resolved.get("model_provider") or "openai")),
        ("approval", governance.approval_policy.value),
        ("sandbox", sandbox),
        ("network", policy.network.value),
        ("reviewer", governance.reviewer.value),
        ("session id", session.thread_id),
    ]


@contextlib.asynccontextmanager
async def open_session(
    governance: Governance, options: SessionOptions | None = None
) -> AsyncIterator[Session]:
    """A running session for ``governance``'s directory (closed, with its proxy, on exit)."""
    # Imported here to keep start-up cheap: the model client (httpx) and the credential code
    # load when a session opens, not when a front-end imports the agent package.
    from codex_admin.auth import auth_settings
    from codex_admin.providers import (
        ModelClient,
        resolve_credentials,
        resolve_provider,
        respects_system_proxy,
    )

    options = options or SessionOptions()
    config = governance.config.config
    resolved = governance.config.resolved
    environ = options.environ if options.environ is not None else governance.environ
    provider = resolve_provider(
        config,
        provider_id=str(resolved.get("model_provider") or "openai") if not options.oss else None,
        oss=options.oss,
        local_provider=options.local_provider,
        environ=environ,
    )
    settings = auth_settings(
        config,
        codex_home=governance.codex_home,
        requirements=governance.config.requirements,
        environ=environ,
    )
    credentials = resolve_credentials(
        provider, settings, exec_mode=options.exec_mode, environ=environ
    )
    thread_id = options.resume.thread_id if options.resume else new_thread_id()
    child_environ = _without_credentials(environ, provider, credentials.secrets())
    policy = governance.sandbox_policy()
    docs = load_instructions(
        governance.cwd,
        codex_home=governance.codex_home,
        project_doc_max_bytes=_doc_budget(config),
        fallback_filenames=tuple(config.get("project_doc_fallback_filenames") or ()),
        deny_read=governance.deny_read,
    )
    session_context = SessionContext(
        cwd=governance.cwd,
        approval_policy=governance.approval_policy,
        sandbox_mode=governance.sandbox_mode,
        network=policy.network,
        writable_roots=policy.writable_roots,
        developer_instructions=_text(config.get("developer_instructions")),
        agents_message=docs.message,
    )
    session_config = SessionConfig(
        model=str(resolved.get("model")),
        instructions=_instructions(config, governance.cwd),
        context=context_messages(session_context),
        reasoning=_reasoning(config),
        parallel_tool_calls=bool(config.get("parallel_tool_calls", False)),
        output_schema=options.output_schema,
        auto_compact_token_limit=_int(config.get("model_auto_compact_token_limit")),
        extra={"compact_prompt": _text(config.get("compact_prompt"))},
    )
    observe = _observability(
        governance, options, provider, credentials, environ, thread_id, session_config.model
    )
    guarded = _guardian(governance, observe) if options.reviewer is None else None
    guardian, guardian_events = guarded if guarded is not None else (None, None)
    reviewer = options.reviewer or (
        _guardian_reviewer(guardian) if guardian is not None else RefusingReviewer()
    )
    rollout = None
    if not options.ephemeral:
        # Deferred: an ephemeral session never loads the rollout writer (start-up).
        from codex_admin.agent.rollout import RolloutWriter

        redact = _redactor(options, list(credentials.secrets()))
        if options.resume is not None:
            rollout = RolloutWriter.reopen(options.resume.path, redact=redact)
        else:
            rollout = RolloutWriter.create(governance.codex_home, thread_id, redact=redact)
            rollout.write("session_meta", _meta(governance, thread_id, options, session_config))
    proxy_options: dict[str, Any] = {}
    audit_observer = observe.audit_observer()
    if audit_observer is not None:  # every proxy allow/deny -> codex.network_proxy.*
        proxy_options["audit_observer"] = audit_observer
    try:
        async with ModelClient(
            provider,
            credentials,
            environ=environ,
            respect_system_proxy=respects_system_proxy(resolved),
            originator=options.originator,
            observer=observe.model_observer(),
        ) as client:
            services = SessionServices(
                thread_id=thread_id,
                governance=governance,
                sandbox=governance.sandbox_session(**proxy_options),
                reviewer=reviewer,
                emit=lambda event: None,
                observe=observe,
                environ=child_environ,
            )
            patch_kind = _patch_tool_kind(config, session_config.model)
            services.freeform_apply_patch = patch_kind == "freeform"
            tools = ToolRegistry(
                [
                    ShellTool(_find_heredoc, _run_intercepted_patch),
                    PatchTool(patch_kind),
                    PlanTool(),
                ]
            )
            session = Session(
                session_config,
                services,
                client,
                tools,
                rollout=rollout,
                history=options.resume.history if options.resume else None,
                resumed=options.resume is not None,
            )
            services.hooks = _session_hooks(governance, session, observe, child_environ)
            if guardian is not None:
                from codex_admin.agent.guardian_reviewer import network_decider
                from codex_admin.proxy import SessionDecider  # the proxy's policy: start-up

                # Allow-list misses become network_access reviews; the proxy remembers the
                # verdicts for the session (deny lists and managed denies are never reviewable).
                decider = network_decider(
                    guardian,
                    lambda: list(services.running),
                    lambda: session.history,
                    governance.sandbox_mode,
                    thread_id,
                )
                services.sandbox = governance.sandbox_session(
                    decider=SessionDecider(decider), **proxy_options
                )
            for warning in (*observe.take_warnings(), *docs.warnings):
                session.warn(warning)
            if guardian is not None and guardian_events is not None:
                for note in guardian.settings.policy.notes:
                    session.warn(f"guardian: {note}")
                guardian_events.attach(session.warn)
            observe.session_started(
                provider_name=provider.name,
                approval_policy=governance.approval_policy.value,
                sandbox_policy=governance.sandbox_mode.value,
                config=config,
                profile=_text(resolved.get("profile")),
                fallbacks=governance.config.fallbacks,
            )
            try:
                async with session:
                    yield session
            finally:
                if guardian is not None:
                    await guardian.aclose()
    finally:
        await observe.shutdown()  # idempotent: normally done, reported, as the session closed


def _observability(
    governance: Governance,
    options: SessionOptions,
    provider: ProviderInfo,
    credentials: Credentials,
    environ: Mapping[str, str],
    thread_id: str,
    model: str,
) -> SessionObservability:
    """The session's telemetry from the merged `[otel]` table (off, and free, without one).

    The credentials in use and the provider's header values are registered as secrets: they are
    never exported, whatever a command prints or the model writes."""
    otel = governance.config.config.get("otel")
    if otel is None:
        return SessionObservability.off()
    # Deferred: without `[otel]` a session does not even load the telemetry session code.
    from codex_admin.telemetry import SessionMeta, start_telemetry

    secrets = [
        *credentials.secrets(),
        *(value for value in provider.headers(environ).values() if len(value) >= 8),
    ]
    if provider.experimental_bearer_token:
        secrets.append(provider.experimental_bearer_token)
    source = "exec" if options.exec_mode else "cli"
    telemetry = start_telemetry(
        otel,
        codex_home=governance.codex_home,
        originator=options.originator,
        version=__version__,
        meta=SessionMeta(
            conversation_id=thread_id,
            auth_mode=_auth_mode(credentials),
            model=model,
            slug=model,
            terminal_type=environ.get("TERM", ""),
            session_source=source,
        ),
        secrets=secrets,
        environ=environ,
    )
    return SessionObservability(telemetry, credentials=credentials, session_source=source)


def _auth_mode(credentials: Credentials) -> str:
    if credentials.chatgpt:
        return "chatgpt"
    return "" if credentials.source == "none" else "apikey"


def _without_credentials(
    environ: Mapping[str, str], provider: ProviderInfo, secrets: list[str]
) -> dict[str, str]:
    """The environment commands and hooks start from: ``environ`` without the session's own
    model credentials, whatever their variables are called. The secret-name patterns of
    ``shell_environment_policy`` miss ``env_key = "LLM_GATEWAY"`` (and a user's policy may turn
    them off); a command that can read the key can hand it to a prompt injection."""
    names = {provider.env_key, *provider.env_http_headers.values()} - {None}
    values = [secret for secret in secrets if len(secret) >= 8]
    return {
        key: value
        for key, value in environ.items()
        if key not in names and not any(secret in value for secret in values)
    }


def _session_hooks(
    governance: Governance,
    session: Session,
    observe: SessionObservability,
    environ: Mapping[str, str],
) -> SessionHooks:
    """The hooks in force for this directory, every problem reported (never skipped silently),
    running with the session's secret-stripped environment."""
    from codex_admin.hooks import has_hook_sources

    is_user = governance.reviewer is ApprovalsReviewer.USER
    if not has_hook_sources(governance.config):
        # No hook, problem or warning to find: discovery (the hooks grammar, models and trust
        # store) is not even imported (start-up).
        return SessionHooks(None, session.warn, reviewer_is_user=is_user, observe=observe)
    from codex_admin.hooks import discover_hooks

    hooks = discover_hooks(governance.config)
    for warning in hooks.warnings:
        session.warn(f"hooks: {warning}")
    for problem in hooks.problems:
        session.warn(f"hooks: {problem}")
    engine = None
    if hooks.runnable:
        # The engine (and its runner and outcomes) only when a hook is in force: start-up.
        from codex_admin.hooks import HookEngine, SessionInfo, permission_mode
        from codex_admin.sandbox import build_child_env

        env = build_child_env(governance.sandbox_policy().env, environ)
        info = SessionInfo(
            session.thread_id,
            governance.cwd,
            model=session.config.model,
            permission_mode=permission_mode(
                governance.approval_policy.value, governance.sandbox_mode.value
            ),
            transcript_path=session.rollout.path if session.rollout is not None else None,
        )
        engine = HookEngine(hooks, info, env=env)
    return SessionHooks(engine, session.warn, reviewer_is_user=is_user, observe=observe)


def _guardian_reviewer(guardian: Guardian) -> Reviewer:
    # The guardian (prompts, model tier, rule table) is imported only for an auto-reviewed
    # session: it is a third of `codex exec`'s start-up otherwise.
    from codex_admin.agent.guardian_reviewer import GuardianReviewer

    return GuardianReviewer(guardian)


def _guardian(
    governance: Governance, observe: SessionObservability
) -> tuple[Guardian, GuardianEvents] | None:
    """The guardian, when it answers approvals: ``auto_review`` under ``on-request`` (or a
    granular policy). Under ``never``/``untrusted``/``on-failure`` it is never consulted. Its
    warnings become session warnings once the session attaches to the events, and its
    assessments are exported as ``codex.guardian.review``."""
    if (
        not governance.reviewer.is_auto
        or governance.approval_policy is not ApprovalPolicy.ON_REQUEST
    ):
        return None
    # Imported only for an auto-reviewed session (start-up cost, see _guardian_reviewer).
    from codex_admin.agent.guardian_reviewer import GuardianEvents
    from codex_admin.guardian import guardian_from_config

    roots = tuple(str(r) for r in governance.sandbox_policy().writable_roots)
    events = GuardianEvents(observe.guardian_sink())
    guardian = guardian_from_config(
        governance.config,
        workspace_roots=(str(governance.cwd), *roots),
        on_event=events,
    )
    return guardian, events


def _patch_tool_kind(config: Mapping[str, Any], model: str) -> str:
    """Freeform (grammar) apply_patch for models that take it; the function tool otherwise
    (gpt-oss and local models), or as `experimental_use_freeform_apply_patch` says."""
    explicit = config.get("experimental_use_freeform_apply_patch")
    if isinstance(explicit, bool):
        return "freeform" if explicit else "function"
    return "function" if model.startswith(("gpt-oss", "oss")) else "freeform"


def _find_heredoc(argv: list[str]) -> tuple[str, str | None] | None:
    # Deferred: the recogniser (tree-sitter-bash, the patch parser) loads with the first
    # shell call, not at start-up.
    from codex_admin.apply_patch import detect_invocation

    invocation = detect_invocation(argv)
    if invocation is None:
        return None
    return invocation.patch, invocation.workdir


async def _run_intercepted_patch(ctx: Any, text: str, workdir: Path) -> Any:
    # Deferred: the patch engine loads with the first patch (start-up cost).
    from codex_admin.agent.tools.patch import apply_patch_governed

    return await apply_patch_governed(ctx, text, workdir)


def _meta(
    governance: Governance, thread_id: str, options: SessionOptions, config: SessionConfig
) -> dict[str, Any]:
    return {
        "id": thread_id,
        "cwd": str(governance.cwd),
        "originator": options.originator,
        "cli_version": __version__,
        "source": "exec" if options.exec_mode else "cli",
        "model_provider": governance.config.resolved.get("model_provider"),
        "model": config.model,
        "approval_policy": governance.approval_policy.value,
        "sandbox_mode": governance.sandbox_mode.value,
    }


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _doc_budget(config: Mapping[str, Any]) -> int:
    """`project_doc_max_bytes` (0 disables project docs); Codex's 32 KiB when unset."""
    value = config.get("project_doc_max_bytes")
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return DEFAULT_PROJECT_DOC_MAX_BYTES


def _reasoning(config: Mapping[str, Any]) -> dict[str, Any] | None:
    effort = config.get("model_reasoning_effort")
    summary = config.get("model_reasoning_summary")
    if effort is None and summary is None:
        return None
    data: dict[str, Any] = {}
    if effort is not None and effort != "none":
        data["effort"] = effort
    if summary is not None and summary != "none":
        data["summary"] = summary
    return data or None


def json_schema_file(path: Path) -> dict[str, Any]:
    """An ``--output-schema`` file (exit 1 with a clear message when unreadable or invalid)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise CodexError(f"Failed to read output schema file {path}: {err}") from None
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as err:
        raise CodexError(
            f"Output schema file {path} is not valid JSON: {err.msg} at line {err.lineno} "
            f"column {err.colno}"
        ) from None
    if not isinstance(schema, dict):
        raise CodexError(f"Output schema file {path} must contain a JSON object")
    return schema
