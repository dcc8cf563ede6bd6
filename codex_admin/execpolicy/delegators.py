"""Programs that run other programs, and how to find what they run (argv level).

Prefix rules match argv[0], so ``sudo -Eu root git push`` or ``flock F git push`` would escape a
``git push`` forbid unless the runtime looks through the wrapper. :func:`targets` reads one
invocation the way the wrapper's own option parser does (clusters such as ``-Eu root``, ``-iS
'git push'``; ``--opt=value`` and ``--opt value``; operands such as ``timeout DURATION``) and
returns what it will run:

* :class:`Argv` -- a command (``env FOO=1 git push`` -> ``git push``); words stay
  :class:`~codex_admin.execpolicy.words.Word`\\ s, so ``find -exec git {} ;`` gives ``git`` plus
  a *dynamic* word (file names are chosen by whoever names files);
* :class:`Script` -- shell text to analyse (``su -c``, ``script -c``, ``flock -c``, ``sg``,
  ``watch``, ``eval``, ``trap``, ``alias``, ``rsync -e``, ``tar --to-command``...);
* :class:`Opaque` -- something whose effect cannot be seen (``source FILE``, a script file,
  ``parallel``, a computed option, inline interpreter code that can start programs).

An unknown option of a wrapper may or may not take a value, so both readings are returned.
Shells (every POSIX shell Debian ships: sh, dash, bash, rbash, zsh, ksh, ksh93, mksh, lksh,
pdksh, posh, yash, ash, hush, busybox's) are parsed for ``-c`` (in any cluster, after ``-o
NAME``/``-O NAME``), ``-s``, script files and standard input; other shells' syntax (fish, csh,
tcsh, rc, es, elvish, xonsh, nu, PowerShell, cmd) is never analysed: a script for them is opaque.

The lists are data below; :mod:`analysis` applies them recursively with depth and size limits.
"""

from __future__ import annotations

import itertools
import re
import shlex
from dataclasses import dataclass, field

from codex_admin.execpolicy.words import Word

__all__ = [
    "INTERPRETERS",
    "OTHER_SHELLS",
    "POSIX_SHELLS",
    "Argv",
    "Opaque",
    "Script",
    "Target",
    "program_name",
    "targets",
]


@dataclass(frozen=True)
class Argv:
    words: list[Word]
    via: str
    assignments: tuple[str, ...] = ()


@dataclass(frozen=True)
class Script:
    text: Word
    via: str
    shell: str = "sh"
    stdin_dynamic: bool = False  # its commands read data the caller pipes in (a git pager)


@dataclass(frozen=True)
class Opaque:
    reason: str


Target = Argv | Script | Opaque

POSIX_SHELLS = frozenset(
    {"sh", "dash", "bash", "rbash", "zsh", "ksh", "ksh93", "ksh88", "mksh", "mksh-static",
     "lksh", "pdksh", "posh", "yash", "ash", "hush", "busybox-sh", "bosh", "oksh", "loksh"}
)  # fmt: skip
OTHER_SHELLS = frozenset(
    {"fish", "csh", "tcsh", "bsd-csh", "rc", "es", "elvish", "xonsh", "nu", "nushell", "pwsh",
     "powershell", "powershell.exe", "pwsh.exe", "cmd", "cmd.exe", "ion", "murex", "oil", "osh",
     "ysh", "scsh", "closh", "tclsh8.6"}
)  # fmt: skip


@dataclass(frozen=True)
class _Spec:
    """How a wrapper parses its options before the command it runs."""

    flags: str = ""  # short options without a value
    values: str = ""  # short options with a value (attached or the next word)
    optional: str = ""  # short options whose value can only be attached (-t[file])
    long_flags: frozenset[str] = frozenset()
    long_values: frozenset[str] = frozenset()
    long_optional: frozenset[str] = frozenset()  # only --opt=value takes a value
    scripts: frozenset[str] = frozenset()  # options whose value is a shell command
    split: frozenset[str] = frozenset()  # options whose value is split into more arguments
    no_command: frozenset[str] = frozenset()  # options after which nothing is run
    operands: int = 0  # operands before the command (timeout DURATION, chroot NEWROOT)
    assignments: bool = False  # NAME=VALUE operands before the command
    numeric_flags: bool = False  # nice -10
    shell_default: bool = False  # no command: an interactive shell (reads standard input)


def _s(*names: str) -> frozenset[str]:
    return frozenset(names)


_SPECS: dict[str, _Spec] = {
    "env": _Spec(
        flags="i0v", values="uCa",
        long_flags=_s("--ignore-environment", "--null", "--debug", "--list-signal-handling"),
        long_values=_s("--unset", "--chdir", "--argv0"),
        long_optional=_s("--block-signal", "--default-signal", "--ignore-signal"),
        split=_s("-S", "--split-string"), no_command=_s("--help", "--version"),
        assignments=True,
    ),
    "sudo": _Spec(
        flags="AbBEHiKknPSsl", values="CDgprRtTUuac", optional="h",
        long_flags=_s("--askpass", "--background", "--bell", "--set-home", "--login",
                      "--non-interactive", "--preserve-groups", "--reset-timestamp", "--shell",
                      "--stdin"),
        long_values=_s("--close-from", "--chdir", "--chroot", "--group", "--host", "--prompt",
                       "--role", "--type", "--command-timeout", "--other-user", "--user",
                       "--auth-type", "--login-class"),
        long_optional=_s("--preserve-env"),
        no_command=_s("-l", "--list", "-v", "--validate", "-K", "--remove-timestamp", "-V",
                      "--version", "--help"),
        assignments=True,
    ),
    "doas": _Spec(flags="nsL", values="u", no_command=_s("-C")),
    "pkexec": _Spec(
        long_flags=_s("--disable-internal-agent", "--keep-cwd"), long_values=_s("--user"),
        no_command=_s("--help", "--version"),
    ),
    "run0": _Spec(
        values="ugDM",
        long_flags=_s("--no-ask-password", "--background", "--pty", "--pipe", "--via-shell"),
        long_values=_s("--user", "--group", "--nice", "--chdir", "--setenv", "--unit",
                       "--property", "--description", "--slice", "--machine", "--area"),
        long_optional=_s("--shell-prompt-prefix"),
    ),
    "setpriv": _Spec(
        long_flags=_s("--clear-groups", "--keep-groups", "--init-groups", "--no-new-privs",
                      "--nnp", "--reset-env"),
        long_values=_s("--reuid", "--regid", "--ruid", "--euid", "--rgid", "--egid", "--groups",
                       "--inh-caps", "--ambient-caps", "--bounding-set", "--securebits",
                       "--pdeathsig", "--selinux-label", "--apparmor-profile",
                       "--landlock-access", "--landlock-rule", "--seccomp-filter"),
        no_command=_s("-d", "--dump", "--help", "--version"),
    ),
    "flock": _Spec(
        flags="sexunoF", values="wE",
        long_flags=_s("--shared", "--exclusive", "--unlock", "--nonblock", "--close",
                      "--no-fork", "--verbose"),
        long_values=_s("--timeout", "--wait", "--conflict-exit-code"),
        scripts=_s("-c", "--command"), operands=1,
    ),
    "prlimit": _Spec(
        values="o", optional="cdefilmnqrstuvxy",
        long_flags=_s("--noheadings", "--raw", "--verbose"), long_values=_s("--output"),
        long_optional=_s("--core", "--data", "--nice", "--fsize", "--sigpending", "--memlock",
                         "--rss", "--nofile", "--msgqueue", "--rtprio", "--stack", "--cpu",
                         "--nproc", "--as", "--locks", "--rttime"),
        no_command=_s("-p", "--pid"),
    ),
    "script": _Spec(
        flags="aefqkV", values="EIOBTmo", optional="t",
        long_flags=_s("--append", "--return", "--flush", "--force", "--quiet"),
        long_values=_s("--echo", "--log-in", "--log-out", "--log-io", "--log-timing",
                       "--logging-format", "--output-limit"),
        long_optional=_s("--timing"), scripts=_s("-c", "--command"), shell_default=True,
    ),
    "unshare": _Spec(
        flags="muinpUCTfrc", values="SGRwl",
        long_flags=_s("--fork", "--map-root-user", "--map-current-user", "--keep-caps"),
        long_values=_s("--setgroups", "--propagation", "--map-user", "--map-group",
                       "--map-users", "--map-groups", "--root", "--wd", "--setuid", "--setgid",
                       "--monotonic", "--boottime", "--load-interp"),
        long_optional=_s("--mount", "--uts", "--ipc", "--net", "--pid", "--user", "--cgroup",
                         "--time", "--kill-child", "--mount-proc", "--mount-binfmt"),
        shell_default=True,
    ),
    "nsenter": _Spec(
        flags="aFZ", values="tSGN", optional="muinpUCTrw",
        long_flags=_s("--all", "--no-fork", "--preserve-credentials", "--follow-context"),
        long_values=_s("--target", "--setuid", "--setgid", "--join-cgroup", "--env"),
        long_optional=_s("--mount", "--uts", "--ipc", "--net", "--pid", "--user", "--cgroup",
                         "--time", "--root", "--wd", "--wdns"),
        shell_default=True,
    ),
    "chroot": _Spec(
        long_flags=_s("--skip-chdir"), long_values=_s("--userspec", "--groups"), operands=1,
        shell_default=True,
    ),
    "systemd-run": _Spec(
        flags="rtPqGdS", values="upEMH",
        long_flags=_s("--user", "--system", "--scope", "--remain-after-exit", "--send-sighup",
                      "--pty", "--pipe", "--quiet", "--collect", "--wait", "--no-block",
                      "--no-ask-password", "--same-dir", "--slice-inherit", "--on-clock-change",
                      "--on-timezone-change", "--ignore-failure", "--background"),
        long_values=_s("--unit", "--property", "--description", "--slice", "--setenv",
                       "--working-directory", "--machine", "--host", "--uid", "--gid", "--nice",
                       "--on-active", "--on-boot", "--on-startup", "--on-unit-active",
                       "--on-unit-inactive", "--on-calendar", "--path-property",
                       "--socket-property", "--timer-property", "--service-type",
                       "--expand-environment", "--json", "--capsule"),
        shell_default=True,
    ),
    "strace": _Spec(flags="cCdDfFhiknNqrtTvVwxyzZ", values="abeEIoOpPsSuUX"),
    "ltrace": _Spec(flags="bcCdfhiLrStTV", values="aAeFlnopsuwxD"),
    "command": _Spec(flags="p", no_command=_s("-v", "-V")),
    "builtin": _Spec(),
    "exec": _Spec(flags="cl", values="a"),
    "nohup": _Spec(no_command=_s("--help", "--version")),
    "time": _Spec(
        flags="pavq", values="fo", long_flags=_s("--portability", "--append", "--verbose",
                                                 "--quiet"),
        long_values=_s("--format", "--output"),
    ),
    "nice": _Spec(values="n", long_values=_s("--adjustment"), numeric_flags=True),
    "renice": _Spec(no_command=_s("-p", "-g", "-u", "-n", "--priority")),
    "timeout": _Spec(
        flags="v", values="sk", long_flags=_s("--preserve-status", "--foreground", "--verbose"),
        long_values=_s("--signal", "--kill-after"), operands=1,
    ),
    "stdbuf": _Spec(values="ioe", long_values=_s("--input", "--output", "--error")),
    "ionice": _Spec(
        flags="t", values="cn", long_flags=_s("--ignore"), long_values=_s("--class",
                                                                         "--classdata"),
        no_command=_s("-p", "-P", "-u", "--pid", "--pgid", "--uid"),
    ),
    "chrt": _Spec(
        flags="abdfioreRv", values="TPD",
        long_flags=_s("--all-tasks", "--batch", "--deadline", "--fifo", "--idle", "--other",
                      "--rr", "--ext", "--reset-on-fork", "--verbose"),
        long_values=_s("--sched-runtime", "--sched-period", "--sched-deadline"),
        no_command=_s("-p", "--pid", "-m", "--max"), operands=1,
    ),
    "taskset": _Spec(flags="ac", long_flags=_s("--all-tasks", "--cpu-list"),
                     no_command=_s("-p", "--pid"), operands=1),
    "setsid": _Spec(flags="cfw", long_flags=_s("--ctty", "--fork", "--wait")),
    "nocorrect": _Spec(),
    "noglob": _Spec(),
    "coproc": _Spec(),
    "catchsegv": _Spec(),
    "sshpass": _Spec(flags="ve", values="pfdP"),
    "fakeroot": _Spec(flags="uh", values="lsib", long_values=_s("--lib", "--faked")),
    "fakechroot": _Spec(values="lcde", long_values=_s("--lib", "--config-dir", "--environment",
                                                      "--elfloader")),
    "proxychains": _Spec(flags="q", values="f"),
    "proxychains4": _Spec(flags="q", values="f"),
    "torsocks": _Spec(flags="iqhd", values="uapP", long_flags=_s("--isolate", "--quiet",
                                                                "--debug"),
                      long_values=_s("--user", "--pass", "--address", "--port")),
    "firejail": _Spec(),
    "valgrind": _Spec(),
    "busybox": _Spec(no_command=_s("--install", "--list", "--list-full", "--help")),
    "ld.so": _Spec(
        long_flags=_s("--inhibit-cache"),
        long_values=_s("--library-path", "--inhibit-rpath", "--audit", "--preload", "--argv0",
                       "--glibc-hwcaps-prepend", "--glibc-hwcaps-mask"),
        no_command=_s("--list", "--verify", "--help", "--version", "--list-diagnostics",
                      "--list-tunables"),
    ),
    "bwrap": _Spec(
        long_flags=_s("--unshare-all", "--share-net", "--unshare-user", "--unshare-user-try",
                      "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                      "--unshare-cgroup", "--unshare-cgroup-try", "--die-with-parent",
                      "--as-pid-1", "--new-session", "--clearenv", "--disable-userns",
                      "--assert-userns-disabled"),
        long_values=_s("--args", "--argv0", "--uid", "--gid", "--hostname", "--chdir",
                       "--unsetenv", "--lock-file", "--sync-fd", "--remount-ro", "--exec-label",
                       "--file-label", "--proc", "--dev", "--tmpfs", "--mqueue", "--dir",
                       "--seccomp", "--add-seccomp-fd", "--block-fd", "--userns-block-fd",
                       "--info-fd", "--json-status-fd", "--userns", "--userns2", "--pidns",
                       "--cap-add", "--cap-drop", "--perms", "--size"),
    ),
}  # fmt: skip
# bwrap options that take two values (SRC DEST)
_BWRAP_TWO = _s(
    "--bind",
    "--bind-try",
    "--dev-bind",
    "--dev-bind-try",
    "--ro-bind",
    "--ro-bind-try",
    "--symlink",
    "--setenv",
    "--file",
    "--bind-data",
    "--ro-bind-data",
    "--chmod",
    "--bind-fd",
    "--ro-bind-fd",
    "--overlay-src",
    "--tmp-overlay",
    "--ro-overlay",
    "--overlay",
)

# Inline-code interpreters: options whose value is code, and what in that code can start a
# program. Code that matches (or names a program a restrictive rule names) is opaque.
_SPAWN_GENERIC = (
    r"system|exec|spawn|popen|subprocess|fork|shell|child_process|proc_open|passthru|pcntl"
    r"|__import__|importlib|getattr|__dict__|globals|\beval\b|compile|ctypes|runpy|breakpoint"
    r"|\bpdb\b|webbrowser|`|%x|\bqx\b|readpipe|\bpty\b|Open3|Process|Runtime|IO\.popen|Kernel"
    r"|\bdo shell script\b|\btell\b|Deno\.(run|Command)|Bun\.|\brun\(|\bload\b|dofile|require"
    r"|include|ffi|dlopen|dl\("
)
_SPAWN_OPEN = r"|\bopen\b|\|"  # perl/ruby/tcl: open("|cmd") starts a program
INTERPRETERS: dict[str, tuple[frozenset[str], str]] = {
    "python": (_s("-c"), _SPAWN_GENERIC),
    "pypy": (_s("-c"), _SPAWN_GENERIC),
    "perl": (_s("-e", "-E"), _SPAWN_GENERIC + _SPAWN_OPEN),
    "ruby": (_s("-e"), _SPAWN_GENERIC + _SPAWN_OPEN),
    "node": (_s("-e", "--eval", "-p", "--print"), _SPAWN_GENERIC + r"|Function|import"),
    "nodejs": (_s("-e", "--eval", "-p", "--print"), _SPAWN_GENERIC + r"|Function|import"),
    "deno": (_s("eval"), _SPAWN_GENERIC + r"|Function|import"),
    "bun": (_s("-e", "--eval", "-p", "--print"), _SPAWN_GENERIC + r"|Function|import|\$"),
    "php": (_s("-r"), _SPAWN_GENERIC + r"|assert|create_function|mail|putenv"),
    "lua": (_s("-e"), _SPAWN_GENERIC + r"|os\.|io\."),
    "luajit": (_s("-e"), _SPAWN_GENERIC + r"|os\.|io\."),
    "tclsh": (_s(), _SPAWN_GENERIC + _SPAWN_OPEN + r"|source|uplevel|interp"),
    "wish": (_s(), _SPAWN_GENERIC + _SPAWN_OPEN + r"|source|uplevel|interp"),
    "expect": (_s("-c"), _SPAWN_GENERIC + _SPAWN_OPEN + r"|source|uplevel|interp"),
    "osascript": (_s("-e"), _SPAWN_GENERIC + r"|script|application"),
    "rscript": (_s("-e"), _SPAWN_GENERIC + r"|pipe|processx|callr|source|parse|\.Call"),
    "r": (_s("-e"), _SPAWN_GENERIC + r"|pipe|processx|callr|source|parse|\.Call"),
    "julia": (_s("-e", "-E", "--eval", "--print"), _SPAWN_GENERIC + r"|Cmd|ccall|Meta\."),
    "awk": (_s(), r"system|\||getline|@load|@include"),
    "sqlite3": (_s("-cmd"), r"\.sh|\.sy|\.read|\.import|\.once|\.output|\.open|load_extension|\|"),
    "psql": (_s("-c", "--command"), r"\\!|\\o|\\g|\\i|\\copy|program|\\setenv|\\gexec"),
    "mysql": (_s("-e", "--execute"), r"system|\\!|tee|pager|source|\\\.|\\P"),
    "dc": (_s("-e", "--expression"), r"!"),
}
_INTERPRETER_ALIASES = {
    "gawk": "awk", "mawk": "awk", "nawk": "awk", "busybox-awk": "awk", "original-awk": "awk",
    "Rscript": "rscript", "R": "r", "python2": "python", "python3": "python", "pypy3": "pypy",
}  # fmt: skip
_PYTHON = re.compile(r"(python|pypy)[0-9.]*(-dbg|-config)?")
# programs that are never analysed when they get commands or code: their language is too large
_OPAQUE_WITH_ARGS = {
    "parallel": "GNU parallel runs commands built from its arguments and input",
    ".": "`.` runs a script file",
    "source": "`source` runs a script file",
    "at": "`at` runs commands read later",
    "batch": "`batch` runs commands read later",
    "screen": "`screen` runs a command in a new terminal",
    "vim": "vim can run commands", "vi": "vi can run commands", "nvim": "nvim can run commands",
    "ex": "ex can run commands", "view": "vim can run commands", "emacs": "emacs can run code",
    "gdb": "gdb can run commands",
}  # fmt: skip
_TMUX_QUERIES = _s(
    "ls",
    "list-sessions",
    "list-windows",
    "list-panes",
    "list-clients",
    "kill-server",
    "kill-session",
    "has-session",
    "-V",
)
# options (of programs that are not wrappers) whose value is a shell command the program runs
_SCRIPT_OPTIONS: dict[str, frozenset[str]] = {
    "rsync": _s("-e", "--rsh"),
    "tar": _s("-I", "--use-compress-program", "--to-command", "-F", "--info-script",
              "--new-volume-script"),
    "zip": _s("-TT", "--unzip-command"),
    "aria2c": _s("--on-download-complete", "--on-download-start", "--on-download-error",
                 "--on-download-stop", "--on-bt-download-complete", "--on-download-pause"),
    "make": _s("--eval", "-E"),
    "git-difftool": _s("-x", "--extcmd"),
}  # fmt: skip
_SSH = _s("ssh", "scp", "sftp", "autossh", "sshfs", "slogin")


def program_name(word: Word) -> str:
    """The name a word runs as: its file name (``/usr/bin/env`` -> ``env``); ld.so's spellings
    (``/lib64/ld-linux-x86-64.so.2``) are ``ld.so``."""
    name = word.text.rstrip("/").rsplit("/", 1)[-1]
    if name.startswith(("ld-linux", "ld-musl", "ld.so", "ld64.so")):
        return "ld.so"
    return name


@dataclass
class _Parse:
    """The state of reading one wrapper's options."""

    args: list[Word]
    index: int
    assignments: list[str] = field(default_factory=list)
    scripts: list[Word] = field(default_factory=list)
    unknown: list[int] = field(default_factory=list)  # where an unknown option may take a value
    stop: str | None = None  # "none": nothing runs; else an opaque reason


def _read_options(spec: _Spec, name: str, args: list[Word]) -> list[_Parse]:
    """All plausible readings (several when an unknown option may or may not take a value)."""
    results: list[_Parse] = []
    pending = [_Parse(list(args), 0)]
    while pending and len(results) < 8:
        results.append(_read_from(spec, name, pending.pop(), pending))
    return results


def _fork(state: _Parse, index: int) -> _Parse:
    return _Parse(state.args, index, list(state.assignments), list(state.scripts))


def _split_value(state: _Parse, at: int, width: int, value: Word, name: str) -> bool:
    """Replace ``env -S VALUE`` by VALUE's words; False (and an opaque stop) when unknowable."""
    if not value.static or "$" in value.text or "\\" in value.text:
        state.stop = f"`{name} -S` splits a string with its own expansions: `{value.text}`"
        return False
    try:
        words = [Word(token) for token in shlex.split(value.text)]
    except ValueError:
        state.stop = f"`{name} -S` gets a string it cannot split: `{value.text}`"
        return False
    state.args = [*state.args[:at], *words, *state.args[at + width :]]
    return True


def _read_from(spec: _Spec, name: str, state: _Parse, pending: list[_Parse]) -> _Parse:
    i = state.index
    while i < len(state.args):
        args = state.args
        word = args[i]
        text = word.text
        if not word.static:
            break  # the command starts here (its name is computed: the caller says so)
        if text == "--":
            i += 1
            break
        if spec.assignments and "=" in text and _is_name(text.split("=", 1)[0]):
            state.assignments.append(text.split("=", 1)[0])
            i += 1
            continue
        if not text.startswith("-") or text == "-":
            break
        if text in spec.no_command or text.split("=", 1)[0] in spec.no_command:
            state.stop = "none"
            return state
        if text.startswith("--"):
            option, eq, value = text.partition("=")
            if option in spec.split:
                if eq and _split_value(state, i, 1, Word(value), name):
                    continue
                if not eq and i + 1 < len(args) and _split_value(state, i, 2, args[i + 1], name):
                    continue
                state.index = i
                return state
            if option in spec.scripts:
                if eq:
                    state.scripts.append(Word(value))
                    i += 1
                elif i + 1 < len(args):
                    state.scripts.append(args[i + 1])
                    i += 2
                else:
                    i += 1
            elif option in spec.long_values or (name == "bwrap" and option in _BWRAP_TWO):
                # only bwrap's own two-value options: run0/systemd-run --setenv takes one
                width = 2 if name == "bwrap" and option in _BWRAP_TWO else 1
                i += 1 if eq and width == 1 else 1 + width
            elif (
                option in spec.long_flags
                or option in spec.long_optional
                or (name in ("firejail", "valgrind"))
            ):
                i += 1
            else:
                if not eq:
                    pending.append(_fork(state, i + 2))
                state.unknown.append(i)
                i += 1
            continue
        # a cluster of short options
        j = 1
        consumed = 0
        split = False
        while j < len(text):
            letter = text[j]
            if f"-{letter}" in spec.no_command:
                state.stop = "none"
                return state
            if f"-{letter}" in spec.split:
                attached = text[j + 1 :]
                head = [Word(text[:j])] if j > 1 else []
                following = args[i + 1] if i + 1 < len(args) else None
                split_word = Word(attached) if attached else following
                if split_word is None:
                    break
                width = 1 if attached else 2
                state.args = [*args[:i], *head, *args[i + width :]]
                if not _split_value(state, i + len(head), 0, split_word, name):
                    state.index = i
                    return state
                split = True
                break
            if f"-{letter}" in spec.scripts:
                value = text[j + 1 :]
                if value:
                    state.scripts.append(Word(value))
                elif i + 1 < len(args):
                    state.scripts.append(args[i + 1])
                    consumed = 1
                break
            if letter in spec.values:
                consumed = 0 if text[j + 1 :] else 1
                break
            if letter in spec.optional:
                break
            if letter in spec.flags or (spec.numeric_flags and letter in "0123456789+-"):
                j += 1
                continue
            if j + 1 == len(text):  # an unknown last letter may take the next word
                pending.append(_fork(state, i + 2))
            state.unknown.append(i)
            break
        if split:
            i += 1 if j > 1 else 0  # re-read: the split words follow the flags before -S
            continue
        i += 1 + consumed
    state.index = i
    return state


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _is_name(text: str) -> bool:
    return _NAME.fullmatch(text) is not None


def _wrapper(name: str, spec: _Spec, words: list[Word], stdin: str | None) -> list[Target]:
    args = words[1:]
    out: list[Target] = []
    for state in _read_options(spec, name, args):
        if state.stop == "none":
            continue
        if state.stop is not None:
            out.append(Opaque(state.stop))
            continue
        out.extend(Script(script, name) for script in state.scripts)
        rest = state.args[state.index :]
        if spec.operands:
            if name == "chrt" and rest and not rest[0].text.isdigit():
                pass  # chrt --other cmd: the priority is optional
            else:
                rest = rest[spec.operands :]
            if name == "flock" and rest and rest[0].text in ("-c", "--command"):
                if len(rest) > 1:
                    out.append(Script(rest[1], name))
                continue
        if name == "script":
            rest = []  # its operand is the typescript file, not a command
        assigned = tuple(state.assignments)
        if name == "coproc" and len(rest) > 1:
            out.append(Argv(rest[1:], name, assigned))  # coproc NAME command
        if rest:
            out.append(Argv(list(rest), name, assigned))
        elif (spec.shell_default or _shell_flag(name, state.args[: state.index])) and not (
            state.scripts
        ):
            if stdin is not None:
                out.append(Script(Word(stdin), f"{name} (standard input)"))
            else:  # an interactive shell: whatever is typed into it is never evaluated
                out.append(Opaque(f"`{name}` starts a shell that reads commands as they come"))
    return out


def _shell_flag(name: str, options: list[Word]) -> bool:
    """``sudo -s``/``sudo -i`` (and clusters such as ``-iu root``) without a command start a
    shell."""
    if name != "sudo":
        return False
    for word in options:
        text = word.text
        if text in ("--shell", "--login") or (
            text.startswith("-") and not text.startswith("--") and ("s" in text or "i" in text)
        ):
            return True
    return False


def _shell(name: str, words: list[Word], stdin: str | None, stdin_dynamic: bool) -> list[Target]:
    """``sh [options] [-c SCRIPT [NAME [ARGS]] | -s [ARGS] | FILE [ARGS]]``."""
    args = words[1:]
    command_mode = stdin_mode = False
    i = 0
    while i < len(args):
        word = args[i]
        if not word.static:
            return [Opaque(f"`{name}` gets an argument computed at run time: `{word.text}`")]
        text = word.text
        if text in ("--", "-"):
            i += 1
            break
        if text.startswith("--"):
            i += 2 if text in ("--rcfile", "--init-file") else 1
            continue
        if text[:1] in ("-", "+") and len(text) > 1:
            letters = text[1:]
            command_mode = command_mode or "c" in letters
            stdin_mode = stdin_mode or "s" in letters
            i += 1 + sum(1 for letter in letters if letter in "oO")
            continue
        break
    rest = args[i:]
    if command_mode:
        return [Script(rest[0], name, name)] if rest else []
    if rest and not stdin_mode:
        return [Opaque(f"`{name} {rest[0].text}` runs a script file")]
    if stdin is not None:
        return [Script(Word(stdin), f"{name} (standard input)", name)]
    # an interactive shell or one fed by a pipe: whatever it reads is never evaluated
    return [Opaque(f"`{name}` runs commands read from its standard input")]


def _find(words: list[Word]) -> list[Target]:
    out: list[Target] = []
    args = words[1:]
    i = 0
    while i < len(args):
        if args[i].text in ("-exec", "-execdir", "-ok", "-okdir"):
            end = i + 1
            while end < len(args) and args[end].text not in (";", "+"):
                end += 1
            command = [w if "{}" not in w.text else Word(w.text, False) for w in args[i + 1 : end]]
            out.append(
                Argv(command, "find") if command else Opaque("`find -exec` without a command")
            )
            i = end
        elif not args[i].static and i > 0 and args[i - 1].text in ("-exec", "-execdir"):
            out.append(Opaque("`find -exec` runs a command computed at run time"))
        i += 1
    return out


_XARGS = _Spec(
    flags="0oprtx", values="aEdLnPsI", optional="eil",
    long_flags=_s("--null", "--open-tty", "--interactive", "--no-run-if-empty", "--verbose",
                  "--exit", "--show-limits"),
    long_values=_s("--arg-file", "--delimiter", "--max-args", "--max-procs", "--max-chars",
                   "--process-slot-var"),
    long_optional=_s("--eof", "--replace", "--max-lines"),
)  # fmt: skip


def _xargs(words: list[Word]) -> list[Target]:
    args = words[1:]
    replace: str | None = None
    for index, word in enumerate(args):
        text = word.text
        if text == "-I" and index + 1 < len(args):
            replace = args[index + 1].text
        elif text.startswith("-I") and len(text) > 2:
            replace = text[2:]
        elif text == "-i" or text == "--replace":
            replace = "{}"
        elif text.startswith(("-i", "--replace=")):
            replace = text.split("=", 1)[1] if "=" in text else text[2:]
    out: list[Target] = []
    for target in _wrapper("xargs", _XARGS, words, None):
        if isinstance(target, Argv):
            command = [
                Word(w.text, False) if replace and replace in w.text else w for w in target.words
            ]
            out.append(Argv([*command, Word("<input>", False)], "xargs"))
        else:
            out.append(target)
    if not any(isinstance(t, Argv) for t in out):
        out.append(Argv([Word("echo"), Word("<input>", False)], "xargs"))
    return out


def _su(name: str, words: list[Word]) -> list[Target]:
    """``su``/``runuser``: -c/--command/--session-command is a shell command; options may come
    after the user (util-linux permutes them); other arguments after the user go to the shell."""
    args = words[1:]
    out: list[Target] = []
    shell_args: list[Word] = []
    seen_user = False
    i = 0
    while i < len(args):
        word = args[i]
        text = word.text
        if not word.static:
            return [Opaque(f"`{name}` gets an argument computed at run time: `{text}`")]
        if text == "--":
            shell_args.extend(args[i + 1 + (0 if seen_user else 1) :])
            break
        option, eq, value = text.partition("=")
        if option in ("-c", "--command", "--session-command"):
            script = Word(value) if eq else (args[i + 1] if i + 1 < len(args) else None)
            if script is not None:
                out.append(Script(script, name))
            i += 1 if eq else 2
            continue
        if name == "runuser" and option in ("-u", "--user"):
            rest = args[i + 2 :] if not eq else args[i + 1 :]
            if rest and rest[0].text == "--":
                rest = rest[1:]
            if rest:
                out.append(Argv(list(rest), name))
            return out
        if text.startswith("-") and text != "-":
            if "c" in text[1:] and not text.startswith("--"):  # a cluster such as -lc
                attached = text[text.index("c") + 1 :]
                if attached:
                    out.append(Script(Word(attached), name))
                elif i + 1 < len(args):
                    out.append(Script(args[i + 1], name))
                    i += 1
            elif (
                option
                in (
                    "-s",
                    "--shell",
                    "-g",
                    "--group",
                    "-G",
                    "--supp-group",
                    "-w",
                    "--whitelist-environment",
                )
                and not eq
            ):
                i += 1
            i += 1
            continue
        if text == "-":
            i += 1
            continue
        if not seen_user:
            seen_user = True
        else:
            shell_args.append(word)
        i += 1
    if shell_args:
        out.extend(_shell("sh", [Word("sh"), *shell_args], None, False))
    elif not out:
        out.append(Opaque(f"`{name}` starts a shell that reads commands as they come"))
    return out


def _watch(words: list[Word]) -> list[Target]:
    args = words[1:]
    direct = False
    i = 0
    while i < len(args) and args[i].text.startswith("-"):
        text = args[i].text
        if text == "--":
            i += 1
            break
        if text in ("-x", "--exec"):
            direct = True
        if text in ("-n", "--interval", "-q", "--equexit", "--shotsdir") or (
            text.startswith("-") and not text.startswith("--") and text[-1] in "nq"
        ):
            i += 1
        i += 1
    rest = args[i:]
    if not rest:
        return []
    if direct:
        return [Argv(list(rest), "watch")]
    if not all(w.static for w in rest):
        return [Opaque("`watch` runs a command computed at run time")]
    return [Script(Word(" ".join(w.text for w in rest)), "watch")]


def _eval_like(name: str, words: list[Word]) -> list[Target]:
    args = words[1:]
    if name == "eval":
        if not all(w.static for w in args):
            return [Opaque("`eval` runs a string computed at run time")]
        return [Script(Word(" ".join(w.text for w in args)), "eval")] if args else []
    if name == "trap":
        if (
            not args
            or args[0].text in ("-l", "-p", "-P", "-")
            or (len(args) == 1 and args[0].static)
        ):
            return []
        first = args[1] if args[0].text == "--" and len(args) > 1 else args[0]
        if not first.static:
            return [Opaque("`trap` runs a string computed at run time")]
        return [Script(first, "trap")]
    # alias name=value ...
    out: list[Target] = []
    for word in args:
        if "=" in word.text and word.static:
            out.append(Script(Word(word.text.split("=", 1)[1]), "alias"))
        elif not word.static:
            out.append(Opaque("`alias` defines a command computed at run time"))
    return out


def _interpreter(
    name: str, words: list[Word], stdin: str | None, restricted: frozenset[str]
) -> list[Target]:
    key = _INTERPRETER_ALIASES.get(name, name)
    if _PYTHON.fullmatch(name):
        key = "pypy" if name.startswith("pypy") else "python"
    options, primitives = INTERPRETERS[key]
    args = words[1:]
    codes: list[Word] = []
    for index, word in enumerate(args):
        option, eq, value = word.text.partition("=")
        if word.text in options and index + 1 < len(args):
            codes.append(args[index + 1])
        elif eq and option in options:
            codes.append(Word(value, word.static))
        elif key == "python" and word.text.startswith("-c") and len(word.text) > 2:
            codes.append(Word(word.text[2:], word.static))
    if key == "awk":
        if any(w.text.startswith(("-f", "--file", "-E", "--exec")) for w in args):
            return [Opaque("awk runs a program file")]
        operands = [w for w in args if not w.text.startswith("-")]
        codes.extend(operands[:1])
    if key == "sqlite3":
        codes.extend(w for w in args if w.text.lstrip().startswith("."))
        codes.extend(args[1:2] if len(args) > 1 and not args[1].text.startswith("-") else [])
    if stdin is not None and not codes:
        codes.append(Word(stdin))
    repl = not codes and not any(not w.text.startswith("-") for w in args)
    if repl and key not in ("sqlite3", "psql", "mysql", "dc"):  # (those REPLs run SQL or maths)
        return [Opaque(f"`{name}` reads code from its standard input")]
    pattern = re.compile(primitives, re.IGNORECASE)
    for code in codes:
        if not code.static:
            return [Opaque(f"{name} runs code computed at run time")]
        lowered = code.text.lower()
        named = next((p for p in restricted if p and p.lower() in lowered), None)
        if named is not None:
            return [Opaque(f"{name} runs code that names `{named}`")]
        if pattern.search(code.text):
            return [Opaque(f"{name} runs code that can start programs")]
    return []


def _sed(words: list[Word]) -> list[Target]:
    args = words[1:]
    scripts = [b for a, b in itertools.pairwise(args) if a.text in ("-e", "--expression")]
    scripts += [Word(w.text.split("=", 1)[1]) for w in args if w.text.startswith("--expression=")]
    if not scripts:
        operands = [w for w in args if not w.text.startswith("-")]
        scripts = operands[:1]
    if any(w.text.startswith(("-f", "--file")) for w in args):
        return [Opaque("sed runs a script file")]
    for script in scripts:
        if not script.static or re.search(
            r"(^|[;\n{}])\s*[0-9$,!/~\\a-z]*?\s*e(\s|;|$|})|/[gpIiMm0-9]*e[gpIiMm0-9w]*(\s|;|$|})",
            script.text,
        ):
            return [Opaque("sed's `e` command runs programs")]
    return []


def _other(name: str, words: list[Word]) -> list[Target]:
    """Programs that are not wrappers but run a command given as an option value."""
    args = words[1:]
    out: list[Target] = []
    if name in _SSH:
        if name in ("ssh", "slogin", "autossh"):
            out.extend(_ssh_command(name, args))
        for index, word in enumerate(args):
            value = args[index + 1].text if index + 1 < len(args) else ""
            text = word.text
            if text in ("-o", "-S", "-F") or text.startswith(("-o", "-S", "-F")):
                option = text[2:] or value
                if text.startswith(("-S", "-F")) or "command" in option.lower():
                    out.append(Opaque(f"`{name} {text}` runs a program it is given"))
        return out
    options = _SCRIPT_OPTIONS.get(name, frozenset())
    for index, word in enumerate(args):
        option, eq, value = word.text.partition("=")
        if option in options:
            script = (
                Word(value, word.static)
                if eq
                else (args[index + 1] if index + 1 < len(args) else None)
            )
            if script is not None:
                out.append(Script(script, name))
        elif name == "tar" and "checkpoint-action=exec=" in word.text:
            out.append(Script(Word(word.text.split("exec=", 1)[1], word.static), name))
    return out


_SSH_VALUES = frozenset("BbcDEeFIiJLlmOoPpQRSWw")


def _ssh_command(name: str, args: list[Word]) -> list[Target]:
    """The remote command of ``ssh [options] HOST COMMAND...``: a shell script (run by the remote
    user's shell, on ``localhost`` as much as anywhere), so it meets the same rules."""
    i = 0
    while i < len(args) and args[i].text.startswith("-") and args[i].text != "-":
        text = args[i].text
        if text == "--":
            i += 1
            break
        i += 2 if text[-1] in _SSH_VALUES and len(text) == 2 else 1
    rest = args[i + 1 :]
    if not rest:
        return []
    if not all(w.static for w in rest):
        return [Opaque(f"`{name}` runs a remote command computed at run time")]
    return [Script(Word(" ".join(w.text for w in rest)), name)]


def targets(
    words: list[Word],
    *,
    stdin: str | None = None,
    stdin_dynamic: bool = False,
    restricted: frozenset[str] = frozenset(),
) -> list[Target]:
    """What the invocation ``words`` runs besides itself (see the module docstring).

    ``stdin`` is a static script fed to it (heredoc), ``stdin_dynamic`` says its input comes
    from elsewhere; ``restricted`` are program names prompt/forbidden rules name (inline code
    mentioning one is opaque).
    """
    if not words or not words[0].static:
        return []
    name = program_name(words[0])
    if name == "busybox" and len(words) > 1 and words[1].static:
        applet = program_name(words[1])
        if applet in ("sh", "ash", "hush"):
            return _shell(applet, words[1:], stdin, stdin_dynamic)
    if name in POSIX_SHELLS:
        return _shell(name, words, stdin, stdin_dynamic)
    if name in OTHER_SHELLS:
        if len(words) > 1 or stdin is not None or stdin_dynamic:
            return [Opaque(f"`{name}` scripts are not analysed")]
        return []
    if name in _SPECS:
        return _wrapper(name, _SPECS[name], words, stdin)
    if name == "find":
        return _find(words)
    if name == "xargs":
        return _xargs(words)
    if name in ("su", "runuser"):
        return _su(name, words)
    if name == "sg":
        rest = [w for w in words[2:] if w.text != "-c"]
        if not rest:
            return []
        if not all(w.static for w in rest):
            return [Opaque("`sg` runs a command computed at run time")]
        return [Script(Word(" ".join(w.text for w in rest)), "sg")]
    if name == "watch":
        return _watch(words)
    if name in ("eval", "trap", "alias"):
        return _eval_like(name, words)
    if name in _OPAQUE_WITH_ARGS:
        return [Opaque(_OPAQUE_WITH_ARGS[name])] if len(words) > 1 or stdin else []
    if name == "tmux":
        if len(words) > 1 and words[1].text not in _TMUX_QUERIES:
            return [Opaque("tmux runs commands it is given")]
        return []
    if name == "crontab":
        if any(w.text not in ("-l", "-r", "-i") for w in words[1:]) or stdin is not None:
            return [Opaque("`crontab` installs commands that run later")]
        return []
    if name in ("less", "more", "most"):
        if any(w.text.startswith("+") and ("!" in w.text or "|" in w.text) for w in words[1:]):
            return [Opaque(f"`{name}` runs a shell command it is given")]
        return []
    if name == "man":
        if any(w.text.startswith(("-P", "--pager", "-H", "--html")) for w in words[1:]):
            return [Opaque("`man` runs a pager or browser it is given")]
        return []
    if name == "sed":
        return _sed(words)
    if name in INTERPRETERS or name in _INTERPRETER_ALIASES or _PYTHON.fullmatch(name):
        return _interpreter(name, words, stdin, restricted)
    return _other(name, words)
