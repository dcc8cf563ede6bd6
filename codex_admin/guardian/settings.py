"""What configuration says about the guardian: its policy text (with sources), model, timeout.

Policy composition (spec guardian_otel_hooks §1.4 "Overrides"; managed wins):

1. the tenant section is the built-in ``prompts/tenant_policy.md``, replaced by
   ``guardian_policy_config`` from requirements when an administrator set it, else by
   ``[auto_review] policy`` from the user's own config;
2. ``[auto_review] extra_policy`` is appended -- unless requirements replaced the tenant
   section: then local text is ignored (a note says so), because appended text can loosen as
   easily as it can tighten;
3. requirements' ``guardian_extra_policy`` is appended last;
4. the result is substituted into ``prompts/policy_template.md`` and the output contract is
   appended.

``[auto_review]`` never comes from a project's `.codex/config.toml` (the config loader strips
it: a repository must not rewrite its own reviewer). The review model defaults to the session's
model; the timeout to :data:`DEFAULT_TIMEOUT` (90 s, Codex's ``GUARDIAN_REVIEW_TIMEOUT``);
reasoning effort is ``low`` when the config sets ``model_reasoning_effort`` (the model
reasons), else no ``reasoning`` field is sent.

Failure policy: a review that *fails* (no model, provider error, timeout, unparseable answer)
denies -- unless requirements set ``allow_guardian_fail_open = true``, which approves it instead
(``decided_by: "fail_open"``). Only requirements (MDM, ``requirements.toml``, a remote bundle)
are read for it: a user's or project's config, a ``-c`` flag or the environment would let the
agent's side of the boundary switch its own reviewer off.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from codex_admin.config import ConfigResult
from codex_admin.errors import CodexError

__all__ = [
    "DEFAULT_TIMEOUT",
    "GuardianPolicy",
    "GuardianSettings",
    "PolicyPart",
    "compose_policy",
    "guardian_settings",
]

DEFAULT_TIMEOUT = 90.0
BUILT_IN = "built-in"
_TENANT_SLOT = "{tenant_policy_config}"

OUTPUT_CONTRACT = """\
## Answer format

Reply with a single JSON object and nothing else:
{"risk_level": "low" | "medium" | "high" | "critical",
 "user_authorization": "unknown" | "low" | "medium" | "high",
 "outcome": "allow" | "deny",
 "rationale": "one concise sentence"}
Only "outcome" is required. For a plainly low-risk action {"outcome": "allow"} is enough; for
anything else give the risk, the authorization and a one-sentence rationale."""


@lru_cache(maxsize=4)
def _prompt(name: str) -> str:
    try:
        return (
            resources.files("codex_admin.guardian")
            .joinpath(f"prompts/{name}")
            .read_text(encoding="utf-8")
        )
    except OSError as err:
        raise CodexError(
            f"the guardian prompt {name} cannot be read: {err}",
            hint="reinstall codex-admin (package data codex_admin/guardian/prompts/)",
        ) from None


@dataclass(frozen=True)
class PolicyPart:
    name: str  # template | tenant_policy | extra_policy | managed_extra_policy | output_contract
    source: str  # "built-in", "requirements: PATH", "config: LAYER"
    text: str

    def to_json(self) -> dict[str, str]:
        return {"part": self.name, "source": self.source, "text": self.text}


@dataclass(frozen=True)
class GuardianPolicy:
    """The reviewer's developer message, part by part, with where each part came from."""

    parts: tuple[PolicyPart, ...]
    notes: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        by_name = {p.name: p for p in self.parts}
        tenant = "\n\n".join(
            p.text.strip()
            for p in self.parts
            if p.name in ("tenant_policy", "extra_policy", "managed_extra_policy")
        )
        template = by_name["template"].text.strip()
        contract = by_name["output_contract"].text.strip()
        return template.replace(_TENANT_SLOT, tenant) + "\n\n" + contract + "\n"

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "parts": [p.to_json() for p in self.parts],
            "notes": list(self.notes),
        }


Sourced = tuple[str, str]  # (text, source)


def _clean(value: Sourced | None) -> Sourced | None:
    if value is None or not value[0].strip():
        return None
    return (value[0].strip(), value[1])


def compose_policy(
    *,
    managed_policy: Sourced | None = None,
    managed_extra: Sourced | None = None,
    local_policy: Sourced | None = None,
    local_extra: Sourced | None = None,
) -> GuardianPolicy:
    """Combine the policy sources (see the module docstring for the precedence)."""
    managed_policy, managed_extra = _clean(managed_policy), _clean(managed_extra)
    local_policy, local_extra = _clean(local_policy), _clean(local_extra)
    parts = [PolicyPart("template", BUILT_IN, _prompt("policy_template.md"))]
    notes: list[str] = []
    if managed_policy is not None:
        parts.append(PolicyPart("tenant_policy", managed_policy[1], managed_policy[0]))
        for name, value in (("policy", local_policy), ("extra_policy", local_extra)):
            if value is not None:
                notes.append(
                    f"[auto_review] {name} from {value[1]} is ignored: requirements set"
                    " guardian_policy_config, and managed policy wins"
                )
    else:
        if local_policy is not None:
            parts.append(PolicyPart("tenant_policy", local_policy[1], local_policy[0]))
        else:
            parts.append(PolicyPart("tenant_policy", BUILT_IN, _prompt("tenant_policy.md")))
        if local_extra is not None:
            parts.append(PolicyPart("extra_policy", local_extra[1], local_extra[0]))
    if managed_extra is not None:
        parts.append(PolicyPart("managed_extra_policy", managed_extra[1], managed_extra[0]))
    parts.append(PolicyPart("output_contract", BUILT_IN, OUTPUT_CONTRACT))
    return GuardianPolicy(tuple(parts), tuple(notes))


@dataclass(frozen=True)
class GuardianSettings:
    """``fail_open``: a failed review approves (requirements' ``allow_guardian_fail_open``);
    ``fail_open_source`` names the requirements source that set the key (true or false)."""

    policy: GuardianPolicy
    model: str
    timeout: float = DEFAULT_TIMEOUT
    reasoning_effort: str | None = None
    fail_open: bool = False
    fail_open_source: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The settings `codex guardian policy show --json` reports besides the policy."""
        return {
            "model": self.model,
            "timeout_seconds": self.timeout,
            "reasoning_effort": self.reasoning_effort,
            "allow_guardian_fail_open": self.fail_open,
            "allow_guardian_fail_open_source": self.fail_open_source,
        }


def _layer_source(result: ConfigResult, key: str) -> str:
    origin = result.origins.get(key, "config")
    for layer in result.layers:
        if layer.name == origin and layer.path is not None:
            return f"config: {layer.path}"
    return f"config: {origin}"


def guardian_settings(result: ConfigResult) -> GuardianSettings:
    """The guardian's settings for one effective configuration."""
    table = result.config.get("auto_review") or {}
    requirements = result.requirements

    def managed(name: str) -> Sourced | None:
        value = requirements.value(name)
        if isinstance(value, str):
            return (value, f"requirements: {requirements.source(name)}")
        return None

    def local(name: str) -> Sourced | None:
        value = table.get(name)
        if isinstance(value, str):
            return (value, _layer_source(result, f"auto_review.{name}"))
        return None

    policy = compose_policy(
        managed_policy=managed("guardian_policy_config"),
        managed_extra=managed("guardian_extra_policy"),
        local_policy=local("policy"),
        local_extra=local("extra_policy"),
    )
    model = table.get("model") or result.resolved.get("model") or result.config.get("model")
    timeout = table.get("timeout_seconds")
    # Codex reviews with effort "low" when the model reasons; a configured effort says it does
    # (sending `reasoning` to a model without it is a 400, which would fail every review closed)
    effort = "low" if result.config.get("model_reasoning_effort") not in (None, "none") else None
    # Requirements only, never `result.config` (see the module docstring); `is True`: the
    # loader checked the type, and anything but an explicit true keeps failing closed.
    fail_open = requirements.value("allow_guardian_fail_open") is True
    return GuardianSettings(
        policy=policy,
        model=str(model or "gpt-5-codex"),
        timeout=float(timeout) if isinstance(timeout, int | float) else DEFAULT_TIMEOUT,
        reasoning_effort=effort,
        fail_open=fail_open,
        fail_open_source=(
            f"requirements: {requirements.source('allow_guardian_fail_open')}"
            if "allow_guardian_fail_open" in requirements
            else None
        ),
    )
