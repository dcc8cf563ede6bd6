"""Command-line front end. Thin: parse arguments, call one library entry point, render.

The entry point is :func:`codex_admin.cli.main.main` (not re-exported here, so that
``python -m codex_admin.cli.main`` runs without importing the module twice).
"""
