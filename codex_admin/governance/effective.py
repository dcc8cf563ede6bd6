"""`Governance`: everything that decides how a command may run in one working directory.

Built once per invocation (or agent session) from a :class:`GovernanceRequest`: the resolved
config and requirements, the command rules, the network policy and the sandbox policy. It then
answers the two questions every front-end asks -- "may this command run, how, and why"
(:meth:`Governance.decide`) and "run it governed" (:meth:`Governance.sandbox_session`). The CLI
(`codex sandbox`, `network check`, `execpolicy explain`, `doctor`) and the agent call it, so the
composition lives in one library instead of being re-derived per command.

Heavy engines (execpolicy's Starlark, the proxy with cryptography) are imported inside the
members that need them, and each result is computed at most once: a `config show` never pays
for them, an agent session pays once.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codex_admin.config import (
    ConfigResult,
    format_key,
    get_value,
    parse_config_document,
    parse_key_path,
    read_text_file,
)
from codex_admin.errors import CodexError
from codex_admin.governance.loading import GovernanceRequest, load_governed_config
from codex_admin.governance.network import network_table_with_rules
from codex_admin.vocabulary import (
    ApprovalPolicy,
    ApprovalsReviewer,
    NetworkMode,
    SandboxMode,
    SandboxPermissions,
)

if TYPE_CHECKING:
    from codex_admin.execpolicy import ExecDecision, Policy
    from codex_admin.proxy import NetworkPolicy
    from codex_admin.sandbox import RunResult, SandboxPolicy, SandboxSession, UntrustedSetting

__all__ = ["Governance", "WriteBoundaries", "load_governance"]


@dataclass(frozen=True)
class WriteBoundaries:
    """Where writes may land without approval (absolute paths; globs in ``deny_read``).

    ``unrestricted`` (danger-full-access) means anywhere except ``protected_paths`` and
    ``deny_read``; those still ask (configuration) or are refused (secrets).
    """

    writable_roots: tuple[str, ...]
    protected_names: tuple[str, ...]
    protected_paths: tuple[str, ...]
    deny_read: tuple[str, ...]
    unrestricted: bool = False


def load_governance(request: GovernanceRequest | None = None) -> Governance:
    """Load the effective governance for ``request`` (raises CodexError on bad input)."""
    request = request or GovernanceRequest()
    return Governance(load_governed_config(request), request)


class Governance:
    """The effective governance of one working directory (see the module docstring)."""

    def __init__(self, config: ConfigResult, request: GovernanceRequest) -> None:
        self.config = config
        self.request = request

    # ------------------------------------------------------------------------- plain settings

    @property
    def cwd(self) -> Path:
        return self.config.cwd

    @property
    def codex_home(self) -> Path:
        return self.config.codex_home

    @property
    def warnings(self) -> list[str]:
        return self.config.warnings

    @property
    def environ(self) -> Mapping[str, str]:
        return self.request.environ if self.request.environ is not None else os.environ

    @property
    def sandbox_mode(self) -> SandboxMode:
        return SandboxMode.parse(str(self.config.resolved.get("sandbox_mode") or "read-only"))

    @property
    def approval_policy(self) -> ApprovalPolicy:
        """The approval policy; a granular policy asks like ``on-request`` (its switches are
        in :attr:`granular_approval`)."""
        value = self.config.resolved.get("approval_policy") or "on-request"
        if isinstance(value, Mapping):
            return ApprovalPolicy.ON_REQUEST
        return ApprovalPolicy(str(value))

    @property
    def granular_approval(self) -> Mapping[str, Any] | None:
        value = self.config.resolved.get("approval_policy")
        if isinstance(value, Mapping):
            granular = value.get("granular")
            return granular if isinstance(granular, Mapping) else None
        return None

    @property
    def reviewer(self) -> ApprovalsReviewer:
        value = str(self.config.resolved.get("approvals_reviewer") or "user")
        reviewer = ApprovalsReviewer(value)
        if reviewer is ApprovalsReviewer.GUARDIAN_SUBAGENT:
            return ApprovalsReviewer.AUTO_REVIEW
        return reviewer

    @property
    def deny_read(self) -> tuple[str, ...]:
        """`permissions.filesystem.deny_read` from requirements (paths and globs)."""
        permissions = self.config.requirements.value("permissions") or {}
        filesystem = permissions.get("filesystem") if isinstance(permissions, Mapping) else None
        entries = filesystem.get("deny_read") if isinstance(filesystem, Mapping) else None
        return tuple(str(e) for e in entries or ())

    @property
    def managed_network(self) -> dict[str, Any] | None:
        """Requirements' `experimental_network` table, when set."""
        value = self.config.requirements.value("experimental_network")
        return dict(value) if isinstance(value, Mapping) else None

    # ------------------------------------------------------------------------------- the rules

    @cached_property
    def _rules(self) -> tuple[Policy, list[Path]]:
        from codex_admin.execpolicy import load_configured_policy  # Starlark: only when asked

        requirements = self.config.requirements
        folders = [] if self.request.ignore_rules else self.config.config_folders
        return load_configured_policy(
            folders,
            requirements.value("rules"),
            requirements.source("rules") or "requirements",
        )

    @property
    def rules(self) -> Policy:
        """The command rules: discovered `*.rules` files plus requirements' `[rules]`."""
        return self._rules[0]

    @property
    def rule_files(self) -> list[Path]:
        return self._rules[1]

    @property
    def sandbox_bypass_allowed(self) -> bool:
        """Whether an explicit ``allow`` rule may run a command outside the sandbox at all.

        Never while requirements constrain the filesystem or the network (``deny_read``,
        ``experimental_network`` or ``allowed_sandbox_modes`` set): running outside the sandbox
        would read the denied paths and reach the network around the managed proxy.
        """
        requirements = self.config.requirements
        return not (
            self.deny_read
            or self.managed_network is not None
            or requirements.value("allowed_sandbox_modes") is not None
        )

    def decide(
        self,
        argv: Sequence[str],
        *,
        permissions: SandboxPermissions = SandboxPermissions.USE_DEFAULT,
        requested_prefix_rule: Sequence[str] | None = None,
        approval: ApprovalPolicy | None = None,
        sandbox: SandboxMode | None = None,
        sandbox_bypass: bool = True,
    ) -> ExecDecision:
        """May ``argv`` run, how, and why: skip (run), needs approval, or forbidden.

        ``sandbox_bypass=False`` forbids running outside the sandbox even where requirements
        would allow it (``codex execpolicy explain --no-sandbox-bypass``).
        """
        from codex_admin.execpolicy import evaluate_exec

        return evaluate_exec(
            self.rules,
            argv,
            approval=approval or self.approval_policy,
            sandbox=sandbox or self.sandbox_mode,
            permissions=permissions,
            requested_prefix_rule=requested_prefix_rule,
            sandbox_bypass=sandbox_bypass and self.sandbox_bypass_allowed,
        )

    # ----------------------------------------------------------------------------- the network

    @cached_property
    def network_table(self) -> dict[str, Any] | None:
        """The config's `[network]` plus the rules' `network_rule` hosts (before clamping)."""
        if not self._may_have_rules():
            # No rules folder and no requirement rules: the same empty answer, without
            # starting the Starlark engine (a proxied sandbox run pays for it otherwise).
            return network_table_with_rules(self.config.config.get("network"), (), ())
        allowed, denied = self.rules.compiled_network_domains()
        return network_table_with_rules(self.config.config.get("network"), allowed, denied)

    def _may_have_rules(self) -> bool:
        if self.config.requirements.value("rules") is not None:
            return True
        return any(os.path.lexists(folder / "rules") for folder in self.config.config_folders)

    def network_source(self) -> str:
        """Which layer set `[network]` (for messages)."""
        return next(
            (o for key, o in self.config.origins.items() if key.startswith("network.")),
            "config.toml",
        )

    def network_policy(
        self,
        *,
        config_file: Path | None = None,
        changes: Mapping[str, Any] | None = None,
        explicit: bool = False,
    ) -> tuple[NetworkPolicy, list[str]]:
        """The proxy's policy: `[network]` (or ``config_file``'s) clamped by requirements.

        ``explicit`` is for commands that run or query the proxy on purpose (`codex proxy
        run`, `codex network check`): there ``enabled`` defaults to true; requirements that set
        ``enabled = false`` still switch it off. Returns the policy and its warnings; the
        default one (no arguments) is built once per Governance.
        """
        if config_file is None and changes is None and not explicit:
            policy, warnings = self._default_network_policy
            return policy, list(warnings)
        return self._build_network_policy(config_file, changes, explicit)

    @cached_property
    def _default_network_policy(self) -> tuple[NetworkPolicy, list[str]]:
        # A proxied `codex sandbox` run asks twice (is it enabled? then: run with it).
        return self._build_network_policy(None, None, False)

    def _build_network_policy(
        self, config_file: Path | None, changes: Mapping[str, Any] | None, explicit: bool
    ) -> tuple[NetworkPolicy, list[str]]:
        from codex_admin.proxy import build_network_policy  # the proxy package: only when asked

        warnings: list[str] = []
        table: Any = self.network_table
        source = self.network_source()
        if config_file is not None:
            table = _network_table_from_file(config_file, warnings)
            source = str(config_file)
        merged = dict(table or {})
        if explicit:
            merged.setdefault("enabled", True)
        merged.update(changes or {})
        policy = build_network_policy(
            merged,
            self.managed_network,
            network_source=source,
            managed_source=self.config.requirements.source("experimental_network")
            or "requirements",
        )
        return policy, warnings + list(policy.warnings)

    # ----------------------------------------------------------------------------- the sandbox

    def sandbox_policy(
        self,
        *,
        network: NetworkMode | None = None,
        extra_writable_roots: Sequence[Path] = (),
        sandbox: SandboxMode | None = None,
        for_run: bool = True,
    ) -> SandboxPolicy:
        """How a command is confined: mode, writable roots, `deny_read`, network, environment,
        and the paths that must stay read-only because the next run trusts them.

        Raises CodexError when an untrusted layer (a project's `.codex/config.toml` or a `-c`
        override) sets a code-loading variable in `shell_environment_policy`, and, when
        ``for_run`` (not for an explanation), when ``--network proxy`` is asked for while the
        network policy is disabled (every request would be refused).
        """
        from codex_admin.sandbox import policy_from_config

        forced = network or self.request.network
        policy = policy_from_config(
            self.config.config,
            sandbox_mode=(sandbox or self.sandbox_mode).value,
            cwd=self.cwd,
            deny_read=self.deny_read,
            managed_network=self.managed_network,
            network=forced.value if forced else None,
            extra_writable_roots=[
                r.expanduser() for r in (*self.request.writable_roots, *extra_writable_roots)
            ],
            environ=self.environ,
            protected_paths=self.protected_paths(),
            untrusted_env=self._untrusted_env_settings(),
        )
        if for_run and forced is NetworkMode.PROXY:
            self._require_enabled_network()
        return policy

    def protected_paths(self) -> list[Path]:
        """What a sandboxed command must not write, wherever it lies: `$CODEX_HOME`, the system
        dir, every config layer file, requirements source and rules file this run reads."""
        paths = [self.codex_home, self.config.system_dir]
        raw_home = self.environ.get("CODEX_HOME")
        if raw_home:
            paths.append(Path(raw_home).expanduser().absolute())
        paths += [layer.path for layer in self.config.layers if layer.path is not None]
        paths += [s.path for s in self.config.requirement_sources if s.path is not None]
        for folder in self.config.config_folders:
            rules = folder / "rules"
            paths.append(rules)
            with contextlib.suppress(OSError):
                paths += sorted(rules.glob("*.rules"))
        return list(dict.fromkeys(p.absolute() for p in paths))

    def _untrusted_env_settings(self) -> list[UntrustedSetting]:
        """The `shell_environment_policy` values set by a project layer or a `-c` override
        (a selected profile counts as the layer that defined it)."""
        from codex_admin.sandbox import UntrustedSetting

        layers = {layer.name: layer for layer in self.config.layers}
        origins = self.config.origins
        found: list[UntrustedSetting] = []
        for key, origin in origins.items():
            parts = parse_key_path(key)
            if parts[:1] != ["shell_environment_policy"]:
                continue
            if origin.startswith("profile:"):
                name = origin.removeprefix("profile:")
                origin = origins.get(format_key(["profiles", name, *parts]), origin)
            layer = layers.get(origin)
            if layer is None or layer.kind not in _UNTRUSTED_LAYER_KINDS:
                continue
            source = (
                f"the project config {layer.path}"
                if layer.kind == "project"
                else "a -c/--config override"
            )
            path = str(layer.path) if layer.kind == "project" and layer.path else None
            if len(parts) == 3 and parts[1] == "set":
                found.append(UntrustedSetting(key, source, path, variable=parts[2]))
            elif parts[1:] == ["ignore_default_excludes"] and get_value(self.config.config, key):
                found.append(UntrustedSetting(key, source, path))
        return found

    def _require_enabled_network(self) -> None:
        policy, _ = self.network_policy()
        if policy.enabled:
            return
        managed = self.managed_network
        if managed is not None and managed.get("enabled") is False:
            source = self.config.requirements.source("experimental_network") or "requirements"
            raise CodexError(
                "network mode `proxy` was asked for, but the managed network is disabled by "
                f"{source} (experimental_network.enabled = false): every request would be refused",
                hint="use --network none; an administrator must enable the managed network",
            )
        raise CodexError(
            "network mode `proxy` was asked for, but the network policy is disabled "
            "([network] enabled is not true): the proxy would refuse every request with 503",
            hint="enable it with -c network.enabled=true (or `[network] enabled = true` in "
            'config.toml) and allow hosts, e.g. -c \'network.domains={"example.com"="allow"}\'',
        )

    def write_boundaries(self) -> WriteBoundaries:
        """Where the agent's own file edits may land without asking (plain data for the patch
        safety check): the sandbox's writable roots, with `.git`/`.codex`/`.agents` at any
        depth, $CODEX_HOME and the system dir protected, and `deny_read` never touched."""
        from codex_admin.sandbox import PROTECTED_NAMES, plan_sandbox

        protected = (str(self.codex_home), str(self.config.system_dir))
        if self.sandbox_mode is SandboxMode.DANGER_FULL_ACCESS:
            return WriteBoundaries(("/",), (), protected, self.deny_read, unrestricted=True)
        plan = plan_sandbox(self.sandbox_policy())
        return WriteBoundaries(
            writable_roots=tuple(str(root) for root in plan.writable),
            protected_names=PROTECTED_NAMES,
            protected_paths=protected,
            deny_read=self.deny_read,
        )

    def explain_sandbox(self, argv: Sequence[str], policy: SandboxPolicy) -> dict[str, Any]:
        """Policy, plan, backend argv and child environment names for ``argv``; runs nothing.
        Includes which bubblewrap would run (``bwrap``: path, source, version)."""
        from codex_admin.sandbox import bwrap_info, explain_command

        result = explain_command(
            policy,
            argv,
            network_config=self.network_table,
            managed_network=self.managed_network,
            environ=self.environ,
        )
        result["bwrap"] = bwrap_info()
        return result

    def run_sandboxed(
        self,
        policy: SandboxPolicy,
        argv: Sequence[str],
        *,
        timeout: float | None = None,
        capture: bool = False,
        forward_signals: bool = True,
    ) -> RunResult:
        """Run one command now and wait for it (``codex sandbox``): without an event loop
        unless the command needs the proxy, which then lives for this command only."""
        from codex_admin.sandbox import run_once

        return run_once(
            policy,
            argv,
            codex_home=self.codex_home,
            network_policy=lambda: self.network_policy()[0],
            timeout=timeout,
            capture=capture,
            forward_signals=forward_signals,
            environ=self.environ,
        )

    def sandbox_session(self, **proxy_options: Any) -> SandboxSession:
        """A session that runs many commands with one lazily started managed proxy."""
        from codex_admin.sandbox import SandboxSession

        return SandboxSession(
            codex_home=self.codex_home,
            proxy_options=proxy_options,
            # The rules (Starlark) are loaded only when a command needs the network.
            network_policy=lambda: self.network_policy()[0],
        )


# A project's .codex/config.toml comes with the repository; a -c string is often assembled by
# scripts and CI recipes from repository files. Neither may make every command load code.
_UNTRUSTED_LAYER_KINDS = frozenset({"project", "session_flags"})


def _network_table_from_file(path: Path, warnings: list[str]) -> Any:
    text = read_text_file(path, what="network config file")
    if text is None:
        raise CodexError(f"cannot read {path}: no such file", hint="check the --config-file path")
    document = parse_config_document(text, source=str(path), path=path)
    table = document.get("network")
    if table is None:
        warnings.append(f"{path} has no [network] table; using an empty policy")
    return table
