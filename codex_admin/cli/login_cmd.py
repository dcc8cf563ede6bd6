"""`codex login [--with-api-key | --device-auth]`, `codex login status [--json]`.

Human text goes to stderr with Codex 0.169's wording (stdout stays free for `--json`). Exit codes:
0 done / logged in, 1 error / not logged in, 2 usage, 3 an admin restriction refused the method
(``forced_login_method``, ``forced_chatgpt_workspace_id``).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from typing import TYPE_CHECKING, Annotated, Any

import typer

from codex_admin.cli.app import make_app
from codex_admin.cli.common import JsonOpt, OverrideOpt, load_effective_config
from codex_admin.cli.output import print_json

if TYPE_CHECKING:
    from codex_admin.auth import AuthSettings, DeviceCode

app = make_app(None, invoke_without_command=True)  # help: the callback docstring

PIPE_HINT = "printenv OPENAI_API_KEY | codex login --with-api-key"


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def settings_for(
    overrides: list[str] | None, issuer: str | None = None, client_id: str | None = None
) -> tuple[AuthSettings, dict[str, Any]]:
    """The auth settings of the effective config (and the resolved values, for the proxy)."""
    from codex_admin.auth import auth_settings

    result = load_effective_config(None, overrides)
    settings = auth_settings(
        result.config,
        codex_home=result.codex_home,
        requirements=result.requirements,
        issuer=issuer,
        client_id=client_id,
    )
    return settings, result.resolved


def _restricted(err: Exception) -> None:
    sys.stdout.flush()
    _err(f"error: {err}")
    raise typer.Exit(3)


@app.callback()
def login(
    ctx: typer.Context,
    with_api_key: Annotated[
        bool,
        typer.Option("--with-api-key", help=f"Read the API key from stdin (e.g. `{PIPE_HINT}`)"),
    ] = False,
    device_auth: Annotated[
        bool, typer.Option("--device-auth", help="Sign in with ChatGPT using a device code")
    ] = False,
    api_key: Annotated[str | None, typer.Option("--api-key", hidden=True)] = None,
    issuer: Annotated[str | None, typer.Option("--experimental_issuer", hidden=True)] = None,
    client_id: Annotated[str | None, typer.Option("--experimental_client-id", hidden=True)] = None,
    callback_port: Annotated[int | None, typer.Option("--callback-port", hidden=True)] = None,
    overrides: OverrideOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Sign in: ChatGPT in the browser (default), a device code, or an API key from stdin.

    Example: printenv OPENAI_API_KEY | codex login --with-api-key
    """
    if ctx.invoked_subcommand is not None:
        return
    from codex_admin.errors import CodexError

    if api_key is not None:
        raise CodexError(
            f"The --api-key flag is no longer supported. Pipe the key instead, e.g. `{PIPE_HINT}`."
        )
    if with_api_key and device_auth:
        raise typer.BadParameter(
            "cannot be combined with --device-auth", param_hint="--with-api-key"
        )
    from codex_admin.auth import LoginRestricted, OAuthError

    settings, resolved = settings_for(overrides, issuer, client_id)
    try:
        if with_api_key:
            auth = _api_key_login(settings)
        else:
            auth = asyncio.run(_chatgpt_login(settings, resolved, device_auth, callback_port))
    except LoginRestricted as err:
        _restricted(err)
        return
    except OAuthError as err:
        raise CodexError(f"Error logging in: {err.message}", hint=err.hint) from None
    if json_out:
        print_json(
            {"logged_in": True, "auth_mode": auth.mode.value, "store": settings.store_mode.value}
        )


def _api_key_login(settings: AuthSettings) -> Any:
    from codex_admin.auth import login_with_api_key
    from codex_admin.errors import CodexError

    if sys.stdin is None or sys.stdin.isatty():
        raise CodexError(
            f"--with-api-key expects the API key on stdin. Try piping it, e.g. `{PIPE_HINT}`."
        )
    _err("Reading API key from stdin...")
    key = sys.stdin.read(64 * 1024)
    auth = login_with_api_key(settings, key)
    _err("API key saved. Authentication is checked when you send a request.")
    return auth


def _print_device_code(device: DeviceCode) -> None:
    _err(
        "\nFollow these steps to sign in with ChatGPT using device code authorization:\n"
        f"\n1. Open this link in your browser and sign in to your account\n"
        f"   {device.verification_url}\n"
        "\n2. Enter this one-time code (expires in 15 minutes)\n"
        f"   {device.user_code}\n"
        "\nDevice codes are a common phishing target. Never share this code.\n"
    )


def _open_url(url: str) -> None:
    from urllib.parse import parse_qs, urlsplit

    redirect = parse_qs(urlsplit(url).query).get("redirect_uri", [""])[0]
    _err(
        f"Starting local login server on {redirect.removesuffix('/auth/callback')}.\n"
        f"If your browser did not open, navigate to this URL to authenticate:\n\n{url}\n\n"
        "On a remote or headless machine? Use `codex login --device-auth` instead."
    )
    # webbrowser may wait for the browser command to exit; the callback server must keep
    # running meanwhile, so the launcher gets its own daemon thread.
    threading.Thread(target=_launch_browser, args=(url,), daemon=True).start()


def _launch_browser(url: str) -> None:
    import webbrowser

    with contextlib.suppress(webbrowser.Error, OSError):
        webbrowser.open(url)


async def _chatgpt_login(
    settings: AuthSettings, resolved: dict[str, Any], device: bool, port: int | None
) -> Any:
    from codex_admin.auth import login_with_chatgpt, login_with_device_code
    from codex_admin.providers import build_http_client, respects_system_proxy

    async with build_http_client(
        settings.issuer, respect_system_proxy=respects_system_proxy(resolved)
    ) as http:
        if device:
            auth = await login_with_device_code(settings, http, on_code=_print_device_code)
        else:
            auth = await login_with_chatgpt(
                settings, http, on_url=_open_url, ports=(port,) if port is not None else None
            )
    _err("Successfully logged in")
    return auth


@app.command("status")
def status(overrides: OverrideOpt = None, json_out: JsonOpt = False) -> None:
    """Show the stored login (exit 0 when logged in, 1 when not).

    Example: codex login status --json
    """
    from codex_admin.auth import login_status

    settings, _ = settings_for(overrides)
    current = login_status(settings)
    if json_out:
        print_json(current.to_json())
    else:
        for line in current.lines():
            _err(line)
    if not current.logged_in:
        raise typer.Exit(1)


def logout_main(overrides: list[str] | None, json_out: bool) -> None:
    """`codex logout` (registered as its own command group in cli/main.py)."""
    from codex_admin.auth import logout

    settings, _ = settings_for(overrides)
    removed = logout(settings)
    if json_out:
        print_json({"removed": removed, "store": settings.store_mode.value})
    else:
        _err("Successfully logged out" if removed else "Not logged in")
