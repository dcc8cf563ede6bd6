"""The start-up fast paths (issue 11) agree with the slow, authoritative ones.

* the schema checker never accepts what pydantic rejects (a property test over documents
  generated from the schema, with wrong types and unknown keys mixed in);
* the packaged schemas it reads are the generated ones;
* `config show` without typer prints exactly what the typer command prints, imports neither
  typer nor pydantic, and leaves every other argument shape to typer.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codex_admin.config import json_schema_text
from codex_admin.config.pydantic_check import pydantic_errors
from codex_admin.config.schema_check import SCHEMA_FILES, check, schema_for
from tests.conftest import Env, run_codex

REPO = Path(__file__).resolve().parents[2]

JUNK = st.sampled_from([0, -1, 70000, 1.5, True, False, "", "x", "read-only", [], ["a"], {}])


def _values(kind: str, node: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
    root = schema_for(kind)
    if "$ref" in node:
        node = root["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    if depth > 4:
        return JUNK
    if "anyOf" in node:
        good = st.one_of(
            [_values(kind, b, depth) for b in node["anyOf"] if b.get("type") != "null"]
        )
    elif "enum" in node:
        good = st.sampled_from(node["enum"])
    elif "const" in node:
        good = st.just(node["const"])
    else:
        good = _typed(kind, node, depth)
    return st.one_of(good, good, good, good, good, JUNK)


def _typed(kind: str, node: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
    kind_name = node.get("type")
    if kind_name == "object" or "properties" in node:
        props = {k: _values(kind, v, depth + 1) for k, v in node.get("properties", {}).items()}
        extra = node.get("additionalProperties", True)
        base = st.fixed_dictionaries(
            {k: props[k] for k in node.get("required", ())},
            optional={k: v for k, v in props.items() if k not in node.get("required", ())},
        )
        if isinstance(extra, dict):
            more = st.dictionaries(
                st.sampled_from(["a", "b"]), _values(kind, extra, depth + 1), max_size=2
            )
            base = st.tuples(base, more).map(lambda p: {**p[1], **p[0]})
        return st.tuples(base, st.integers(0, 3)).map(
            lambda p: {**p[0], "typo_key": 1} if p[1] == 0 else p[0]
        )
    if kind_name == "array":
        items = node.get("items", {})
        return st.lists(_values(kind, items, depth + 1) if items else JUNK, max_size=3)
    if kind_name == "string":
        return st.sampled_from(["", "x", "/abs/path", "on-request"])
    if kind_name == "integer":
        return st.integers(-2, 70000)
    if kind_name == "number":
        return st.one_of(st.integers(-2, 100), st.floats(-1, 100, allow_nan=False))
    if kind_name == "boolean":
        return st.booleans()
    return JUNK


def _documents(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    root = schema_for(kind)
    props = root["properties"]
    names = sorted(props)
    return st.lists(st.sampled_from([*names, "typo_key"]), max_size=4, unique=True).flatmap(
        lambda keys: st.fixed_dictionaries(
            {k: _values(kind, props[k], 1) if k in props else JUNK for k in keys}
        )
    )


@pytest.mark.parametrize("kind", ["config", "requirements"])
@pytest.mark.parametrize("partial", [False, True])
def test_schema_checker_never_accepts_what_pydantic_rejects(kind: str, partial: bool) -> None:
    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_documents(kind))
    def run(document: dict[str, Any]) -> None:
        problems = check(kind, document, partial=partial)
        errors, unknown = pydantic_errors(kind, document, partial=partial)
        if not any(not p.unknown for p in problems):
            # the checker says valid: pydantic agrees, on the unknown keys too
            assert errors == [], (document, errors)
            assert sorted(map(str, unknown)) == sorted(str(p.path) for p in problems)

    run()


def test_whole_table_rules_are_checked_by_both_paths() -> None:
    document = {"mcp_servers": {"docs": {"enabled": False}}}
    assert [p.rule for p in check("config", document)] == [
        "invalid transport: set either command (stdio) or url (HTTP)"
    ]
    assert check("config", document, partial=True) == []
    errors, _ = pydantic_errors("config", document, partial=False)
    assert "invalid transport" in errors[0]["msg"]
    assert pydantic_errors("config", document, partial=True) == ([], [])


def test_packaged_schemas_are_the_generated_ones() -> None:
    for kind, path in SCHEMA_FILES.items():
        generated = json_schema_text(kind)
        assert path.read_text() == generated, f"{path} is stale: run `make schemas`"
        assert (REPO / "managed" / "schema" / path.name).read_text() == generated


def _probe(args: list[str]) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys\nfrom codex_admin.cli.main import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit as e:\n    code = e.code\nelse:\n    code = 0\n"
        "heavy = sorted(m for m in ('typer', 'pydantic', 'click', 'tomlkit') if m in sys.modules)\n"
        "sys.stderr.write('HEAVY=' + ','.join(heavy) + '\\n')\nsys.exit(code)\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def _typer_show(args: list[str]) -> subprocess.CompletedProcess[str]:
    code = (
        "from codex_admin.cli.config_cmd import app\n"
        "from codex_admin.cli.runner import run_typer_app\n"
        f"run_typer_app(app, ['show', *{args!r}], prog_name='codex config')\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("as_json", [True, False])
def test_config_show_fast_path_matches_typer_and_imports_neither(env: Env, as_json: bool) -> None:
    project = env.project()
    env.write(project / ".codex/config.toml", 'model = "p"\n[features]\nhooks = "maybe"\n')
    env.requirements('allowed_sandbox_modes = ["read-only", "workspace-write"]\n')
    args = [
        *(["--json"] if as_json else []),
        f"--cd={project}",
        "-c",
        "model_reasoning_effort=high",
        "-cweb_search=live",
        "-s",
        "danger-full-access",
        "--strict-config",
    ]
    fast = _probe(["config", "show", *args])
    slow = _typer_show(args)
    assert fast.returncode == slow.returncode == 0, (fast.stderr, slow.stderr)
    assert fast.stdout == slow.stdout
    assert fast.stderr.replace("HEAVY=\n", "") == slow.stderr
    assert "HEAVY=\n" in fast.stderr
    if as_json:
        assert json.loads(fast.stdout)["resolved"]["sandbox_mode"] == "read-only"


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["-h"], 0),
        (["--bogus"], 2),
        (["-s", "yolo"], 2),
        (["--yolo", "-a", "never"], 2),
        (["extra-arg"], 2),
        (["-C"], 2),
    ],
)
def test_other_shapes_are_left_to_typer(env: Env, args: list[str], code: int) -> None:
    proc = run_codex("config", "show", *args)
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr


def test_fast_path_errors_exit_1_without_a_traceback(env: Env) -> None:
    env.user("model = \n")
    proc = _probe(["config", "show", "--json"])
    assert proc.returncode == 1 and set(json.loads(proc.stdout)) == {"error"}  # --json: one object
    assert proc.stderr.startswith("error: ") and "config.toml:1:" in proc.stderr


def test_every_model_rule_is_known_to_the_fast_checker() -> None:
    """A validator the JSON Schema cannot express must live in checks.MODEL_CHECKS, or the
    fast path would accept what pydantic rejects (add it there and call it from the model)."""
    from pydantic import BaseModel

    from codex_admin.config.checks import DELEGATED_MODELS, MODEL_CHECKS
    from codex_admin.config.models import ConfigToml
    from codex_admin.config.requirements_model import RequirementsToml

    seen: set[type[BaseModel]] = set()
    stack: list[type[BaseModel]] = [ConfigToml, RequirementsToml]
    while stack:
        model = stack.pop()
        if model in seen:
            continue
        seen.add(model)
        if model.__name__ in DELEGATED_MODELS:
            assert model.__name__ in MODEL_CHECKS, f"{model.__name__} missing in MODEL_CHECKS"
            continue
        decorators = model.__pydantic_decorators__
        assert not decorators.field_validators, f"{model.__name__}: use a model check"
        if decorators.model_validators:
            assert model.__name__ in MODEL_CHECKS, f"{model.__name__} missing in MODEL_CHECKS"
        for field in model.model_fields.values():
            stack.extend(_models_in(field.annotation))
    assert {"McpServerConfig", "ModelProviderConfig", "McpIdentity"} <= {m.__name__ for m in seen}


def _models_in(annotation: Any) -> list[Any]:
    from typing import get_args

    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]
