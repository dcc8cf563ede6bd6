"""The option grammar of every argv-level wrapper we see through (data for :mod:`wrappers`).

Prefix rules match argv[0], so ``sudo -Eu root git push`` or ``flock F git push`` would escape a
``git push`` forbid unless the runtime reads past the wrapper's options. Each entry says which
options take a value (and how), which start no command (``--help``, ``sudo -l``), which take a
shell command, and how many operands come before the command. A wrapper missing from the table
is not a wrapper to us: its arguments are never taken for a command.
"""

from __future__ import annotations

from codex_admin.execpolicy.wrappers import Spec

__all__ = ["SPECS", "XARGS"]


def _s(*names: str) -> frozenset[str]:
    return frozenset(names)


# bwrap options that take two values (SRC DEST)
_BWRAP_PAIRS = _s(
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

SPECS: dict[str, Spec] = {
    "env": Spec(
        flags="i0v", values="uCa",
        long_flags=_s("--ignore-environment", "--null", "--debug", "--list-signal-handling"),
        long_values=_s("--unset", "--chdir", "--argv0"),
        long_optional=_s("--block-signal", "--default-signal", "--ignore-signal"),
        split=_s("-S", "--split-string"), no_command=_s("--help", "--version"),
        assignments=True,
    ),
    "sudo": Spec(
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
    "doas": Spec(flags="nsL", values="u", no_command=_s("-C")),
    "pkexec": Spec(
        long_flags=_s("--disable-internal-agent", "--keep-cwd"), long_values=_s("--user"),
        no_command=_s("--help", "--version"),
    ),
    "run0": Spec(
        values="ugDM",
        long_flags=_s("--no-ask-password", "--background", "--pty", "--pipe", "--via-shell"),
        long_values=_s("--user", "--group", "--nice", "--chdir", "--setenv", "--unit",
                       "--property", "--description", "--slice", "--machine", "--area"),
        long_optional=_s("--shell-prompt-prefix"),
    ),
    "setpriv": Spec(
        long_flags=_s("--clear-groups", "--keep-groups", "--init-groups", "--no-new-privs",
                      "--nnp", "--reset-env"),
        long_values=_s("--reuid", "--regid", "--ruid", "--euid", "--rgid", "--egid", "--groups",
                       "--inh-caps", "--ambient-caps", "--bounding-set", "--securebits",
                       "--pdeathsig", "--selinux-label", "--apparmor-profile",
                       "--landlock-access", "--landlock-rule", "--seccomp-filter"),
        no_command=_s("-d", "--dump", "--help", "--version"),
    ),
    "flock": Spec(
        flags="sexunoF", values="wE",
        long_flags=_s("--shared", "--exclusive", "--unlock", "--nonblock", "--close",
                      "--no-fork", "--verbose"),
        long_values=_s("--timeout", "--wait", "--conflict-exit-code"),
        scripts=_s("-c", "--command"), operands=1,
    ),
    "prlimit": Spec(
        values="o", optional="cdefilmnqrstuvxy",
        long_flags=_s("--noheadings", "--raw", "--verbose"), long_values=_s("--output"),
        long_optional=_s("--core", "--data", "--nice", "--fsize", "--sigpending", "--memlock",
                         "--rss", "--nofile", "--msgqueue", "--rtprio", "--stack", "--cpu",
                         "--nproc", "--as", "--locks", "--rttime"),
        no_command=_s("-p", "--pid"),
    ),
    "script": Spec(
        flags="aefqkV", values="EIOBTmo", optional="t",
        long_flags=_s("--append", "--return", "--flush", "--force", "--quiet"),
        long_values=_s("--echo", "--log-in", "--log-out", "--log-io", "--log-timing",
                       "--logging-format", "--output-limit"),
        long_optional=_s("--timing"), scripts=_s("-c", "--command"), shell_default=True,
    ),
    "unshare": Spec(
        flags="muinpUCTfrc", values="SGRwl",
        long_flags=_s("--fork", "--map-root-user", "--map-current-user", "--keep-caps"),
        long_values=_s("--setgroups", "--propagation", "--map-user", "--map-group",
                       "--map-users", "--map-groups", "--root", "--wd", "--setuid", "--setgid",
                       "--monotonic", "--boottime", "--load-interp"),
        long_optional=_s("--mount", "--uts", "--ipc", "--net", "--pid", "--user", "--cgroup",
                         "--time", "--kill-child", "--mount-proc", "--mount-binfmt"),
        shell_default=True,
    ),
    "nsenter": Spec(
        flags="aFZ", values="tSGN", optional="muinpUCTrw",
        long_flags=_s("--all", "--no-fork", "--preserve-credentials", "--follow-context"),
        long_values=_s("--target", "--setuid", "--setgid", "--join-cgroup", "--env"),
        long_optional=_s("--mount", "--uts", "--ipc", "--net", "--pid", "--user", "--cgroup",
                         "--time", "--root", "--wd", "--wdns"),
        shell_default=True,
    ),
    "chroot": Spec(
        long_flags=_s("--skip-chdir"), long_values=_s("--userspec", "--groups"), operands=1,
        shell_default=True,
    ),
    "systemd-run": Spec(
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
    "strace": Spec(flags="cCdDfFhiknNqrtTvVwxyzZ", values="abeEIoOpPsSuUX"),
    "ltrace": Spec(flags="bcCdfhiLrStTV", values="aAeFlnopsuwxD"),
    "command": Spec(flags="p", no_command=_s("-v", "-V")),
    "builtin": Spec(),
    "exec": Spec(flags="cl", values="a"),
    "nohup": Spec(no_command=_s("--help", "--version")),
    "time": Spec(
        flags="pavq", values="fo", long_flags=_s("--portability", "--append", "--verbose",
                                                 "--quiet"),
        long_values=_s("--format", "--output"),
    ),
    "nice": Spec(values="n", long_values=_s("--adjustment"), numeric_flags=True),
    "renice": Spec(no_command=_s("-p", "-g", "-u", "-n", "--priority")),
    "timeout": Spec(
        flags="v", values="sk", long_flags=_s("--preserve-status", "--foreground", "--verbose"),
        long_values=_s("--signal", "--kill-after"), operands=1,
    ),
    "stdbuf": Spec(values="ioe", long_values=_s("--input", "--output", "--error")),
    "ionice": Spec(
        flags="t", values="cn", long_flags=_s("--ignore"), long_values=_s("--class",
                                                                         "--classdata"),
        no_command=_s("-p", "-P", "-u", "--pid", "--pgid", "--uid"),
    ),
    "chrt": Spec(
        flags="abdfioreRv", values="TPD",
        long_flags=_s("--all-tasks", "--batch", "--deadline", "--fifo", "--idle", "--other",
                      "--rr", "--ext", "--reset-on-fork", "--verbose"),
        long_values=_s("--sched-runtime", "--sched-period", "--sched-deadline"),
        no_command=_s("-p", "--pid", "-m", "--max"), operands=1,
    ),
    "taskset": Spec(flags="ac", long_flags=_s("--all-tasks", "--cpu-list"),
                     no_command=_s("-p", "--pid"), operands=1),
    "setsid": Spec(flags="cfw", long_flags=_s("--ctty", "--fork", "--wait")),
    "nocorrect": Spec(),
    "noglob": Spec(),
    "coproc": Spec(),
    "catchsegv": Spec(),
    "sshpass": Spec(flags="ve", values="pfdP"),
    "fakeroot": Spec(flags="uh", values="lsib", long_values=_s("--lib", "--faked")),
    "fakechroot": Spec(values="lcde", long_values=_s("--lib", "--config-dir", "--environment",
                                                      "--elfloader")),
    "proxychains": Spec(flags="q", values="f"),
    "proxychains4": Spec(flags="q", values="f"),
    "torsocks": Spec(flags="iqhd", values="uapP", long_flags=_s("--isolate", "--quiet",
                                                                "--debug"),
                      long_values=_s("--user", "--pass", "--address", "--port")),
    "firejail": Spec(),
    "valgrind": Spec(),
    "busybox": Spec(no_command=_s("--install", "--list", "--list-full", "--help")),
    "ld.so": Spec(
        long_flags=_s("--inhibit-cache"),
        long_values=_s("--library-path", "--inhibit-rpath", "--audit", "--preload", "--argv0",
                       "--glibc-hwcaps-prepend", "--glibc-hwcaps-mask"),
        no_command=_s("--list", "--verify", "--help", "--version", "--list-diagnostics",
                      "--list-tunables"),
    ),
    "bwrap": Spec(
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
        long_pairs=_BWRAP_PAIRS,
    ),
}  # fmt: skip

# xargs is not a wrapper (its input becomes arguments: :mod:`runners`), but reads options alike
XARGS = Spec(
    flags="0oprtx", values="aEdLnPsI", optional="eil",
    long_flags=_s("--null", "--open-tty", "--interactive", "--no-run-if-empty", "--verbose",
                  "--exit", "--show-limits"),
    long_values=_s("--arg-file", "--delimiter", "--max-args", "--max-procs", "--max-chars",
                   "--process-slot-var"),
    long_optional=_s("--eof", "--replace", "--max-lines"),
)  # fmt: skip
