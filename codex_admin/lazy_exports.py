"""A package's public names, imported when first used: the ``__getattr__``/``__dir__`` pair
(PEP 562) every package ``__init__`` shares.

Start-up is measured (benchmarks/), and a package's ``__init__`` must not import every engine
behind its API: ``from codex_admin.proxy import normalize_host`` should not load the proxy
server, TLS and cryptography. So each ``__init__`` lists ``name -> module`` and hands the table
here; the first access imports that module and caches the value in the package namespace, so
the next access is a plain attribute read. Type checkers see the names through the package's
``if TYPE_CHECKING:`` imports.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` (its ``__name__``), whose public names live in
    the modules ``exports`` maps them to (full dotted module names)."""
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(namespace.get("__all__", exports))

    return __getattr__, __dir__
