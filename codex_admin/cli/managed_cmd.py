"""`codex managed ...`: build, inspect, diff, keygen, sign, verify, pack, remote.

Every command takes ``--json``; with it a failure prints ``{"error": {...}}`` on stdout (see
:mod:`codex_admin.cli.json_errors`). Exit status: 0 ok, 1 user error (invalid policy, bad
file, failed verification), 2 usage, 3 ``diff`` found a loosening.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from codex_admin.cli.app import make_app
from codex_admin.cli.common import JsonOpt, toml_value
from codex_admin.cli.json_errors import json_errors
from codex_admin.cli.output import print_json, print_warnings
from codex_admin.errors import CodexError

app = make_app("Build, inspect, diff, sign and verify managed policy.")

EXIT_LOOSENS = 3

StrictOpt = Annotated[bool, typer.Option("--strict", help="Fail on warnings too (exit 1)")]


@app.command("build")
def build(
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Output directory")],
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", metavar="FILE", help="managed_config.toml (becomes config_toml_base64)"
        ),
    ] = None,
    requirements: Annotated[
        Path | None,
        typer.Option("--requirements", metavar="FILE", help="requirements.toml"),
    ] = None,
    formats: Annotated[
        list[str] | None,
        typer.Option(
            "--format",
            metavar="FORMAT",
            help="mobileconfig | plist | windows | linux | all (repeatable, or comma-separated)",
        ),
    ] = None,
    organization: Annotated[
        str, typer.Option("--organization", metavar="NAME", help="PayloadOrganization")
    ] = "",
    identifier: Annotated[
        str,
        typer.Option(
            "--identifier", metavar="REVERSE-DNS", help="Profile PayloadIdentifier (com.acme.codex)"
        ),
    ] = "com.openai.codex.managed",
    strict: StrictOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Check both inputs as `config validate` does and against each other, then write MDM
    profiles and installers (deterministic output). Warnings go to stderr.

    \b
    Example: codex managed build --config managed/standard/managed_config.toml
               --requirements managed/standard/requirements.toml --out dist
    """
    from codex_admin.managed import FORMATS, build_policy

    with json_errors(json_out, command="codex managed build"):
        chosen: list[str] = []
        for item in formats or ["all"]:
            for name in item.split(","):
                chosen += list(FORMATS) if name.strip() == "all" else [name.strip()]
        bad = [name for name in chosen if name not in FORMATS]
        if bad:
            raise typer.BadParameter(
                f"{bad[0]!r} is not one of {', '.join(FORMATS)}, all", param_hint="'--format'"
            )
        result = build_policy(
            config,
            requirements,
            out,
            formats=chosen,
            organization=organization,
            identifier=identifier,
            strict=strict,
        )
    print_warnings(result.warnings)
    if json_out:
        print_json(
            {"out": str(out), "files": [str(p) for p in result.files], "warnings": result.warnings}
        )
        return
    for path in result.files:
        sys.stdout.write(f"wrote {path}\n")


@app.command("inspect")
def inspect(
    source: Annotated[
        Path,
        typer.Argument(
            metavar="SOURCE", help=".mobileconfig, .plist, requirements/managed .toml or a folder"
        ),
    ],
    json_out: JsonOpt = False,
) -> None:
    """Decode a policy, check it and print what it imposes (effective requirements). Exit 1
    when it is invalid (a typo'd MDM key included).

    Example: codex managed inspect dist/com.openai.codex.mobileconfig
    """
    from codex_admin.managed import load_policy

    with json_errors(json_out, command="codex managed inspect"):
        view = load_policy(source)
    if json_out:
        print_json(view.to_json())
        return
    out = sys.stdout.write
    out(f"policy: {view.origin} ({view.kind})\n")
    for title, text in (
        ("managed config", view.config_text),
        ("requirements", view.requirements_text),
    ):
        if text is None:
            out(f"\n{title}: (none)\n")
            continue
        out(f"\n{title}:\n")
        for line in text.rstrip("\n").splitlines() or [""]:
            out(f"  | {line}\n")
    count = len(view.warnings)
    out("\nvalidation: ok" + (f" with {count} warning(s) (on stderr)\n" if count else "\n"))
    out("\neffective requirements:\n")
    effective = view.requirements.to_json()
    if not effective:
        out("  (none)\n")
    for name, entry in effective.items():
        out(f"  {name} = {toml_value(entry['value'])}\n      (set by {entry['source']})\n")
    if view.config:
        out("\neffective managed config:\n")
        for key, value in view.config.items():
            out(f"  {key} = {toml_value(value)}\n")
    if view.rules:
        out("\nrules files:\n")
        for name in sorted(view.rules):
            out(f"  {name}\n")
    print_warnings(view.warnings)


@app.command("diff")
def diff(
    old: Annotated[Path, typer.Argument(metavar="OLD", help="Current policy (file or directory)")],
    new: Annotated[Path, typer.Argument(metavar="NEW", help="Proposed policy (file or directory)")],
    json_out: JsonOpt = False,
) -> None:
    """What the change does to policy. Exit 0 when nothing loosens, 3 when something does.

    Example: codex managed diff managed/standard managed/strict
    """
    from codex_admin.managed import diff_sources

    with json_errors(json_out, command="codex managed diff"):
        result, _, _ = diff_sources(old, new)
    if json_out:
        print_json({"old": str(old), "new": str(new), **result.to_json()})
    else:
        out = sys.stdout.write
        if not result.changes:
            out("no policy changes\n")
        for change in result.changes:
            out(f"{change.effect:<8} {change.area:<12} {change.message}\n")
        if result.changes:
            summary = ", ".join(f"{result.count(e)} {e}" for e in ("tighter", "looser", "neutral"))
            verdict = "LOOSENS policy" if result.loosens else "does not loosen policy"
            out(f"\n{summary}: this change {verdict}\n")
    if result.loosens:
        raise typer.Exit(EXIT_LOOSENS)


@app.command("keygen")
def keygen(
    out: Annotated[
        Path,
        typer.Option(
            "--out", metavar="NAME", help="Writes NAME.key (0600) and NAME.pub; never overwrites"
        ),
    ] = Path("codex-policy"),
    json_out: JsonOpt = False,
) -> None:
    """Create an Ed25519 key pair for signing policy bundles.

    Example: codex managed keygen --out policy-signing
    """
    from codex_admin.managed import generate_keypair

    private, public = Path(f"{out}.key"), Path(f"{out}.pub")
    with json_errors(json_out, command="codex managed keygen"):
        kid, b64 = generate_keypair(private, public)
    if json_out:
        print_json(
            {"private_key": str(private), "public_key": str(public), "key_id": kid, "public": b64}
        )
        return
    sys.stdout.write(
        f"private key: {private} (keep it secret; mode 0600)\npublic key:  {public}\n"
        f"key id:      {kid}\n\nfor remote_requirements.toml:\n"
        f'  public_keys = ["{b64}"]\n'
    )


@app.command("sign")
def sign(
    bundle: Annotated[Path, typer.Argument(metavar="BUNDLE_DIR", help="Bundle directory")],
    key: Annotated[
        Path, typer.Option("--key", metavar="FILE", help="Private key from `managed keygen`")
    ],
    serial: Annotated[
        int | None, typer.Option("--serial", metavar="N", help="Explicit serial (must grow)")
    ] = None,
    valid_for: Annotated[
        str,
        typer.Option(
            "--valid-for",
            metavar="DURATION",
            help="Signed lifetime: 30d, 12h, 90m, 2w or `never` (remote requirements refuse "
            "bundles without one)",
        ),
    ] = "30d",
    strict: StrictOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Check the policy in the bundle, then write the manifest (sha256 of every file, serial,
    expiry) and its detached signature. A bundle without a valid requirements.toml is refused.

    Example: codex managed sign --key policy-signing.key --valid-for 7d bundle/
    """
    from codex_admin.managed import parse_duration, sign_policy_bundle

    with json_errors(json_out, command="codex managed sign"):
        try:
            lifetime = parse_duration(valid_for)
        except CodexError as err:
            raise typer.BadParameter(err.message, param_hint="'--valid-for'") from None
        signed = sign_policy_bundle(bundle, key, serial=serial, valid_for=lifetime, strict=strict)
    print_warnings(signed.warnings)
    _render_bundle(signed.info.to_json(), json_out, "signed")


@app.command("verify")
def verify(
    bundle: Annotated[Path, typer.Argument(metavar="BUNDLE_DIR", help="Bundle directory")],
    pubkey: Annotated[
        list[Path],
        typer.Option("--pubkey", metavar="FILE", help="Trusted public key (repeatable)"),
    ],
    min_serial: Annotated[
        int | None,
        typer.Option("--min-serial", metavar="N", help="Refuse bundles older than this serial"),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Verify the signature, the expiry and every file; exit 1 naming what is wrong.

    Example: codex managed verify --pubkey policy-signing.pub bundle/
    """
    from codex_admin.managed import load_public_key, verify_bundle

    with json_errors(json_out, command="codex managed verify"):
        keys = [load_public_key(p) for p in pubkey]
        info = verify_bundle(bundle, keys, min_serial=min_serial)
    _render_bundle(info.to_json(), json_out, "verified")


@app.command("pack")
def pack(
    bundle: Annotated[Path, typer.Argument(metavar="BUNDLE_DIR", help="Signed bundle directory")],
    out: Annotated[
        Path, typer.Option("--out", metavar="FILE", help="Where to write the JSON document")
    ],
    json_out: JsonOpt = False,
) -> None:
    """Write the one-file form of a signed bundle, served at `requirements_url`.

    Example: codex managed pack bundle/ --out bundle.json
    """
    from codex_admin.managed import pack_policy_bundle

    with json_errors(json_out, command="codex managed pack"):
        written = pack_policy_bundle(bundle, out)
    if json_out:
        print_json({"out": str(written)})
        return
    sys.stdout.write(f"wrote {written}\n")


@app.command("remote")
def remote(json_out: JsonOpt = False) -> None:
    """Fetch (or use the cache of) the remote requirements now and show their state.

    Example: codex managed remote --json
    """
    from codex_admin.config import codex_home, system_dir
    from codex_admin.managed import resolve_remote_requirements

    with json_errors(json_out, command="codex managed remote"):
        result = resolve_remote_requirements(system_dir(), codex_home())
    if json_out:
        print_json({**result.to_json(), "requirements_toml": result.text})
        return
    if not result.configured:
        sys.stdout.write(f"no remote requirements configured (in {system_dir()})\n")
        return
    for key, value in result.to_json().items():
        if key != "warnings":
            sys.stdout.write(f"{key}: {value}\n")
    print_warnings(result.warnings)


def _render_bundle(info: dict[str, Any], json_out: bool, verb: str) -> None:
    if json_out:
        print_json({"ok": True, **info})
        return
    expiry = f", expires {info['expires']}" if info.get("expires") else ", no expiry"
    sys.stdout.write(
        f"{verb}: serial {info['serial']}, key {info['key_id']}{expiry}, "
        f"{len(info['files'])} files\n"
    )
    for name in info["files"]:
        sys.stdout.write(f"  {name}\n")
