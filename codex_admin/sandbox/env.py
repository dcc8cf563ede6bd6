"""Which environment variables a sandboxed command sees (`shell_environment_policy`).

The algorithm follows Codex (spec config §6): start from ``inherit`` (``all``, ``core`` or
``none``), drop names matching the default excludes, drop ``exclude`` globs, add ``set``, then
keep only ``include_only`` globs when that list is non-empty. Globs are case-insensitive.

Deliberate differences, each closing a way secrets or code reach the wrong place:

* Codex defaults ``ignore_default_excludes`` to ``true`` (API keys in the developer's shell reach
  every command the agent runs). We default it to ``false``, and the default excludes cover the
  usual secret spellings (:data:`DEFAULT_EXCLUDES`). Credentials that belong to codex itself
  (:data:`OWN_SECRETS`) are never inherited, whatever the policy says.
* Inherited values that are URLs with credentials (``HTTPS_PROXY=http://user:pw@proxy:3128``,
  ``DATABASE_URL=postgres://app:pw@db/app``) lose the userinfo (:func:`strip_url_credentials`).
  ``set`` values are left alone: a layer that writes a credential there means it.
* A variable that makes programs load or run other code (:data:`CODE_LOADING_VARIABLES`:
  ``LD_PRELOAD``, ``BASH_ENV``, ``PATH``, ``GIT_CONFIG_*``, ...) may not come from an untrusted
  layer (a project's `.codex/config.toml` or a `-c` override): :func:`refuse_untrusted` raises.
  Otherwise a repository could turn every "safe" command the rules allow (``git status``,
  ``ls``) into its own program.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from codex_admin.errors import CodexError, Location

__all__ = [
    "CODE_LOADING_VARIABLES",
    "CORE_VARIABLES",
    "DEFAULT_EXCLUDES",
    "OWN_SECRETS",
    "EnvPolicy",
    "UntrustedSetting",
    "build_child_env",
    "is_code_loading",
    "refuse_untrusted",
    "strip_url_credentials",
]

Inherit = Literal["all", "core", "none"]

#: What ``inherit = "core"`` keeps (the same list as Codex).
CORE_VARIABLES: tuple[str, ...] = (
    "HOME",
    "LOGNAME",
    "PATH",
    "SHELL",
    "USER",
    "USERNAME",
    "TMPDIR",
    "TEMP",
    "TMP",
)

#: Removed unless ``ignore_default_excludes = true`` (case-insensitive globs).
DEFAULT_EXCLUDES: tuple[str, ...] = (
    "*KEY*",
    "*SECRET*",
    "*TOKEN*",
    "*PASSWORD*",
    "*PASSWD*",
    "*PASSPHRASE*",
    "*CREDENTIAL*",
    "*COOKIE*",
    "*PRIVATE*",
    "*_PAT",
    "*_PWD",
    "*_PASS",
    "*_AUTH",
    "SSHPASS",
)

#: Our own credentials: never inherited by a child, whatever the policy says.
OWN_SECRETS: frozenset[str] = frozenset(
    {
        "CODEX_API_KEY",
        "OPENAI_API_KEY",
        "CODEX_ACCESS_TOKEN",
        "CODEX_REFRESH_TOKEN",
        "CODEX_PROXY_CA_KEY",
    }
)

#: Variables that make a program load or run code other than what it was asked to run, or read
#: its configuration from somewhere else (case-insensitive globs). Grouped by who honours them.
CODE_LOADING_VARIABLES: tuple[str, ...] = (
    # the dynamic loader and the C library
    "LD_*",
    "GCONV_PATH",
    "GETCONF_DIR",
    "GLIBC_TUNABLES",
    "HOSTALIASES",
    "LOCALDOMAIN",
    "LOCPATH",
    "MALLOC_*",
    "NIS_PATH",
    "NLSPATH",
    "RES_OPTIONS",
    "RESOLV_HOST_CONF",
    # shells: start-up files, imported functions, options that evaluate prompts
    "BASH_ENV",
    "ENV",
    "BASH_FUNC_*",
    "BASHOPTS",
    "SHELLOPTS",
    "PS4",
    "PROMPT_COMMAND",
    "ZDOTDIR",
    "FPATH",
    "IFS",
    "CDPATH",
    "SHELL",
    # where programs are found and where they read their configuration
    "PATH",
    "HOME",
    "XDG_CONFIG_HOME",
    "XDG_CONFIG_DIRS",
    # interpreters
    "PYTHONSTARTUP",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONUSERBASE",
    "PYTHONBREAKPOINT",
    "PYTHONWARNINGS",
    "PYTHONPLATLIBDIR",
    "PYTHONPYCACHEPREFIX",
    "PYTHONEXECUTABLE",
    "PYTHONINSPECT",
    "PERL5OPT",
    "PERL5LIB",
    "PERLLIB",
    "PERL5DB",
    "NODE_OPTIONS",
    "NODE_PATH",
    "NPM_CONFIG_*",
    "RUBYOPT",
    "RUBYLIB",
    "LUA_INIT*",
    "LUA_PATH*",
    "LUA_CPATH*",
    "TCLLIBPATH",
    "PHPRC",
    "PHP_INI_SCAN_DIR",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "CLASSPATH",
    "DOTNET_STARTUP_HOOKS",
    "DOTNET_ADDITIONAL_DEPS",
    "CORECLR_*",
    "COR_PROFILER*",
    # git: configuration, helpers and repository location
    "GIT_CONFIG*",
    "GIT_EXEC_PATH",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_COMMON_DIR",
    "GIT_TEMPLATE_DIR",
    "GIT_SSH",
    "GIT_SSH_COMMAND",
    "GIT_ASKPASS",
    "GIT_EDITOR",
    "GIT_SEQUENCE_EDITOR",
    "GIT_PAGER",
    "GIT_EXTERNAL_DIFF",
    "GIT_PROXY_COMMAND",
    "GIT_TRACE*",
    # helpers that other programs start
    "PAGER",
    "MANPAGER",
    "SYSTEMD_PAGER*",
    "LESS",
    "LESSOPEN",
    "LESSCLOSE",
    "LESSKEY*",
    "EDITOR",
    "VISUAL",
    "BROWSER",
    "SSH_ASKPASS",
    "SUDO_ASKPASS",
    "GNUPGHOME",
    # option variables known to make tools run commands
    "RIPGREP_CONFIG_PATH",
    "TAR_OPTIONS",
    "GREP_OPTIONS",
    "WGETRC",
    "CURL_HOME",
    "MAKEFLAGS",
    "MAKEFILES",
    "GNUMAKEFLAGS",
    "CC",
    "CXX",
    "LD",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "GOFLAGS",
)


@dataclass(frozen=True)
class UntrustedSetting:
    """A `shell_environment_policy` value set by a layer we do not trust (project or `-c`).

    ``variable`` is the name for a ``set`` entry; None for ``ignore_default_excludes = true``.
    """

    key: str  # the config key, e.g. shell_environment_policy.set.LD_PRELOAD
    source: str  # the layer, for messages, e.g. "project config /repo/.codex/config.toml"
    path: str | None = None  # the file, when the layer is one
    variable: str | None = None


@dataclass(frozen=True)
class EnvPolicy:
    """A parsed ``[shell_environment_policy]`` table."""

    inherit: Inherit = "all"
    ignore_default_excludes: bool = False
    exclude: tuple[str, ...] = ()
    include_only: tuple[str, ...] = ()
    set: tuple[tuple[str, str], ...] = field(default=())

    @classmethod
    def from_table(cls, table: Mapping[str, Any] | None, *, where: str = "") -> EnvPolicy:
        """Build from the TOML table; ``where`` names the key for error messages."""
        if table is None:
            return cls()
        prefix = where or "shell_environment_policy"
        if not isinstance(table, Mapping):
            raise CodexError(f"`{prefix}` must be a table", hint='e.g. inherit = "core"')
        inherit = table.get("inherit", "all")
        if inherit not in ("all", "core", "none"):
            raise CodexError(f'`{prefix}.inherit` must be "all", "core" or "none", not {inherit!r}')
        ignore = table.get("ignore_default_excludes", False)
        if not isinstance(ignore, bool):
            raise CodexError(f"`{prefix}.ignore_default_excludes` must be true or false")
        sets = table.get("set", {})
        if not isinstance(sets, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in sets.items()
        ):
            raise CodexError(f"`{prefix}.set` must be a table of string values")
        for name, value in sets.items():
            if not name or "=" in name or "\0" in name or "\0" in value:
                raise CodexError(
                    f"`{prefix}.set` has an invalid variable {name!r}",
                    hint="variable names cannot be empty or contain '=' or NUL; values no NUL",
                )
        return cls(
            inherit=inherit,
            ignore_default_excludes=ignore,
            exclude=_globs(table.get("exclude", []), f"{prefix}.exclude"),
            include_only=_globs(table.get("include_only", []), f"{prefix}.include_only"),
            set=tuple(sorted(sets.items())),
        )


def _globs(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CodexError(f"`{key}` must be an array of glob strings", hint='e.g. ["AWS_*"]')
    return tuple(value)


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    upper = name.upper()
    return any(fnmatch.fnmatchcase(upper, pattern.upper()) for pattern in patterns)


def is_code_loading(name: str) -> bool:
    """True when ``name`` is one of :data:`CODE_LOADING_VARIABLES`."""
    return _matches(name, CODE_LOADING_VARIABLES)


def refuse_untrusted(settings: tuple[UntrustedSetting, ...]) -> None:
    """Raise CodexError when an untrusted layer sets a code-loading variable or turns the
    secret excludes off. ``settings`` lists every `shell_environment_policy` leaf such a
    layer set (the caller knows the layers; this package does not read config files)."""
    for setting in settings:
        where = Location(setting.path) if setting.path else None
        name = setting.variable
        if name is not None:
            if is_code_loading(name):
                raise CodexError(
                    f"`{setting.key}` comes from {setting.source}, which is not trusted to set "
                    f"{name}: it would make the commands the agent runs load or run other code",
                    location=where,
                    hint="remove it there; if every command really needs it, set it in your "
                    "user config ($CODEX_HOME/config.toml) or the managed config",
                )
        else:
            raise CodexError(
                f"`{setting.key}` comes from {setting.source}, which is not trusted to let "
                "secrets (*KEY*, *TOKEN*, *PASSWORD*, ...) reach the commands the agent runs",
                location=where,
                hint="remove it there; set it in your user config if you really want it",
            )


_URL = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<rest>[^\s,;\"']*)")
_KEEP_USER_SCHEMES = frozenset({"ssh", "git+ssh", "ssh+git", "sftp"})


def strip_url_credentials(value: str) -> str:
    """``value`` with the userinfo (``user:password@``) removed from every URL in it.

    The authority ends at the first ``/``, ``?`` or ``#``; a password that itself holds an
    unencoded ``/`` (``user:pa/ss@host``) is caught too, by taking everything up to an ``@``
    that follows ``user:``. A bare user name in an ssh-style URL (``ssh://git@host``) is kept:
    it is not a secret and ssh needs it.
    """
    if "://" not in value or "@" not in value:
        return value

    def fix(match: re.Match[str]) -> str:
        scheme, rest = match.group("scheme"), match.group("rest")
        end = len(rest)
        for delimiter in "/?#":
            found = rest.find(delimiter)
            if found != -1:
                end = min(end, found)
        at = rest.rfind("@", 0, end)
        if at == -1:
            # ``user:pa/ss@host``: a colon before the first "/" that is not a port's.
            first_at = rest.find("@")
            colon = rest.find(":")
            if first_at == -1 or colon == -1 or colon > end or colon > first_at:
                return match.group(0)
            if "[" in rest[:colon] or rest[colon + 1 : end].isdigit():
                return match.group(0)
            at = first_at
        userinfo = rest[:at]
        if scheme[:-3].lower() in _KEEP_USER_SCHEMES and ":" not in userinfo:
            return match.group(0)
        return scheme + rest[at + 1 :]

    return _URL.sub(fix, value)


def build_child_env(policy: EnvPolicy, parent: Mapping[str, str]) -> dict[str, str]:
    """Apply ``policy`` to ``parent`` (usually ``os.environ``) and return the child's env."""
    if policy.inherit == "all":
        env = dict(parent)
    elif policy.inherit == "core":
        env = {k: v for k, v in parent.items() if k in CORE_VARIABLES}
    else:
        env = {}
    env = {k: v for k, v in env.items() if k.upper() not in OWN_SECRETS}
    if not policy.ignore_default_excludes:
        env = {k: v for k, v in env.items() if not _matches(k, DEFAULT_EXCLUDES)}
    env = {k: strip_url_credentials(v) for k, v in env.items()}
    if policy.exclude:
        env = {k: v for k, v in env.items() if not _matches(k, policy.exclude)}
    env.update(dict(policy.set))
    if policy.include_only:
        env = {k: v for k, v in env.items() if _matches(k, policy.include_only)}
    return env
