"""Checks that run before a policy is built, signed or shown (``managed build|sign|inspect``).

An admin's worst mistake is one that passes silently, so on top of the validation
``codex config validate`` does on each file (same code: :func:`codex_admin.config.validate_files`)
this module checks what only the *pair* of files, or the role a file is given, reveals:

* **the wrong kind of file**: a ``requirements.toml`` given as ``--config`` (its fields are
  unknown config keys, so it would build a profile enforcing nothing) or a managed config given as
  ``--requirements``; each key that belongs to the other kind is named;
* **contradictions**: a managed config asking for a value its requirements forbid (every machine
  would silently fall back): the engine's own fallbacks (approval policy, reviewer, sandbox, web
  search), feature pins, and the managed network's ceilings (``mode``, ``false`` flags, denied
  domains);
* **identifiers**: a profile ``PayloadIdentifier`` must be reverse-DNS.

Every finding is an :class:`~codex_admin.config.Issue` (located where the file is known);
:meth:`PolicyReport.raise_if_failed` turns errors -- and, with ``strict``, warnings -- into one
:class:`PolicyCheckError` that lists them all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from codex_admin.config import (
    REQUIREMENT_FIELDS,
    EffectiveRequirements,
    Issue,
    canonical_feature,
    locate_key,
    parse_toml_text,
    read_text_file,
    validate_files,
)
from codex_admin.errors import CodexError, Location

__all__ = [
    "CONFIG_FILE",
    "REQUIREMENTS_FILE",
    "Evaluator",
    "PolicyCheckError",
    "PolicyReport",
    "check_identifier",
    "check_policy_files",
    "contradictions",
]

CONFIG_FILE = "managed_config.toml"
REQUIREMENTS_FILE = "requirements.toml"
# Config layers an admin ships: managed config (file and MDM payload) and the system config.
_MANAGED_LAYERS = frozenset({"managed_config", "mdm", "system"})
_NETWORK_MODES = {"limited": 0, "full": 1}
# Managed `experimental_network` flags whose `false` forbids what a config `true` asks for.
_NETWORK_FLAGS = (
    "enabled",
    "allow_local_binding",
    "allow_upstream_proxy",
    "dangerously_allow_non_loopback_proxy",
    "dangerously_allow_all_unix_sockets",
    "mitm",
    "enable_socks5",
    "enable_socks5_udp",
)
# Reverse-DNS: at least two dot-separated labels of letters, digits and inner hyphens.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_REVERSE_DNS = re.compile(rf"{_LABEL}(?:\.{_LABEL})+")


class PolicyCheckError(CodexError):
    """Every problem a check found; ``str()`` lists them, ``to_json`` locates the first."""

    def __init__(self, action: str, problems: Sequence[Issue], hint: str | None = None) -> None:
        self.problems = list(problems)
        if len(self.problems) == 1:
            super().__init__(
                f"{action}: {self.problems[0].message}",
                location=self.problems[0].location,
                hint=hint,
            )
            return
        listing = "\n  ".join(str(p) for p in self.problems)
        super().__init__(f"{action}: {len(self.problems)} problems:\n  {listing}", hint=hint)

    def to_json(self) -> dict[str, object]:
        data = super().to_json()
        first = self.problems[0].location if self.problems else None
        if self.location is None and first is not None:
            data.update(path=first.path, line=first.line, column=first.column)
        return data


@dataclass
class PolicyReport:
    """Findings of the checks: errors fail the command, warnings are printed."""

    errors: list[Issue] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def raise_if_failed(self, action: str, *, strict: bool = False) -> None:
        """Raise one :class:`PolicyCheckError` for the errors (and warnings when ``strict``)."""
        problems = list(self.errors)
        if strict:
            problems += [_warning_issue(w) for w in self.warnings]
        if problems:
            raise PolicyCheckError(
                action,
                problems,
                hint="fix the problems above (`codex config validate FILE` checks one file)",
            )


_LOCATED = re.compile(r"(?P<path>[^:\n]+):(?P<line>\d+):(?P<column>\d+): (?P<message>.*)", re.S)


def _warning_issue(warning: str) -> Issue:
    """A warning (``path:line:col: text``, as the validators write them) as a located Issue."""
    match = _LOCATED.fullmatch(warning)
    if match is None:
        return Issue(f"{warning} (--strict: warnings fail)", None)
    where = Location(match["path"], int(match["line"]), int(match["column"]))
    return Issue(f"{match['message']} (--strict: warnings fail)", where)


def check_identifier(identifier: str) -> None:
    """A configuration profile's ``PayloadIdentifier`` must be reverse-DNS (``com.acme.codex``)."""
    if not _REVERSE_DNS.fullmatch(identifier) or len(identifier) > 255:
        raise CodexError(
            f"invalid profile identifier {identifier!r}: expected reverse-DNS such as "
            "com.acme.codex (letters, digits and hyphens, at least two dot-separated labels)",
            hint="pass --identifier com.YOURORG.codex",
        )


# ------------------------------------------------------------------------------------ one file


@cache
def _config_keys() -> frozenset[str]:
    # The schema is generated from the config model: the same key list the validator uses.
    from codex_admin.config import json_schema  # pydantic: only when a build or sign runs

    return frozenset(json_schema("config").get("properties", {}))


def _kinds() -> tuple[frozenset[str], frozenset[str]]:
    """(keys only a config has, keys only requirements have)."""
    config_keys, requirement_keys = _config_keys(), frozenset(REQUIREMENT_FIELDS)
    return config_keys - requirement_keys, requirement_keys - config_keys


def _wrong_kind(path: Path, text: str, table: Mapping[str, Any], kind: str) -> list[Issue]:
    """Keys of ``table`` (given as ``kind``) that only the other kind of file has."""
    config_only, requirements_only = _kinds()
    own, other_keys = (
        (requirements_only, config_only)
        if kind == "requirements"
        else (config_only, requirements_only)
    )
    keys = [k for k in table if k in other_keys]
    if not keys:
        return []
    if kind == "requirements":
        what, other, flag = "a requirements field", "managed config", "--config"
    else:
        what, other, flag = "a managed config key", "requirements", "--requirements"
    issues = []
    for key in keys:
        pos = locate_key(text, [key])
        where = Location(path, *pos) if pos else Location(path)
        issues.append(
            Issue(
                f"`{key}` is not {what}: it belongs in the {other} file (give it as {flag})", where
            )
        )
    if not any(k in own for k in table):
        swap = (
            "this file is a managed config, not requirements"
            if kind == "requirements"
            else "this file is requirements, not a managed config"
        )
        issues.insert(
            0, Issue(f"{swap}: were --config and --requirements swapped?", Location(path))
        )
    return issues


def _check_file(path: Path, kind: str, report: PolicyReport) -> str | None:
    """Validate one input as ``kind`` (``managed`` or ``requirements``); returns its text."""
    text = read_text_file(path, what=f"{kind} file")
    if text is None:
        report.errors.append(Issue(f"{path} does not exist", Location(path)))
        return None
    try:
        table = parse_toml_text(text, str(path))
    except CodexError as err:
        report.errors.append(Issue(err.message, err.location or Location(path)))
        return None
    wrong = _wrong_kind(path, text, table, "requirements" if kind == "requirements" else "config")
    if wrong:
        report.errors += wrong
        return None
    for file in validate_files([path], kind).files:
        report.errors += file.errors
        report.warnings += file.warnings
    return text


Evaluator = Callable[[str | None, str | None], list[Issue]]


def check_policy_files(
    config: Path | None,
    requirements: Path | None,
    *,
    evaluate: Evaluator | None = None,
) -> PolicyReport:
    """Validate ``config`` (managed) and ``requirements`` as ``config validate`` would; then,
    when every given file is valid, ``evaluate(config_text, requirements_text)`` adds the
    problems only the pair shows (see :func:`contradictions`)."""
    report = PolicyReport()
    config_text = _check_file(config, "managed", report) if config is not None else None
    req_text = _check_file(requirements, "requirements", report) if requirements else None
    if not report.errors and evaluate is not None:
        report.errors += evaluate(config_text, req_text)
    return report


# -------------------------------------------------------------------------------- contradictions


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


def contradictions(
    config: Mapping[str, Any],
    requirements: EffectiveRequirements,
    fallbacks: Mapping[str, Mapping[str, Any]],
    *,
    config_where: str,
    config_text: str | None = None,
) -> list[Issue]:
    """Values the managed config asks for that its requirements forbid (see the docstring)."""

    def at(message: str, key: Iterable[str]) -> Issue:
        pos = locate_key(config_text, list(key)) if config_text else None
        return Issue(message, Location(config_where, *pos) if pos else Location(config_where))

    found: list[Issue] = []
    for key, entry in sorted(fallbacks.items()):
        if entry.get("rejected_from") not in _MANAGED_LAYERS:
            continue
        found.append(
            at(
                f"managed config sets `{key} = {_toml(entry.get('rejected'))}`, which the "
                f"requirements forbid (allowed: {_toml(entry.get('allowed'))}, set by "
                f"{entry.get('requirement_source')}); every machine would fall back to "
                f"{_toml(entry.get('value'))}",
                key.split("."),
            )
        )
    found += _feature_conflicts(config, requirements, at)
    found += _network_conflicts(config, requirements, at)
    return found


def _feature_conflicts(
    config: Mapping[str, Any], requirements: EffectiveRequirements, at: Any
) -> list[Issue]:
    pins = {canonical_feature(k) or k: v for k, v in (requirements.value("features") or {}).items()}
    source = requirements.source("features")
    found = []
    features = config.get("features")
    for name, value in (features if isinstance(features, Mapping) else {}).items():
        pinned = pins.get(canonical_feature(name) or name)
        if isinstance(pinned, bool) and isinstance(value, bool) and pinned != value:
            found.append(
                at(
                    f"managed config sets `features.{name} = {_toml(value)}`, but the "
                    f"requirements pin it to {_toml(pinned)} (set by {source})",
                    ["features", name],
                )
            )
    return found


def _network_conflicts(
    config: Mapping[str, Any], requirements: EffectiveRequirements, at: Any
) -> list[Issue]:
    managed = requirements.value("experimental_network")
    network = config.get("network")
    if not isinstance(managed, Mapping) or not isinstance(network, Mapping):
        return []
    source = requirements.source("experimental_network")
    found = []
    for flag in _NETWORK_FLAGS:
        if network.get(flag) is True and managed.get(flag) is False:
            found.append(
                at(
                    f"managed config sets `network.{flag} = true`, but the requirements set "
                    f"`experimental_network.{flag} = false` (set by {source})",
                    ["network", flag],
                )
            )
    mode, ceiling = network.get("mode"), managed.get("mode")
    if _NETWORK_MODES.get(str(mode), -1) > _NETWORK_MODES.get(str(ceiling), 99):
        found.append(
            at(
                f'managed config sets `network.mode = "{mode}"`, wider than the requirements\' '
                f'`experimental_network.mode = "{ceiling}"` (set by {source})',
                ["network", "mode"],
            )
        )
    denied = set(_verdicts(managed, "deny"))
    for pattern in _verdicts(network, "allow"):
        if pattern in denied:
            found.append(
                at(
                    f"managed config allows network domain {pattern!r}, which the requirements "
                    f"deny (set by {source})",
                    ["network", "domains", pattern],
                )
            )
    return found


def _verdicts(table: Mapping[str, Any], verdict: str) -> list[str]:
    """Domain patterns with ``verdict`` in the keyed (``domains``) or legacy list form."""
    legacy = table.get("allowed_domains" if verdict == "allow" else "denied_domains")
    found = [str(p) for p in legacy] if isinstance(legacy, list) else []
    keyed = table.get("domains")
    if isinstance(keyed, Mapping):
        found += [str(p) for p, v in keyed.items() if v == verdict]
    return found
