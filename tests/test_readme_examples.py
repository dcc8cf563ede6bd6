"""Every `codex` example in README.md and the admin folders' READMEs works as written.

See :mod:`tests.support.readme_examples` for what counts as an example, what it implies (exit
status, shown output) and the ``<!-- example: skip (...) -->`` / ``setup`` markers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.readme_examples import Example, Workspace, examples, readme_files, run

EXAMPLES = examples()
# Skips need a reason from this list: what a CI machine without secrets cannot provide.
SKIP_REASONS = ("needs a model", "needs a network", "needs macOS", "needs root", "needs a login")
MAX_SKIPS = 12


@pytest.fixture(scope="module")
def workspaces(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Workspace]]:
    made: dict[str, Workspace] = {}

    class Lazy(dict[str, Workspace]):
        def __missing__(self, key: str) -> Workspace:
            made[key] = Workspace.create(tmp_path_factory.mktemp("readme"))
            self[key] = made[key]
            return made[key]

    yield Lazy()


def test_every_readme_is_scanned_and_skips_are_few_and_explained() -> None:
    sources = {e.readme for e in EXAMPLES}
    assert "README.md" in sources and "deploy/README.md" in sources, sources
    assert len(readme_files()) >= 5
    skipped = [e for e in EXAMPLES if e.skip]
    assert all(any(e.skip.startswith(r) for r in SKIP_REASONS) for e in skipped if e.skip), [
        e.skip for e in skipped
    ]
    assert len(skipped) <= MAX_SKIPS, [e.id for e in skipped]
    # The proxy section and proxy/README.md show the output of every example (what the old
    # proxy-only test of these examples checked).
    proxy = [e for e in EXAMPLES if e.source in ("README.md#proxy", "proxy/README.md")]
    assert any("network check" in e.command for e in proxy)
    assert any("proxy run" in e.command for e in proxy)
    assert all(e.expected for e in proxy), [e.id for e in proxy if not e.expected]
    print(f"\n{len(EXAMPLES)} README examples, {len(skipped)} skipped")


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_readme_example_works_as_written(
    example: Example, workspaces: dict[str, Workspace]
) -> None:
    if example.skip:
        pytest.skip(f"{example.source}:{example.line}: {example.skip}")
    workspace = workspaces[example.readme]
    workspace.prepare(example)
    outcome = run(example, workspace)
    shown = "\n".join(outcome.stdout)
    where = f"{example.source}:{example.line}: `{example.command}`"
    assert "Traceback" not in outcome.stderr, f"{where}\n{outcome.stderr}"
    assert outcome.matched, (
        f"{where} printed:\n{shown}\n--- stderr:\n{outcome.stderr}\n--- but the README shows:\n"
        + "\n".join(example.expected)
    )
    if outcome.code is not None:
        assert outcome.code == example.exit_code, (
            f"{where} exited {outcome.code}, the README implies {example.exit_code}\n"
            f"{shown}\n--- stderr:\n{outcome.stderr}"
        )


def test_examples_do_not_touch_the_repository() -> None:
    assert not (Path(__file__).resolve().parents[1] / "dist").exists()
