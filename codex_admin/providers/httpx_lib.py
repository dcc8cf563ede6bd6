"""httpx, imported without its command-line client: what this package imports httpx through.

``httpx/__init__.py`` imports ``httpx._main`` (the ``httpx`` command: click, rich, pygments)
whenever click is installed -- and typer installs it. That is about 25 ms of CPU, a fifth of
`codex exec`'s start-up to the first model request (benchmarks/agent_bench.py), for a command
this process never runs. So the first import here puts a deferring ``httpx._main`` in
``sys.modules`` while httpx initialises, then removes it again: ``httpx.main`` imports and runs
the real command when called, and ``import httpx._main`` afterwards loads the real module. When
httpx is already imported (by another package), this changes nothing.
"""

from __future__ import annotations

import sys
import types


def _import_without_cli() -> None:
    if "httpx" in sys.modules or "httpx._main" in sys.modules:
        return
    deferred = types.ModuleType("httpx._main")

    def main() -> None:
        """The ``httpx`` command, imported when run; without its extras, httpx's own answer."""
        try:
            from httpx._main import main as real_main
        except ImportError:
            sys.stdout.write(
                "The httpx command line client could not run because the required "
                "dependencies were not installed.\nMake sure you've installed "
                "everything with: pip install 'httpx[cli]'\n"
            )
            sys.exit(1)
        real_main()

    deferred.main = main  # type: ignore[attr-defined]
    sys.modules["httpx._main"] = deferred
    try:
        import httpx  # noqa: F401
    finally:
        if sys.modules.get("httpx._main") is deferred:
            del sys.modules["httpx._main"]


_import_without_cli()

import httpx  # noqa: E402

__all__ = ["httpx"]
