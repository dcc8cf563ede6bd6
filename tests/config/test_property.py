"""Property: whatever the layers and flags say, resolved values lie in the allowed sets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codex_admin.config import Flags, LoadOptions, compose_requirements, load_config
from codex_admin.config.requirements import RequirementsDocument
from codex_admin.config.resolve import resolve_effective
from codex_admin.errors import CodexError

APPROVALS = ["untrusted", "on-failure", "on-request", "never"]
SANDBOXES = ["read-only", "workspace-write", "danger-full-access"]
REVIEWERS = ["user", "auto_review"]
WEB = ["disabled", "cached", "live"]


def maybe(values: list[str]) -> st.SearchStrategy[str | None]:
    return st.one_of(st.none(), st.sampled_from(values))


layer = st.fixed_dictionaries(
    {},
    optional={
        "approval_policy": st.sampled_from(APPROVALS),
        "sandbox_mode": st.sampled_from(SANDBOXES),
        "approvals_reviewer": st.sampled_from([*REVIEWERS, "guardian_subagent"]),
        "web_search": st.sampled_from(WEB),
    },
)


def allow_list(values: list[str], must: str | None = None) -> st.SearchStrategy[list[str] | None]:
    lists = st.lists(st.sampled_from(values), min_size=1, unique=True)
    if must:
        lists = lists.map(lambda xs: xs if must in xs else [must, *xs])
    return st.one_of(st.none(), lists)


requirements = st.fixed_dictionaries(
    {
        "allowed_approval_policies": allow_list(APPROVALS),
        "allowed_sandbox_modes": allow_list(SANDBOXES, must="read-only"),
        "allowed_approvals_reviewers": allow_list(REVIEWERS),
        "allowed_web_search_modes": st.one_of(
            st.none(), st.lists(st.sampled_from(WEB), unique=True)
        ),
    }
)


def toml_doc(values: dict[str, Any]) -> str:
    return "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in values.items() if v is not None)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    layers=st.lists(layer, min_size=5, max_size=5),
    req=requirements,
    flag_sandbox=maybe(SANDBOXES),
    flag_approval=maybe(APPROVALS),
    full_auto=st.booleans(),
    trust=st.sampled_from([None, "trusted", "untrusted"]),
)
def test_resolved_values_always_lie_in_allowed_sets(
    layers: list[dict[str, str]],
    req: dict[str, list[str] | None],
    flag_sandbox: str | None,
    flag_approval: str | None,
    full_auto: bool,
    trust: str | None,
) -> None:
    merged: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for index, table in enumerate(layers):  # system, user, project, managed, -c
        merged.update(table)
        origins.update({k: f"layer{index}" for k in table})
    effective = compose_requirements([RequirementsDocument("req", toml_doc(req))])
    flags = Flags(sandbox=flag_sandbox, approval=flag_approval, full_auto=full_auto)
    try:
        res = resolve_effective(merged, origins, effective, flags, trust)
    except CodexError as err:
        # the one fatal combination: explicit danger-full-access forced down under `never`
        assert "cannot be used because requirements do not allow" in err.message
        return
    values = res.values
    allowed = {
        "approval_policy": req["allowed_approval_policies"] or APPROVALS,
        "sandbox_mode": req["allowed_sandbox_modes"] or SANDBOXES,
        "approvals_reviewer": req["allowed_approvals_reviewers"] or REVIEWERS,
        "web_search": (
            WEB
            if req["allowed_web_search_modes"] is None
            else [*req["allowed_web_search_modes"], "disabled"]
        ),
    }
    for key, allowed_values in allowed.items():
        assert values[key] in allowed_values, (key, values[key])
        if key in res.fallbacks and res.fallbacks[key]["rejected_from"] != "defaults":
            assert sum(f"`{key}`" in w.split(" is disallowed")[0] for w in res.warnings) == 1


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(user=layer, managed=layer, cli=layer, req=requirements)
def test_property_through_the_loader(
    tmp_path_factory: Any,
    user: dict[str, str],
    managed: dict[str, str],
    cli: dict[str, str],
    req: dict[str, list[str] | None],
) -> None:
    import os

    base = Path(tmp_path_factory.mktemp("prop"))
    (base / "home").mkdir()
    (base / "sys").mkdir()
    (base / "home/config.toml").write_text(toml_doc(user))
    (base / "sys/managed_config.toml").write_text(toml_doc(managed))
    (base / "sys/requirements.toml").write_text(toml_doc(req))
    saved = {k: os.environ.get(k) for k in ("CODEX_HOME", "CODEX_SYSTEM_DIR", "CODEX_MDM_PLIST")}
    os.environ.update(
        CODEX_HOME=str(base / "home"), CODEX_SYSTEM_DIR=str(base / "sys"), CODEX_MDM_PLIST=""
    )
    overrides = [f"{k}={v}" for k, v in cli.items()]
    try:
        result = load_config(LoadOptions(cwd=base, overrides=overrides))
    except CodexError as err:
        assert "cannot be used because requirements do not allow" in err.message
        return
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    effective = result.requirements
    for key, field in (
        ("approval_policy", "allowed_approval_policies"),
        ("sandbox_mode", "allowed_sandbox_modes"),
        ("approvals_reviewer", "allowed_approvals_reviewers"),
    ):
        allowed = effective.value(field)
        if allowed is not None:
            assert result.resolved[key] in allowed
