"""The package dependency graph stays a DAG, and the CLI holds no policy logic of its own."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from tests.conftest import Env

ROOT = Path(__file__).resolve().parent.parent / "codex_admin"
LEAVES = {"errors", "vocabulary", "pathrules", "bash_syntax", "lazy_exports", "telemetry"}


def _graph() -> dict[str, set[str]]:
    deps: dict[str, set[str]] = defaultdict(set)
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).parts
        package = parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                if name.startswith("codex_admin."):
                    target = name.split(".")[1]
                    if target != package:
                        deps[package].add(target)
    return deps


def test_no_package_import_cycle() -> None:
    deps = _graph()
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(deps.get(node, ())):
            if state.get(nxt) == "open":
                raise AssertionError(f"import cycle: {' -> '.join([*path, nxt])}")
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for package in sorted(deps):
        if package not in state:
            visit(package, [package])


def test_leaves_import_no_other_package() -> None:
    deps = _graph()
    for leaf in LEAVES:
        assert deps.get(leaf, set()) <= LEAVES - {leaf} | {"errors"}, (leaf, deps.get(leaf))


def test_the_agent_core_does_not_print_and_engines_do_not_import_the_cli() -> None:
    for path in (ROOT / "agent").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        calls = [
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "print"
        ]
        assert not calls, f"{path} prints; the agent core only emits events"
    deps = _graph()
    for package, targets in deps.items():
        if package not in ("cli", "__main__"):
            assert "cli" not in targets, f"{package} imports the CLI"


def test_no_public_name_is_also_a_submodule_name() -> None:
    """A package whose ``__all__`` names one of its own submodules has an order-dependent API:
    once anything imports ``pkg.name`` the submodule replaces the attribute, so (with a lazy
    ``__getattr__`` especially) ``from pkg import name`` returns a module instead of the function."""
    clashes = []
    for init in ROOT.rglob("__init__.py"):
        folder = init.parent
        submodules = {p.stem for p in folder.glob("*.py")} | {
            p.name for p in folder.iterdir() if (p / "__init__.py").exists()
        }
        for node in ast.walk(ast.parse(init.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
            ):
                exported = set(ast.literal_eval(node.value))
                clashes += [
                    f"{folder.relative_to(ROOT.parent)}: {n}" for n in exported & submodules
                ]
    assert not clashes, f"public names that are also submodules: {sorted(clashes)}"


@pytest.mark.parametrize(
    "package", ["codex_admin.agent", "codex_admin.agent.tools", "codex_admin.hooks"]
)
def test_every_lazy_public_name_resolves(package: str) -> None:
    """The lazy ``__init__`` tables list exactly the public names, each a real attribute of a
    real module (a name moved to another module must move in the table too)."""
    import importlib

    module = importlib.import_module(package)
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert not missing, missing
    assert set(module._EXPORTS) == set(module.__all__)


# ------------------------------------------------------------------------ cheap import paths
# Start-up is measured by benchmarks/; these pin only which modules a path loads (deterministic).


def _loaded_after(code: str) -> set[str]:
    probe = f"import json, sys\n{code}\nsys.stdout.write(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_hook_discovery_imports_neither_the_engine_nor_asyncio_nor_tomlkit(env: Env) -> None:
    loaded = _loaded_after(
        "from codex_admin.config import LoadOptions, load_config\n"
        "from codex_admin.hooks import discover_hooks\n"
        "discover_hooks(load_config(LoadOptions()))"
    )
    heavy = {"asyncio", "tomlkit", "codex_admin.hooks.engine", "codex_admin.hooks.runner"}
    assert not heavy & loaded


def test_doctor_runs_without_typer_and_answers_help_with_it(env: Env) -> None:
    run = "from codex_admin.cli.main import main\ntry:\n    main({args!r})\nexcept SystemExit:\n    pass"
    loaded = _loaded_after(run.format(args=["doctor", "--json"]))
    assert not {"typer", "click", "asyncio", "codex_admin.hooks.engine"} & loaded
    assert "typer" in _loaded_after(run.format(args=["doctor", "--help"]))


def test_the_model_client_imports_no_cli_library_and_no_oauth() -> None:
    loaded = _loaded_after("from codex_admin.providers import ModelClient, resolve_credentials")
    assert "httpx" in loaded
    assert not {"click", "pygments", "httpx._main", "codex_admin.auth.oauth"} & loaded
    # httpx's own command still answers (its extras are not installed here, or it runs)
    done = subprocess.run(
        [sys.executable, "-c", "import codex_admin.providers.client, httpx; httpx.main()"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    plain = subprocess.run(
        [sys.executable, "-c", "import httpx; httpx.main()"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (plain.returncode, plain.stdout)


def _exec_modules(env: Env) -> tuple[set[str], set[str]]:
    """The modules `codex exec --json --ephemeral` has loaded when its first model request goes
    out (the transport is about to write it), and at exit, answered with text."""
    import tomlkit

    from tests.support import MockResponsesServer, assistant_turn

    probe = (
        "import json, sys\n"
        "from codex_admin.providers import transport\n"
        "seen = []\n"
        "original = transport._Connection.send\n"
        "async def send(self, request):\n"
        "    seen.append(sorted(sys.modules))\n"
        "    return await original(self, request)\n"
        "transport._Connection.send = send\n"
        "from codex_admin.cli.main import main\n"
        "try:\n"
        "    main(['exec', '--json', '--ephemeral', '--skip-git-repo-check', 'hi'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "sys.stdout.write('\\n' + json.dumps([seen[0], sorted(sys.modules)]))"
    )
    with MockResponsesServer() as server:
        server.default_turn = assistant_turn("ok")
        env.user(
            tomlkit.dumps(
                {
                    "model": "gpt-test",
                    "model_provider": "mock",
                    "model_providers": {"mock": server.provider_config()},
                }
            )
        )
        out = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
        )
        assert len(server.model_requests) == 1
    at_request, at_exit = (set(m) for m in json.loads(out.stdout.splitlines()[-1]))
    return at_request, at_exit


def test_exec_reaches_the_model_without_the_runtime_a_text_answer_does_not_need(env: Env) -> None:
    """What `codex exec` has loaded when its first model request goes out (the transport is
    about to write it): not httpcore or anyio (the direct transport), not the stream's event
    types and parsers, nor the agent's items (they load as the response arrives), and -- for a
    session without hooks, patches or commands -- never the hook engine, the patch engine,
    governed execution or the sandbox runner; for an ephemeral session never the rollout
    writer or its redactor; and, for a provider without OpenAI auth, never the login stores
    (file, keyring) or token model."""
    at_request, at_exit = _exec_modules(env)
    stream_side = {
        "codex_admin.providers.events",
        "codex_admin.providers.responses_wire",
        "codex_admin.providers.sse",
        "codex_admin.agent.items",  # the items and item.* events: with the first one
    }
    never = {
        "httpcore",
        "anyio",
        "sniffio",
        "importlib.resources",
        "uuid",
        "difflib",
        "getpass",  # the macOS MDM path only
        "codex_admin.providers.chat_wire",
        "codex_admin.hooks.engine",
        "codex_admin.hooks.outcomes",
        "codex_admin.hooks.runner",
        *_HOOK_DISCOVERY,  # no hook source: nothing to discover
        "codex_admin.apply_patch.model",
        "codex_admin.apply_patch.parser",
        "codex_admin.apply_patch.invocation",
        "codex_admin.agent.tools.patch",
        "codex_admin.agent.tools.shell",  # governed execution: with the first shell call
        "codex_admin.agent.execution",
        "codex_admin.agent.output",
        "codex_admin.agent.approvals",  # the requests: with the first review
        "codex_admin.agent.rollout",  # an ephemeral session records nothing
        "codex_admin.telemetry.redaction",
        "codex_admin.sandbox.guard",
        "codex_admin.sandbox.launch",
        "codex_admin.sandbox.runner",
        "codex_admin.sandbox.bwrap",
        "codex_admin.guardian",
        "codex_admin.proxy",
        "codex_admin.auth.store",
        "codex_admin.auth.keyring_backend",
        "codex_admin.auth.manager",
        "codex_admin.auth.model",
        "codex_admin.providers.observer",  # telemetry reports: only with [otel] on
    }
    assert {"h11", "codex_admin.sandbox.shared", "codex_admin.hooks.sources"} <= at_request
    assert not (never | stream_side) & at_request, sorted((never | stream_side) & at_request)
    assert stream_side <= at_exit
    assert not (never - {"codex_admin.providers.chat_wire"}) & at_exit


_HOOK_DISCOVERY = {
    "codex_admin.hooks.discovery",
    "codex_admin.hooks.files",
    "codex_admin.hooks.matcher",
    "codex_admin.hooks.model",
    "codex_admin.hooks.trust",
}


def test_exec_discovers_hooks_before_its_first_request_when_a_hook_source_exists(
    env: Env,
) -> None:
    """The other side of skipping discovery: with a hooks file (here an untrusted user hook),
    discovery has run by the time the first model request goes out."""
    env.write(
        env.home / "hooks.json",
        json.dumps({"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "true"}]}]}}),
    )
    at_request, _ = _exec_modules(env)
    assert not _HOOK_DISCOVERY - at_request, sorted(_HOOK_DISCOVERY - at_request)
