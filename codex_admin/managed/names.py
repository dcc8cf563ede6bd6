"""File names of the managed package, import-free so the config loader can check them cheaply."""

__all__ = ["REMOTE_CONFIG_NAME"]

# Where the system dir (and only the system dir) names a remote requirements source.
REMOTE_CONFIG_NAME = "remote_requirements.toml"
