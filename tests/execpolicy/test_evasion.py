"""Table-driven evasion suite: ways a command might run a forbidden command unasked.

Every row must come out as the expected requirement -- ``forbidden`` when the runtime can see the
forbidden command, ``ask`` (needs approval; refused under ``never``) when it can only see that
something it cannot inspect runs -- and never ``skip``. The rows cover the review's published
examples and variants of each class: quoting and escapes, expansions and substitutions, shell
grammar, nested and heredoc-fed shells, every POSIX shell, argv wrappers with clustered and long
options, git's global options, aliases and command-running options, interpreters' inline code,
environment variables that run code, and option-prefixed subcommands.
"""

from __future__ import annotations

import pytest

from codex_admin.execpolicy import ApprovalPolicy, evaluate_exec

from .helpers import parse

RULES = """
host_executable(name="git", paths=["/usr/bin/git"])
prefix_rule(pattern=["git", "push"], decision="forbidden", justification="no pushes")
prefix_rule(pattern=["git", ["status", "log"]])
prefix_rule(pattern=["rm", ["-rf", "-fr"]], decision="forbidden", justification="no rm -rf")
prefix_rule(pattern=["npm", "publish"], decision="forbidden", justification="CI publishes")
prefix_rule(pattern=["curl"], decision="prompt")
prefix_rule(pattern=["ls"])
"""
POLICY = parse(RULES)

F, ASK = "forbidden", "needs_approval"


def sh(script: str) -> list[str]:
    return ["bash", "-c", script]


ROWS: list[tuple[str, list[str], str]] = [
    # --- quoting and escapes: the word's run-time value is `push`
    ("backslash", sh("git pu\\sh"), F),
    ("double quoted part", sh('git "pu"sh'), F),
    ("mixed quotes", sh("git 'pu'\"sh\""), F),
    ("escaped command name", sh("g\\it push"), F),
    ("single-quoted name", sh("'git' push"), F),
    ("double-quoted name", sh('"git" push'), F),
    ("empty quotes", sh("g''it p\"\"ush"), F),
    ("ansi-c plain", sh("git $'push'"), F),
    ("ansi-c hex", sh("git $'\\x70ush'"), F),
    ("ansi-c octal", sh("git $'\\160ush'"), F),
    ("ansi-c unicode", sh("git $'\\u0070ush'"), F),
    ("ansi-c name", sh("$'\\x67it' push"), F),
    ("line continuation", sh("git pu\\\nsh"), ASK),
    ("review: sh -c 'git pu\\sh'", ["sh", "-c", "git pu\\sh"], F),
    # --- computed words: cannot be seen, must ask
    ("review: git $(echo push)", sh("git $(echo push)"), ASK),
    ("backticks", sh("git `echo push`"), ASK),
    ("review: X=push; git $X", sh("X=push; git $X"), ASK),
    ("default expansion", sh("git ${X:-push}"), ASK),
    ("translated string", sh('git $"push"'), F),
    ("glob", sh("git pu?h"), ASK),
    ("bracket glob", sh("git pu[s]h"), ASK),
    ("brace expansion", sh("git {push,x}"), ASK),
    ("computed name", sh("G=git; $G push"), ASK),
    ("braced name", sh("${G} push"), ASK),
    ("substituted name", sh('"$(which git)" push'), ASK),
    ("tilde path", sh("~/bin/git push"), ASK),
    ("arithmetic injection", sh("x='a[$(git pu\\sh)]'; echo $((x))"), ASK),
    ("arithmetic over a variable", sh("echo $((y))"), ASK),
    ("indirection", sh("echo ${!y}"), ASK),
    ("printf -v subscript", sh('printf -v "a[$i]" x'), ASK),
    # --- paths
    ("absolute path", ["/usr/bin/git", "push"], F),
    ("other path", ["/tmp/git", "push"], F),
    ("relative path", ["./git", "push"], F),
    ("dot-dot path", ["git/../git", "push"], F),
    # --- shell grammar
    ("after ;", sh("ls; git push"), F),
    ("after &&", sh("ls && git push"), F),
    ("after ||", sh("false || git push"), F),
    ("in a pipeline", sh("ls | git push"), F),
    ("subshell", sh("(git push)"), F),
    ("group", sh("{ git push; }"), F),
    ("if", sh("if true; then git push; fi"), F),
    ("for", sh("for i in 1; do git push; done"), F),
    ("case", sh("case x in x) git push;; esac"), F),
    ("function", sh("f() { git push; }; f"), F),
    ("command substitution", sh("echo $(git push)"), F),
    ("backtick substitution", sh("echo `git push`"), F),
    ("process substitution", sh("cat <(git push)"), F),
    ("redirected", sh("git push > /dev/null 2>&1"), F),
    ("background", sh("git push &"), F),
    ("negated", sh("! git push"), F),
    ("assignment substitution", sh("x=$(git push)"), F),
    ("declare substitution", sh("declare y=$(git push)"), F),
    ("prefix assignment", sh("GIT_DIR=x git push"), F),
    ("alias", sh("alias p='git push'; p"), F),
    ("trap", sh("trap 'git push' EXIT"), F),
    ("eval", sh("eval git push"), F),
    ("eval quoted", sh('eval "git pu""sh"'), F),
    ("eval computed", sh("eval $(echo git push)"), ASK),
    ("time keyword", sh("time git push"), F),
    ("review: coproc", sh("coproc git push"), F),
    ("exec", sh("exec git push"), F),
    ("command", sh("command git push"), F),
    ("command -p", ["command", "-p", "git", "push"], F),
    ("builtin command", sh("builtin command git push"), F),
    # --- shells and scripts
    ("nested bash", sh("bash -c 'git push'"), F),
    ("doubly nested", sh("sh -c \"sh -c 'git push'\""), F),
    ("heredoc to bash", sh("bash <<'EOF'\ngit push\nEOF"), F),
    ("here-string to sh", sh("sh <<< 'git push'"), F),
    ("piped to sh", sh("echo 'git push' | sh"), ASK),
    ("script file", ["bash", "deploy.sh"], ASK),
    ("source", sh(". ./deploy.sh"), ASK),
    *[
        (f"shell {name}", [name, "-c", "git push"], F)
        for name in ("sh", "dash", "bash", "rbash", "zsh", "ksh", "mksh", "posh", "yash", "lksh")
    ],
    ("busybox sh", ["busybox", "sh", "-c", "git push"], F),
    ("bash -lc", ["bash", "-lc", "git push"], F),
    ("bash -xec", ["bash", "-xec", "git push"], F),
    ("bash -o pipefail -c", ["bash", "-o", "pipefail", "-c", "git push"], F),
    ("bash --norc -c", ["bash", "--norc", "-c", "git push"], F),
    ("review: rbash -c", ["rbash", "-c", "g\\it push"], F),
    ("fish", ["fish", "-c", "git push"], ASK),
    # --- argv wrappers
    ("sudo", ["sudo", "git", "push"], F),
    ("review: sudo -Eu root", ["sudo", "-Eu", "root", "git", "push"], F),
    ("sudo --", ["sudo", "-u", "root", "--", "git", "push"], F),
    ("sudo --user=", ["sudo", "--user=root", "git", "push"], F),
    ("sudo VAR=", ["sudo", "FOO=1", "git", "push"], F),
    ("doas", ["doas", "-u", "root", "git", "push"], F),
    ("pkexec", ["pkexec", "--user", "root", "git", "push"], F),
    ("env -i", ["env", "-i", "git", "push"], F),
    ("review: env -iS", ["env", "-iS", "git push"], F),
    ("env -S", ["env", "-S", "git push"], F),
    ("env --split-string=", ["env", "--split-string=git push"], F),
    ("env -u -C", ["env", "-u", "X", "-C", "/", "git", "push"], F),
    ("env -S computed", ["env", "-S", "git $P"], ASK),
    ("nice -n", ["nice", "-n", "5", "git", "push"], F),
    ("nice -10", ["nice", "-10", "git", "push"], F),
    ("nohup", ["nohup", "git", "push"], F),
    ("timeout", ["timeout", "5", "git", "push"], F),
    ("timeout -k -s", ["timeout", "-k", "1", "-s", "KILL", "5", "git", "push"], F),
    ("stdbuf -oL", ["stdbuf", "-oL", "git", "push"], F),
    ("ionice -c3", ["ionice", "-c3", "git", "push"], F),
    ("chrt -f 10", ["chrt", "-f", "10", "git", "push"], F),
    ("taskset -c", ["taskset", "-c", "0", "git", "push"], F),
    ("setsid -f", ["setsid", "-f", "git", "push"], F),
    ("review: setpriv", ["setpriv", "--reuid=1000", "--init-groups", "git", "push"], F),
    ("review: flock", ["flock", "/tmp/l", "git", "push"], F),
    ("flock -c", ["flock", "-x", "/tmp/l", "-c", "git push"], F),
    ("prlimit", ["prlimit", "--nofile=100", "git", "push"], F),
    ("review: script -qc", ["script", "-qc", "git push", "/dev/null"], F),
    ("script -c", ["script", "-q", "-c", "git push"], F),
    ("unshare -r", ["unshare", "-r", "git", "push"], F),
    ("chroot", ["chroot", "/", "git", "push"], F),
    ("systemd-run", ["systemd-run", "--user", "--pty", "git", "push"], F),
    ("strace", ["strace", "-f", "-o", "/dev/null", "git", "push"], F),
    ("ltrace", ["ltrace", "-f", "git", "push"], F),
    ("xargs", ["xargs", "git", "push"], F),
    ("xargs -I", ["xargs", "-I{}", "git", "{}"], ASK),
    ("xargs program", ["xargs", "git"], ASK),
    ("find -exec", ["find", ".", "-exec", "git", "push", ";"], F),
    ("find -execdir {}", ["find", ".", "-execdir", "git", "{}", ";"], ASK),
    ("watch", ["watch", "-n", "1", "git", "push"], F),
    ("su -c", ["su", "-c", "git push"], F),
    ("su user -c", ["su", "root", "-c", "git push"], F),
    ("su - user -c", ["su", "-", "root", "-c", "git push"], F),
    ("runuser -u", ["runuser", "-u", "root", "--", "git", "push"], F),
    ("sg", ["sg", "staff", "git push"], F),
    ("ld.so", ["/lib64/ld-linux-x86-64.so.2", "/usr/bin/git", "push"], F),
    ("sshpass", ["sshpass", "-p", "x", "git", "push"], F),
    ("fakeroot", ["fakeroot", "git", "push"], F),
    ("parallel", ["parallel", "git", ":::", "push"], ASK),
    ("tmux", ["tmux", "new-session", "-d", "git push"], ASK),
    ("vim", ["vim", "-c", "!git push"], ASK),
    ("rsync -e", ["rsync", "-e", "git push", "a", "b"], F),
    ("tar --to-command", ["tar", "--to-command=git push", "-xf", "a.tar"], F),
    ("sed e", ["sed", "s/x/y/e", "file"], ASK),
    # --- git's own command line
    ("review: git -C .", ["git", "-C", ".", "push"], F),
    ("git --git-dir=", ["git", "--git-dir=.git", "push"], F),
    ("git --work-tree", ["git", "--work-tree", ".", "push"], F),
    ("git -c", ["git", "-c", "user.name=x", "push"], F),
    ("git --no-pager", ["git", "--no-pager", "push"], F),
    ("git --namespace", ["git", "--namespace", "x", "push"], F),
    ("review: git alias", ["git", "-c", "alias.p=push", "p"], F),
    ("git shell alias", ["git", "-c", "alias.p=!git push", "p"], F),
    ("git unknown alias", ["git", "p"], ASK),
    ("git --exec-path", ["git", "--exec-path=/tmp", "status"], ASK),
    ("git pager", ["git", "-c", "core.pager=git push", "log"], F),
    ("git sshCommand", ["git", "-c", "core.sshCommand=git push", "fetch"], F),
    ("git pager shell", ["git", "-c", "core.pager=sh", "log"], ASK),
    ("git include.path", ["git", "-c", "include.path=/tmp/x", "status"], ASK),
    ("git submodule foreach", ["git", "submodule", "foreach", "git", "push"], F),
    ("git rebase -x", ["git", "rebase", "-x", "git push", "main"], F),
    ("git bisect run", ["git", "bisect", "run", "git", "push"], F),
    ("git --upload-pack", ["git", "fetch", "--upload-pack=git push", "origin"], F),
    ("git in a script", sh("cd repo && git -C sub push"), F),
    # --- interpreters and the environment
    ("python", ["python3", "-c", "import os; os.system('ls')"], ASK),
    ("python names git", ["python3", "-c", "print('git')"], ASK),
    ("perl", ["perl", "-e", 'system("ls")'], ASK),
    ("node", ["node", "-e", "require('child_process').execSync('ls')"], ASK),
    ("awk", ["awk", 'BEGIN{system("ls")}'], ASK),
    ("python heredoc", sh("python3 <<'EOF'\nimport subprocess\nEOF"), ASK),
    ("pager variable", sh("PAGER='git push' man ls"), ASK),
    ("pager variable hidden", sh("PAGER=./p man ls"), ASK),
    ("LD_PRELOAD", sh("LD_PRELOAD=./x.so ls"), ASK),
    ("BASH_ENV", ["env", "BASH_ENV=./x", "bash", "-c", "ls"], ASK),
    ("export PS4", sh("export PS4='$(x)'; set -x; ls"), ASK),
    # --- other rules, same classes
    ("rm", sh("r\\m -rf /"), F),
    ("sudo rm", ["sudo", "rm", "-rf", "/"], F),
    ("rm computed flag", sh("rm $F /"), ASK),
    ("npm option before subcommand", ["npm", "--prefix", ".", "publish"], F),
    ("npm two options", ["npm", "--loglevel", "silent", "--prefix=.", "publish"], F),
    ("curl via env", ["env", "curl", "x"], ASK),
    # --- standard input and interactive sessions (whatever is typed in is never evaluated)
    ("heredoc through sudo", sh("sudo sh <<'EOF'\ngit push\nEOF"), F),
    ("pipe through sudo", sh("echo 'git push' | sudo sh"), ASK),
    ("interactive shell", ["bash"], ASK),
    ("interactive su", ["su", "-"], ASK),
    ("sudo -s", ["sudo", "-s"], ASK),
    ("sudo -iu", ["sudo", "-iu", "root"], ASK),
    ("script without -c", ["script", "-q", "/dev/null"], ASK),
    ("python REPL", ["python3"], ASK),
    ("file fed to a shell", sh("timeout 5 bash < x.sh"), ASK),
    # --- remote and name tricks
    ("ssh localhost", ["ssh", "localhost", "git", "push"], F),
    ("ssh with options", ["ssh", "-p", "22", "-o", "BatchMode=yes", "host", "git push"], F),
    ("ssh ProxyCommand", ["ssh", "-o", "ProxyCommand=./x", "host"], ASK),
    ("hash -p", sh("hash -p /usr/bin/git g; g push"), ASK),
    ("BASH_CMDS", sh("BASH_CMDS[g]=/usr/bin/git; g push"), ASK),
    ("BASH_ALIASES", sh("BASH_ALIASES[p]='git push'; p"), ASK),
    ("array command", sh('cmd=(git push); "${cmd[@]}"'), ASK),
    ("positional command", sh('set -- git push; "$@"'), ASK),
    ("read into a command", sh('read -r c <<< "git push"; $c'), ASK),
    ("git alias chain", ["git", "-c", "alias.p=push", "-c", "alias.q=p", "q"], ASK),
]


@pytest.mark.parametrize(("argv", "expected"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_evasion_is_never_skipped(argv: list[str], expected: str) -> None:
    result = evaluate_exec(POLICY, argv)
    assert result.requirement.kind == expected, (result.requirement, result.notes)
    never = evaluate_exec(POLICY, argv, approval=ApprovalPolicy.NEVER)
    assert never.requirement.kind == "forbidden"


def test_the_table_is_big_enough() -> None:
    assert len(ROWS) >= 80
    assert len({r[0] for r in ROWS}) == len(ROWS)


@pytest.mark.parametrize(
    "argv",
    [
        ["git", "status"],
        ["ls", "-la"],
        sh("ls && git status"),
        sh("echo $HOME"),
        sh("cd /tmp && ls"),
        ["python3", "-c", "print(1 + 1)"],
        ["env", "FOO=1", "ls"],
        ["git", "log", "--oneline"],
        sh("for f in a b; do echo $f; done"),
    ],
)
def test_ordinary_commands_still_run(argv: list[str]) -> None:
    """The analysis must not make everyday commands ask: the classes above are narrow."""
    assert evaluate_exec(POLICY, argv).requirement.kind == "skip"
