"""codex-admin: enterprise policy and managed-deployment toolkit for a Codex-compatible agent."""

__version__ = "0.1.0"
__all__ = ["__version__"]
