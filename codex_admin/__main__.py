"""`python -m codex_admin` runs the `codex` CLI."""

from codex_admin.cli.main import main

main()
