"""Policy mistakes that must not pass silently (issue 18) and inputs that must never traceback
(issue 10): `managed build`, `sign`, `inspect`, `pack` as a careless admin would run them."""

from __future__ import annotations

import base64
import json
import os
import plistlib
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codex_admin.errors import CodexError
from codex_admin.managed import (
    MANIFEST_NAME,
    PolicyCheckError,
    build_policy,
    diff_sources,
    load_policy,
    sign_policy_bundle,
)

from .conftest import CODEX, KeyPair

CONFIG = """\
approval_policy = "on-request"
sandbox_mode = "workspace-write"
model = "gpt-5"
"""
REQUIREMENTS = """\
allowed_sandbox_modes = ["read-only", "workspace-write"]
allowed_approval_policies = ["on-request", "untrusted"]
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    home, system = tmp_path / "home", tmp_path / "system"
    home.mkdir()
    system.mkdir()
    base = {k: v for k, v in os.environ.items() if not k.startswith("CODEX_")}
    return {**base, "CODEX_HOME": str(home), "CODEX_SYSTEM_DIR": str(system), "CODEX_MDM_PLIST": ""}


def codex(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    run = subprocess.run(
        [*CODEX, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=90, check=False
    )
    assert "Traceback" not in run.stderr, run.stderr
    return run


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(text)
    return directory / name


# ----------------------------------------------------------------------------------------- build


def test_swapped_config_and_requirements_fail(tmp_path: Path) -> None:
    config = write(tmp_path / "src", "managed_config.toml", CONFIG)
    requirements = write(tmp_path / "src", "requirements.toml", REQUIREMENTS)
    with pytest.raises(PolicyCheckError) as info:
        build_policy(requirements, config, tmp_path / "out")
    text = str(info.value)
    assert "were --config and --requirements swapped?" in text
    assert "`allowed_sandbox_modes` is not a managed config key" in text
    assert "`approval_policy` is not a requirements field" in text
    assert not (tmp_path / "out").exists()


def test_requirements_given_as_the_only_config_fail(tmp_path: Path) -> None:
    # Before: a profile with zero requirements (all its fields unknown config keys), exit 0.
    requirements = write(tmp_path / "src", "requirements.toml", REQUIREMENTS)
    with pytest.raises(PolicyCheckError, match="this file is requirements, not a managed config"):
        build_policy(requirements, None, tmp_path / "out")
    config = write(tmp_path / "src", "managed_config.toml", CONFIG)
    with pytest.raises(PolicyCheckError, match="managed config, not requirements"):
        build_policy(None, config, tmp_path / "out")


def test_a_requirements_field_inside_a_managed_config_is_an_error(tmp_path: Path) -> None:
    config = write(
        tmp_path, "managed_config.toml", CONFIG + 'allowed_web_search_modes = ["cached"]\n'
    )
    with pytest.raises(PolicyCheckError) as info:
        build_policy(config, None, tmp_path / "out")
    assert info.value.location is not None and info.value.location.line == 4
    assert "`allowed_web_search_modes` is not a managed config key" in str(info.value)
    assert "swapped" not in str(info.value)


@pytest.mark.parametrize(
    ("config", "requirements", "expected"),
    [
        ('approval_policy = "never"\n', REQUIREMENTS, '`approval_policy = "never"`'),
        ('sandbox_mode = "danger-full-access"\n', REQUIREMENTS, "`sandbox_mode"),
        ('web_search = "live"\n', 'allowed_web_search_modes = ["cached"]\n', "`web_search"),
        (
            'approvals_reviewer = "auto_review"\n',
            'allowed_approvals_reviewers = ["user"]\n',
            "`approvals_reviewer",
        ),
        (
            'sandbox_mode = "danger-full-access"\n',
            '[permissions.filesystem]\ndeny_read = ["/etc/shadow"]\n',
            "`sandbox_mode",
        ),
        (
            "[features]\nweb_search_request = true\n",
            "[features]\nweb_search_request = false\n",
            "pin it to false",
        ),
        (
            '[network]\nmode = "full"\n',
            '[experimental_network]\nmode = "limited"\n',
            "wider than",
        ),
        (
            "[network]\nallow_upstream_proxy = true\n",
            "[experimental_network]\nallow_upstream_proxy = false\n",
            "`network.allow_upstream_proxy = true`",
        ),
        (
            '[network.domains]\n"paste.example" = "allow"\n',
            '[experimental_network]\ndenied_domains = ["paste.example"]\n',
            "'paste.example', which the requirements deny",
        ),
    ],
)
def test_config_asking_for_what_requirements_forbid_fails(
    tmp_path: Path, config: str, requirements: str, expected: str
) -> None:
    c = write(tmp_path, "managed_config.toml", config)
    r = write(tmp_path, "requirements.toml", requirements)
    with pytest.raises(PolicyCheckError, match="refusing to build") as info:
        build_policy(c, r, tmp_path / "out")
    assert expected in str(info.value)
    assert str(c) in str(info.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "identifier", ["", "codex", "com..acme", "com.acme.", "-com.acme", "com.ac me", "com.acme/x"]
)
def test_invalid_identifier_is_refused(tmp_path: Path, identifier: str) -> None:
    r = write(tmp_path, "requirements.toml", REQUIREMENTS)
    with pytest.raises(CodexError, match="invalid profile identifier"):
        build_policy(None, r, tmp_path / "out", identifier=identifier)


def test_build_prints_warnings_and_strict_fails_on_them(
    tmp_path: Path, env: dict[str, str]
) -> None:
    write(tmp_path, "managed_config.toml", CONFIG + 'modle = "gpt-5"\n')
    run = codex(
        ["managed", "build", "--config", "managed_config.toml", "--out", "o"], env, tmp_path
    )
    assert run.returncode == 0, run.stderr
    assert (
        "warning: managed_config.toml:4:1: unknown key `modle` (did you mean `model`?)"
        in run.stderr
    )
    strict = codex(
        [
            "managed",
            "build",
            "--config",
            "managed_config.toml",
            "--out",
            "o2",
            "--strict",
            "--json",
        ],
        env,
        tmp_path,
    )
    assert strict.returncode == 1
    error = json.loads(strict.stdout)["error"]
    assert set(error) == {"message", "path", "line", "column", "hint"}
    assert "--strict" in error["message"] and error["path"] == "managed_config.toml"
    assert not (tmp_path / "o2").exists()


def test_build_json_lists_files_and_warnings(tmp_path: Path, env: dict[str, str]) -> None:
    write(tmp_path, "requirements.toml", REQUIREMENTS)
    run = codex(
        [
            "managed",
            "build",
            "--requirements",
            "requirements.toml",
            "--out",
            "o",
            "--json",
            "--format",
            "plist",
        ],
        env,
        tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {
        "out": "o",
        "files": ["o/com.openai.codex.plist"],
        "warnings": [],
    }


def test_build_out_that_is_a_file_or_has_no_parent_is_a_clear_error(
    tmp_path: Path, env: dict[str, str]
) -> None:
    write(tmp_path, "requirements.toml", REQUIREMENTS)
    (tmp_path / "existing").write_text("x")
    for out in ("existing", "missing/parent/dist"):
        run = codex(
            ["managed", "build", "--requirements", "requirements.toml", "--out", out], env, tmp_path
        )
        assert run.returncode == 1 and f"error: {out}: `--out`" in run.stderr
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "linux").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    run = codex(
        ["managed", "build", "--requirements", "requirements.toml", "--out", "o"], env, tmp_path
    )
    assert run.returncode == 1 and "refusing to write into o/linux" in run.stderr
    assert not (tmp_path / "elsewhere").exists()


# ------------------------------------------------------------------------------------------ sign


def _bundle(tmp_path: Path, files: dict[str, str]) -> Path:
    directory = tmp_path / "bundle"
    for name, text in files.items():
        write(directory / Path(name).parent, Path(name).name, text)
    directory.mkdir(exist_ok=True)
    return directory


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"requirements.toml": "allowed_sandbox_modes = [\n"}, "invalid TOML"),
        ({"requirements.toml": 'allowed_sandbox_modes = ["workspace-write"]\n'}, "read-only"),
        ({"requirements.toml": 'allowed_sandbox_mode = ["read-only"]\n'}, "did you mean"),
        ({"managed_config.toml": CONFIG}, "the bundle has no requirements.toml"),
        ({"README.md": "policy\n"}, "the bundle has no requirements.toml"),
        (
            {
                "requirements.toml": REQUIREMENTS,
                "managed_config.toml": 'approval_policy = "never"\n',
            },
            "which the requirements forbid",
        ),
        (
            {
                "requirements.toml": REQUIREMENTS,
                "rules/x.rules": 'prefix_rule(pattern=["x"], decision="maybe")\n',
            },
            "x.rules",
        ),
    ],
)
def test_sign_refuses_an_invalid_policy_and_writes_nothing(
    tmp_path: Path, keypair: KeyPair, files: dict[str, str], expected: str
) -> None:
    bundle = _bundle(tmp_path, files)
    with pytest.raises(CodexError, match="refusing to sign") as info:
        sign_policy_bundle(bundle, keypair.private)
    assert expected in str(info.value)
    assert not (bundle / MANIFEST_NAME).exists()


def test_sign_cli_prints_warnings_strict_fails_and_bad_duration_is_usage(
    tmp_path: Path, env: dict[str, str], keypair: KeyPair
) -> None:
    bundle = _bundle(
        tmp_path, {"requirements.toml": REQUIREMENTS, "managed_config.toml": 'modle = "x"\n'}
    )
    base = ["managed", "sign", "--key", str(keypair.private), str(bundle)]
    strict = codex([*base, "--strict", "--json"], env, tmp_path)
    assert strict.returncode == 1 and "modle" in json.loads(strict.stdout)["error"]["message"]
    bad = codex([*base, "--valid-for", "5y", "--json"], env, tmp_path)
    assert bad.returncode == 2 and "invalid duration" in json.loads(bad.stdout)["error"]["message"]
    ok = codex([*base, "--valid-for", "7d"], env, tmp_path)
    assert ok.returncode == 0 and "unknown key `modle`" in ok.stderr and "expires" in ok.stdout


# --------------------------------------------------------------------------------------- inspect


def _profile(path: Path, payload: dict[str, Any]) -> Path:
    path.write_bytes(plistlib.dumps({"PayloadType": "Configuration", "PayloadContent": [payload]}))
    return path


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_inspect_reports_a_typod_mdm_key_instead_of_ok(tmp_path: Path, env: dict[str, str]) -> None:
    _profile(
        tmp_path / "p.mobileconfig",
        {"PayloadType": "com.openai.codex", "requirement_toml_base64": _b64(REQUIREMENTS)},
    )
    run = codex(["managed", "inspect", "p.mobileconfig"], env, tmp_path)
    assert run.returncode == 1 and "validation: ok" not in run.stdout
    assert "unknown key `requirement_toml_base64`" in run.stderr
    assert "did you mean `requirements_toml_base64`" in run.stderr
    as_json = codex(["managed", "inspect", "p.mobileconfig", "--json"], env, tmp_path)
    assert (
        as_json.returncode == 1
        and "requirement_toml_base64" in json.loads(as_json.stdout)["error"]["message"]
    )


def test_inspect_names_the_file_never_a_scratch_copy_nor_build(
    tmp_path: Path, env: dict[str, str]
) -> None:
    write(tmp_path, "requirements.toml", REQUIREMENTS)
    write(tmp_path, "managed_config.toml", CONFIG + 'modle = "x"\n')
    write(tmp_path, "requirements-bad.toml", 'allowed_sandbox_modes = ["workspace-write"]\n')
    for name, code in (
        ("requirements.toml", 0),
        ("managed_config.toml", 0),
        ("requirements-bad.toml", 1),
    ):
        run = codex(["managed", "inspect", name], env, tmp_path)
        assert run.returncode == code, run.stderr
        both = run.stdout + run.stderr
        assert "codex-managed-" not in both and "refusing to build" not in both, both
        assert name in both
    ok = codex(["managed", "inspect", "requirements.toml", "--json"], env, tmp_path)
    sources = {e["source"] for e in json.loads(ok.stdout)["effective_requirements"].values()}
    assert sources == {"requirements.toml"}
    warned = codex(["managed", "inspect", "managed_config.toml"], env, tmp_path)
    assert "validation: ok with 1 warning(s)" in warned.stdout
    assert "warning: managed_config.toml:4:1: unknown key `modle`" in warned.stderr


@pytest.mark.parametrize(
    "content",
    [
        [
            {
                "PayloadType": "com.apple.ManagedClient.preferences",
                "PayloadContent": {"com.openai.codex": {"Forced": 5}},
            }
        ],
        [
            {
                "PayloadType": "com.apple.ManagedClient.preferences",
                "PayloadContent": {"com.openai.codex": {"Forced": [5]}},
            }
        ],
        [
            {
                "PayloadType": "com.apple.ManagedClient.preferences",
                "PayloadContent": {
                    "com.openai.codex": {"Forced": [{"mcx_preference_settings": [1]}]}
                },
            }
        ],
        [
            {
                "PayloadType": "com.apple.ManagedClient.preferences",
                "PayloadContent": {"com.openai.codex": [1]},
            }
        ],
        [{"PayloadType": "com.apple.ManagedClient.preferences", "PayloadContent": [1, 2]}],
        [{"PayloadType": "com.openai.codex", "requirements_toml_base64": [_b64(REQUIREMENTS)]}],
        [{"PayloadType": "com.openai.codex", "config_toml_base64": 5}],
        [{"PayloadType": "com.openai.codex", "config_toml_base64": {"a": 1}}],
        [{"PayloadType": "com.openai.codex", "requirements_toml_base64": _b64("x = [")}],
        [{"PayloadType": "com.openai.codex", "requirements_toml_base64": "!!notbase64"}],
        [
            {
                "PayloadType": "com.openai.codex",
                "requirements_toml_base64": base64.b64encode(b"\xff").decode(),
            }
        ],
        [5],
        [[_b64(REQUIREMENTS)]],
        {"PayloadType": "com.openai.codex"},
        "a string",
    ],
)
def test_malformed_profiles_are_clear_errors(
    tmp_path: Path, env: dict[str, str], content: Any
) -> None:
    path = tmp_path / "p.mobileconfig"
    path.write_bytes(plistlib.dumps({"PayloadType": "Configuration", "PayloadContent": content}))
    with pytest.raises(CodexError):
        load_policy(path)
    run = codex(["managed", "inspect", str(path), "--json"], env, tmp_path)
    assert run.returncode == 1
    assert set(json.loads(run.stdout)["error"]) == {"message", "path", "line", "column", "hint"}
    diff = codex(["managed", "diff", str(path), str(path)], env, tmp_path)
    assert diff.returncode == 1 and diff.stderr.startswith("error: ")


_leaf = st.one_of(
    st.booleans(),
    st.integers(-5, 5),
    st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=8),
    st.sampled_from([_b64(REQUIREMENTS), _b64("x = ["), _b64(CONFIG), "", "  "]),
)
_keys = st.sampled_from(
    [
        "PayloadType",
        "PayloadContent",
        "com.openai.codex",
        "Forced",
        "mcx_preference_settings",
        "config_toml_base64",
        "requirements_toml_base64",
        "com.openai.codex",
        "com.apple.ManagedClient.preferences",
    ]
)
_plist_values = st.recursive(
    _leaf,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_keys, inner, max_size=4)),
    max_leaves=12,
)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(root=st.dictionaries(_keys, _plist_values, max_size=4))
def test_fuzzed_profiles_never_traceback(tmp_path: Path, root: dict[str, Any]) -> None:
    path = tmp_path / "fuzz.mobileconfig"
    path.write_bytes(plistlib.dumps(root))
    try:
        load_policy(path)
        diff_sources(path, path)
    except CodexError:
        pass


def test_truncated_and_garbage_plists_are_clear_errors(tmp_path: Path) -> None:
    good = plistlib.dumps({"requirements_toml_base64": _b64(REQUIREMENTS)})
    for i, data in enumerate((good[: len(good) // 2], b"\x00\xff" * 10, b"bplist00garbage", b"")):
        path = tmp_path / f"g{i}.plist"
        path.write_bytes(data)
        with pytest.raises(CodexError):
            load_policy(path)


# ------------------------------------------------------------------------------------------ pack


def test_pack_out_directory_or_missing_parent_is_a_clear_error(
    tmp_path: Path, env: dict[str, str], keypair: KeyPair
) -> None:
    bundle = _bundle(tmp_path, {"requirements.toml": REQUIREMENTS})
    assert (
        codex(
            ["managed", "sign", "--key", str(keypair.private), str(bundle)], env, tmp_path
        ).returncode
        == 0
    )
    (tmp_path / "outdir").mkdir()
    for out, message in (
        ("outdir", "`--out` is a directory"),
        ("no/such/x.json", "does not exist"),
    ):
        run = codex(["managed", "pack", str(bundle), "--out", out, "--json"], env, tmp_path)
        assert run.returncode == 1, run.stderr
        assert message in json.loads(run.stdout)["error"]["message"]
    ok = codex(["managed", "pack", str(bundle), "--out", "b.json", "--json"], env, tmp_path)
    assert ok.returncode == 0 and json.loads(ok.stdout) == {"out": "b.json"}
    unsigned = _bundle(tmp_path / "u", {"requirements.toml": REQUIREMENTS})
    run = codex(["managed", "pack", str(unsigned), "--out", "u.json"], env, tmp_path)
    assert run.returncode == 1 and "bundle is not signed" in run.stderr


def test_inspect_directory_reports_a_rules_file_that_does_not_load(tmp_path: Path) -> None:
    write(tmp_path / "policy", "requirements.toml", REQUIREMENTS)
    write(
        tmp_path / "policy" / "rules", "x.rules", 'prefix_rule(pattern=["x"], decision="maybe")\n'
    )
    with pytest.raises(PolicyCheckError, match="invalid policy") as info:
        load_policy(tmp_path / "policy")
    assert info.value.location is not None and info.value.location.path.endswith("x.rules")
