"""The effective governance of one working directory, built once.

Config + requirements (every source, remote signed bundle included) + command rules + network
policy + sandbox policy, composed in one library so that every front-end -- `codex sandbox`,
`codex network check`, `codex execpolicy explain`, `codex doctor`, `codex proxy run` and the
agent -- answers "may this run, how, and why" and "run it governed" the same way.

Module map:

* :mod:`.loading` -- :class:`GovernanceRequest` and :func:`load_governed_config` (config with the
  remote requirements source wired in; the only place that does it);
* :mod:`.effective` -- :class:`Governance` and :func:`load_governance`;
* :mod:`.network` -- merging the rules' ``network_rule`` hosts into ``[network]``;
* :mod:`.doctor` -- :func:`run_doctor`, the report behind `codex doctor`.

Importing this package is cheap: the engines (Starlark rules, the proxy, bubblewrap probing) are
loaded by the members that use them.
"""

from typing import TYPE_CHECKING

from codex_admin.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from codex_admin.governance.doctor import Check, DoctorReport, run_doctor
    from codex_admin.governance.effective import Governance, WriteBoundaries, load_governance
    from codex_admin.governance.loading import GovernanceRequest, load_governed_config
    from codex_admin.governance.network import network_table_with_rules

_EXPORTS = {
    "Check": "codex_admin.governance.doctor",
    "DoctorReport": "codex_admin.governance.doctor",
    "run_doctor": "codex_admin.governance.doctor",
    "Governance": "codex_admin.governance.effective",
    "load_governance": "codex_admin.governance.effective",
    "WriteBoundaries": "codex_admin.governance.effective",
    "GovernanceRequest": "codex_admin.governance.loading",
    "load_governed_config": "codex_admin.governance.loading",
    "network_table_with_rules": "codex_admin.governance.network",
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


__all__ = [
    "Check",
    "DoctorReport",
    "Governance",
    "GovernanceRequest",
    "WriteBoundaries",
    "load_governance",
    "load_governed_config",
    "network_table_with_rules",
    "run_doctor",
]
