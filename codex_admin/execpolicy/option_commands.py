"""Programs that are not wrappers but run a command given in an option or after a host.

``rsync -e``, ``tar --to-command``/``-I``/``--checkpoint-action=exec=``, ``zip -TT``,
``aria2c --on-download-complete``, ``make --eval``, ``git-difftool -x``: the option's value is a
shell command the program runs. ``ssh HOST COMMAND`` runs a script on the remote side (on
``localhost`` as much as anywhere), and ``ssh``/``scp``/``sftp`` options such as ``-o
ProxyCommand=...`` or ``-F FILE`` run programs we cannot see.
"""

from __future__ import annotations

from codex_admin.execpolicy.target import Opaque, Script, Target
from codex_admin.execpolicy.words import Word

__all__ = ["option_targets", "option_value"]


# options (of programs that are not wrappers) whose value is a shell command the program runs
_SCRIPT_OPTIONS: dict[str, frozenset[str]] = {
    "rsync": frozenset({"-e", "--rsh"}),
    "tar": frozenset({"-I", "--use-compress-program", "--to-command", "-F", "--info-script",
                      "--new-volume-script"}),
    "zip": frozenset({"-TT", "--unzip-command"}),
    "aria2c": frozenset({"--on-download-complete", "--on-download-start",
                         "--on-download-error", "--on-download-stop", "--on-bt-download-complete",
                         "--on-download-pause"}),
    "make": frozenset({"--eval", "-E"}),
    "git-difftool": frozenset({"-x", "--extcmd"}),
}  # fmt: skip
_SSH = frozenset({"ssh", "scp", "sftp", "autossh", "sshfs", "slogin"})


def option_targets(name: str, words: list[Word]) -> list[Target]:
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
        script = option_value(args, index, options)
        if script is not None:
            out.append(Script(script, name))
        elif name == "tar" and "checkpoint-action=exec=" in word.text:
            out.append(Script(Word(word.text.split("exec=", 1)[1], word.static), name))
    return out


def option_value(args: list[Word], index: int, options: frozenset[str]) -> Word | None:
    """The value of ``args[index]`` when it is one of ``options``: attached (``--opt=value``,
    as static as the word) or the next word; None when it is not, or has no value."""
    option, eq, value = args[index].text.partition("=")
    if option not in options:
        return None
    if eq:
        return Word(value, args[index].static)
    return args[index + 1] if index + 1 < len(args) else None


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
