"""The network policy of a working directory: `[network]` + rules' `network_rule`s + requirements.

Rules files (system, user, trusted projects) may allow or deny hosts; the proxy enforces them
through the same lists as `[network]`. A deny always wins over an allow of the same pattern, and
requirements (`experimental_network`) still clamp the result: managed denies are a floor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["network_table_with_rules"]


def network_table_with_rules(
    table: Any, allowed: Sequence[str], denied: Sequence[str]
) -> dict[str, Any] | None:
    """``table`` (the config's `[network]`) with the rules' allowed and denied host patterns."""
    if not allowed and not denied:
        return dict(table) if isinstance(table, Mapping) else None
    merged = dict(table) if isinstance(table, Mapping) else {}
    if "allowed_domains" in merged or "denied_domains" in merged:
        merged["allowed_domains"] = [*merged.get("allowed_domains", []), *allowed]
        merged["denied_domains"] = [*merged.get("denied_domains", []), *denied]
        return merged
    domains = dict(merged.get("domains") or {})
    for host in allowed:
        domains.setdefault(host, "allow")
    for host in denied:
        domains[host] = "deny"
    merged["domains"] = domains
    return merged
