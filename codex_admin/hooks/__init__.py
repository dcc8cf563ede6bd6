"""Lifecycle hooks: Claude-Code-compatible command hooks, managed by admins (spec §3).

Module map::

    matcher.py    `*`/empty, exact `A|B`, regex; invalid never matches
    blocked.py    HookBlockedError (alone: the turn loop catches it without the engine)
    files.py      safe reads (no symlink escape, regular files, size cap); the hooks grammar
    trust.py      the trust hash and `[hooks.state]` in $CODEX_HOME/config.toml (tomlkit, atomic)
    sources.py    whether any hook source exists (requirements, a layer table, a hooks.json)
    discovery.py  requirements + every active config layer -> HookSet (with problems)
    runner.py     `$SHELL -lc`, JSON stdin, process group, timeout, capped output
    results.py    exit code + stdout -> status, entries, effect (per event)
    outcomes.py   per-event folds -> typed outcomes the agent acts on
    engine.py     HookEngine: one async method per event; async handlers
    sample.py     `codex hooks test`

How the agent uses it (one engine per session)::

    hooks = discover_hooks(config)                 # ConfigResult from codex_admin.config
    for problem in hooks.problems:                 # untrusted/modified hooks, rejected files:
        report(problem)                            #   session start banner; exec `error` item
    engine = HookEngine(hooks, SessionInfo(session_id, cwd, model, permission_mode(...)),
                        env=session_env)           # the secret-stripped shell environment

    start = await engine.session_start("startup")  # add start.additional_contexts to the
                                                   #   model's context; apply start.env to later
                                                   #   shell commands; start.stop ends the session
    prompt = await engine.user_prompt_submit(text, turn_id=turn)
    try:
        to_send = prompt.prompt()                  # raises HookBlockedError: show .reason, do
    except HookBlockedError as blocked: ...        #   not send; contexts go to the model either way

    call = ToolCall.shell(argv, call_id)           # or ToolCall.apply_patch(patch, call_id,
    pre = await engine.pre_tool_use(call, turn_id=turn)   # files=...), ToolCall.mcp(...)
    try:
        tool_input = pre.tool_input()              # rewritten input when a hook said so
    except HookBlockedError as denied:             # any deny: the tool does not run; return
        ...                                        #   denied.reason to the model as the result
    # then execpolicy on tool_input (a rewrite is re-checked: for Bash, `command` is one shell
    # string, run as `bash -lc` like any model command); pre.additional_contexts go to the
    # model; pre.requires_approval forces the approval path. On that path, before the reviewer:
    perm = await engine.permission_request(call, turn_id=turn)
    #   DENY -> refuse with perm.reason; ALLOW -> approved without asking (apply only when
    #   perm.allowed_by_managed or the reviewer is the user); NONE -> normal reviewer flow
    post = await engine.post_tool_use(call, response, turn_id=turn)
    #   append post.feedback and post.additional_contexts to the tool result; post.stop ends
    #   the turn
    stop = await engine.stop(turn_id=turn, stop_hook_active=False, last_assistant_message=msg)
    #   stop.should_continue -> send stop.continuation as the next prompt and call stop()
    #   again with stop_hook_active=True; stop.stop ends processing
    await engine.pre_compact(trigger="auto")       # and post_compact(...)
    late = engine.take_async_results()             # async handlers' runs, at turn boundaries
    await engine.session_end(reason="other"); await engine.aclose()

Every outcome carries ``runs`` (configured order; ``HookRun.to_json`` is Codex's hook run
summary) with ``warnings`` and ``errors`` for the user. Event data reaches hooks only on stdin;
it is never interpolated into a command line. ``trust_hooks(codex_home, hooks)`` records trust
(`codex hooks trust`); ``run_sample_event`` is `codex hooks test`.

Names are resolved lazily (PEP 562): ``codex doctor`` and ``codex hooks list`` call
:func:`discover_hooks` without importing the engine (asyncio), its outcomes or the runner, and
a session asks :func:`has_hook_sources` first, so without any hook source it does not import
discovery either.
"""

from typing import TYPE_CHECKING

from codex_admin.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from codex_admin.hooks.blocked import HookBlockedError
    from codex_admin.hooks.discovery import discover_hooks
    from codex_admin.hooks.engine import (
        SHELL_TOOL_NAMES,
        HookEngine,
        SessionInfo,
        ToolCall,
        permission_mode,
    )
    from codex_admin.hooks.files import DEFAULT_TIMEOUT, MAX_HOOKS_FILE_BYTES
    from codex_admin.hooks.matcher import Matcher, MatcherKind
    from codex_admin.hooks.model import (
        FIRED_EVENTS,
        HookDefinition,
        HookProblem,
        HookSet,
        ProblemKind,
        SourceKind,
        TrustStatus,
    )
    from codex_admin.hooks.outcomes import (
        EventOutcome,
        PermissionDecision,
        PermissionRequestOutcome,
        PostToolUseOutcome,
        PreToolUseOutcome,
        SessionStartOutcome,
        StopOutcome,
        UserPromptOutcome,
    )
    from codex_admin.hooks.results import EntryKind, HookEntry, HookRun, RunStatus
    from codex_admin.hooks.runner import DEFAULT_MAX_OUTPUT
    from codex_admin.hooks.sample import SampleReport, run_sample_event
    from codex_admin.hooks.sources import HOOKS_FILE, has_hook_sources
    from codex_admin.hooks.trust import trust_hooks
    from codex_admin.vocabulary import HookEventName

_EXPORTS: dict[str, str] = {
    "HOOKS_FILE": "codex_admin.hooks.sources",
    "has_hook_sources": "codex_admin.hooks.sources",
    "discover_hooks": "codex_admin.hooks.discovery",
    "SHELL_TOOL_NAMES": "codex_admin.hooks.engine",
    "HookEngine": "codex_admin.hooks.engine",
    "SessionInfo": "codex_admin.hooks.engine",
    "ToolCall": "codex_admin.hooks.engine",
    "permission_mode": "codex_admin.hooks.engine",
    "DEFAULT_TIMEOUT": "codex_admin.hooks.files",
    "MAX_HOOKS_FILE_BYTES": "codex_admin.hooks.files",
    "Matcher": "codex_admin.hooks.matcher",
    "MatcherKind": "codex_admin.hooks.matcher",
    "FIRED_EVENTS": "codex_admin.hooks.model",
    "HookDefinition": "codex_admin.hooks.model",
    "HookProblem": "codex_admin.hooks.model",
    "HookSet": "codex_admin.hooks.model",
    "ProblemKind": "codex_admin.hooks.model",
    "SourceKind": "codex_admin.hooks.model",
    "TrustStatus": "codex_admin.hooks.model",
    "EventOutcome": "codex_admin.hooks.outcomes",
    "HookBlockedError": "codex_admin.hooks.blocked",
    "PermissionDecision": "codex_admin.hooks.outcomes",
    "PermissionRequestOutcome": "codex_admin.hooks.outcomes",
    "PostToolUseOutcome": "codex_admin.hooks.outcomes",
    "PreToolUseOutcome": "codex_admin.hooks.outcomes",
    "SessionStartOutcome": "codex_admin.hooks.outcomes",
    "StopOutcome": "codex_admin.hooks.outcomes",
    "UserPromptOutcome": "codex_admin.hooks.outcomes",
    "EntryKind": "codex_admin.hooks.results",
    "HookEntry": "codex_admin.hooks.results",
    "HookRun": "codex_admin.hooks.results",
    "RunStatus": "codex_admin.hooks.results",
    "DEFAULT_MAX_OUTPUT": "codex_admin.hooks.runner",
    "SampleReport": "codex_admin.hooks.sample",
    "run_sample_event": "codex_admin.hooks.sample",
    "trust_hooks": "codex_admin.hooks.trust",
    "HookEventName": "codex_admin.vocabulary",
}


__all__ = [
    "DEFAULT_MAX_OUTPUT",
    "DEFAULT_TIMEOUT",
    "FIRED_EVENTS",
    "HOOKS_FILE",
    "MAX_HOOKS_FILE_BYTES",
    "SHELL_TOOL_NAMES",
    "EntryKind",
    "EventOutcome",
    "HookBlockedError",
    "HookDefinition",
    "HookEngine",
    "HookEntry",
    "HookEventName",
    "HookProblem",
    "HookRun",
    "HookSet",
    "Matcher",
    "MatcherKind",
    "PermissionDecision",
    "PermissionRequestOutcome",
    "PostToolUseOutcome",
    "PreToolUseOutcome",
    "ProblemKind",
    "RunStatus",
    "SampleReport",
    "SessionInfo",
    "SessionStartOutcome",
    "SourceKind",
    "StopOutcome",
    "ToolCall",
    "TrustStatus",
    "UserPromptOutcome",
    "discover_hooks",
    "has_hook_sources",
    "permission_mode",
    "run_sample_event",
    "trust_hooks",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
