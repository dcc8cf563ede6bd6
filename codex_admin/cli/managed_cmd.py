"""`codex managed ...`: build, inspect, diff, keygen, sign, verify, pack, remote."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from codex_admin.cli.app import make_app
from codex_admin.cli.common import JsonOpt, toml_value
from codex_admin.cli.output import print_json, print_warnings

app = make_app("Build, inspect, diff, sign and verify managed policy.")

EXIT_LOOSENS = 3


@app.command("build")
def build(
    out: Annotated[Path, typer.Option("--out", help="Output directory")],
    config: Annotated[
        Path | None, typer.Option("--config", help="managed_config.toml (config_toml_base64)")
    ] = None,
    requirements: Annotated[
        Path | None, typer.Option("--requirements", help="requirements.toml")
    ] = None,
    formats: Annotated[
        list[str] | None,
        typer.Option("--format", help="mobileconfig | plist | windows | linux | all (repeatable)"),
    ] = None,
    organization: Annotated[str, typer.Option("--organization", help="PayloadOrganization")] = "",
    identifier: Annotated[
        str, typer.Option("--identifier", help="Profile PayloadIdentifier")
    ] = "com.openai.codex.managed",
    json_out: JsonOpt = False,
) -> None:
    """Validate the inputs, then write MDM profiles and installers (deterministic output)."""
    from codex_admin.managed import FORMATS, build_policy

    chosen: list[str] = []
    for item in formats or ["all"]:
        for name in item.split(","):
            chosen += list(FORMATS) if name.strip() == "all" else [name.strip()]
    bad = [name for name in chosen if name not in FORMATS]
    if bad:
        raise typer.BadParameter(f"{bad[0]!r} is not one of {', '.join(FORMATS)}, all")
    written = build_policy(
        config,
        requirements,
        out,
        formats=chosen,
        organization=organization,
        identifier=identifier,
    )
    if json_out:
        print_json({"out": str(out), "files": [str(p) for p in written]})
        return
    for path in written:
        sys.stdout.write(f"wrote {path}\n")


@app.command("inspect")
def inspect(
    source: Annotated[Path, typer.Argument(help=".mobileconfig, .plist, .toml or a directory")],
    json_out: JsonOpt = False,
) -> None:
    """Decode a policy, validate it and print what it imposes (effective requirements)."""
    from codex_admin.managed import load_policy

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
    out("\nvalidation: ok\n")
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
    old: Annotated[Path, typer.Argument(help="Current policy (file or directory)")],
    new: Annotated[Path, typer.Argument(help="Proposed policy (file or directory)")],
    json_out: JsonOpt = False,
) -> None:
    """What the change does to policy. Exit 0 when nothing loosens, 3 when something does."""
    from codex_admin.managed import diff_sources

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
        Path, typer.Option("--out", help="Writes OUT.key (0600) and OUT.pub; never overwrites")
    ] = Path("codex-policy"),
    json_out: JsonOpt = False,
) -> None:
    """Create an Ed25519 key pair for signing policy bundles."""
    from codex_admin.managed import generate_keypair

    private, public = Path(f"{out}.key"), Path(f"{out}.pub")
    kid, b64 = generate_keypair(private, public)
    if json_out:
        print_json(
            {"private_key": str(private), "public_key": str(public), "key_id": kid, "public": b64}
        )
        return
    sys.stdout.write(
        f"private key: {private} (keep it secret; mode 0600)\npublic key:  {public}\n"
        f"key id:      {kid}\n\nfor {'remote_requirements.toml'}:\n"
        f'  public_keys = ["{b64}"]\n'
    )


@app.command("sign")
def sign(
    bundle: Annotated[Path, typer.Argument(help="Bundle directory")],
    key: Annotated[Path, typer.Option("--key", help="Private key from `managed keygen`")],
    serial: Annotated[
        int | None, typer.Option("--serial", help="Explicit serial (must grow)")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Write the manifest (sha256 of every file, serial) and its detached signature."""
    from codex_admin.managed import load_private_key, sign_bundle

    info = sign_bundle(bundle, load_private_key(key), serial=serial)
    _render_bundle(info.to_json(), json_out, "signed")


@app.command("verify")
def verify(
    bundle: Annotated[Path, typer.Argument(help="Bundle directory")],
    pubkey: Annotated[list[Path], typer.Option("--pubkey", help="Trusted public key (repeatable)")],
    min_serial: Annotated[
        int | None, typer.Option("--min-serial", help="Refuse bundles older than this serial")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Verify the signature and every file; exit 1 naming what is wrong."""
    from codex_admin.managed import load_public_key, verify_bundle

    info = verify_bundle(bundle, [load_public_key(p) for p in pubkey], min_serial=min_serial)
    _render_bundle(info.to_json(), json_out, "verified")


@app.command("pack")
def pack(
    bundle: Annotated[Path, typer.Argument(help="Signed bundle directory")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the JSON document")],
) -> None:
    """Write the one-file form of a signed bundle, served at `requirements_url`."""
    import json

    from codex_admin.managed import pack_bundle

    out.write_text(json.dumps(pack_bundle(bundle), sort_keys=True) + "\n", encoding="utf-8")
    sys.stdout.write(f"wrote {out}\n")


@app.command("remote")
def remote(json_out: JsonOpt = False) -> None:
    """Fetch (or use the cache of) the remote requirements now and show their state."""
    from codex_admin.config import codex_home, system_dir
    from codex_admin.managed import resolve_remote_requirements

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
    sys.stdout.write(
        f"{verb}: serial {info['serial']}, key {info['key_id']}, {len(info['files'])} files\n"
    )
    for name in info["files"]:
        sys.stdout.write(f"  {name}\n")
