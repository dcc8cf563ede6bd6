"""Command-line front end. Thin: parse arguments, call one library entry point, render."""

from codex_admin.cli.main import main

__all__ = ["main"]
