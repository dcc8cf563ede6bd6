"""`codex logout [--json]`: delete the stored login (file, keyring entry, memory).

"Not logged in" still exits 0, as in Codex. The work is done by :mod:`codex_admin.cli.login_cmd`
(one module owns the auth commands' settings and output); this module only gives `logout` its own
entry in the dispatcher.
"""

from __future__ import annotations

from codex_admin.cli.app import make_app
from codex_admin.cli.common import JsonOpt, OverrideOpt
from codex_admin.cli.login_cmd import logout_main

app = make_app(None, invoke_without_command=True)  # help: the callback docstring


@app.callback()
def logout(overrides: OverrideOpt = None, json_out: JsonOpt = False) -> None:
    """Remove stored authentication credentials.

    Example: codex logout
    """
    logout_main(overrides, json_out)
