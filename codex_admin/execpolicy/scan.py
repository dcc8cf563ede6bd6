"""Every command a shell script can run, with its words' run-time values, and what hides some.

:func:`scan_script` walks the whole tree-sitter-bash tree -- pipelines, lists, subshells, groups,
control flow, function bodies, command and process substitutions, heredoc bodies -- and returns
each ``command`` with its words (:mod:`words`), its ``NAME=value`` prefixes and what feeds its
standard input (a static heredoc or here-string becomes text a shell on that stdin would run).

It also lists the *problems*: constructs that can run code the tree does not show, so the list of
commands may be incomplete. The caller treats a script with problems as opaque while prompt or
forbidden rules are active. They are:

* a parse error, a script over 64 KiB, a NUL byte, too many commands, a backslash-newline
  outside quotes (bash joins the lines; the tree splits the word);
* a command name computed at run time (``$cmd push``, ``"$(which git)" push``);
* arithmetic over names (``$((x))``, ``((x))``, ``let``, ``for ((...))``, ``[[ $x -eq 1 ]]``,
  ``${a[i]}``, ``${x:n}``), indirection and prompt expansion (``${!x}``, ``${x@P}``): bash
  evaluates a variable's *value* there, and ``x='a[$(git push)]'`` runs a command;
* variable names with subscripts given to builtins that evaluate them (``declare``, ``export``,
  ``local``, ``unset``, ``read``, ``printf -v``, ``mapfile``, ``test -v``...), callbacks
  (``mapfile -C``), ``compgen``/``complete`` (their word lists are expanded), ``enable -f``
  (loads a shared object), ``bind``, ``fc``;
* assignments to variables that make programs run other code (``BASH_ENV``, ``ENV``, ``PS4``,
  ``PROMPT_COMMAND``, ``LD_*``, ``*PAGER*``, ``*EDITOR*``, ``GIT_*``, interpreter start-up
  variables...; see :data:`CODE_ENV`).

Dynamic *arguments* are not problems here: whether they matter depends on the program and the
rules (the caller decides).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from codex_admin.bash_syntax import node_text, parse_bash, source_text
from codex_admin.execpolicy.words import Word, word_of

__all__ = ["CODE_ENV", "MAX_COMMANDS", "ScannedCommand", "ScriptScan", "code_env", "scan_script"]

MAX_SCRIPT_BYTES = 64 * 1024
MAX_COMMANDS = 256

# Variables whose value is code, a program to run, or a library to load.
CODE_ENV = re.compile(
    r"(BASH_ENV|ENV|PS[0-4]|PROMPT_COMMAND|SHELLOPTS|BASHOPTS|BASH_FUNC_.*|LD_.*|DYLD_.*"
    r"|.*PAGER.*|.*EDITOR.*|VISUAL|.*ASKPASS.*|BROWSER|GIT_.*|.*_COMMAND|SHELL|TERMINAL"
    r"|PYTHON(STARTUP|PATH|HOME|INSPECT|WARNINGS)|PERL5?(OPT|LIB|DB)|RUBYOPT|RUBYLIB|NODE_OPTIONS"
    r"|NODE_PATH|LUA_INIT.*|JAVA_TOOL_OPTIONS|_JAVA_OPTIONS|IFS|LESSOPEN|LESSCLOSE|MANPAGER)"
)
_ARITH_OPS = frozenset({"-eq", "-ne", "-lt", "-le", "-gt", "-ge"})
_NAME_BUILTINS = frozenset({"read", "mapfile", "readarray", "getopts"})
_NAME_OPTIONS = {"printf": "-v", "wait": "-p"}
_CODE_BUILTINS = frozenset({"compgen", "complete", "bind", "fc"})
_SAFE_EXPANSION = re.compile(
    r"\$\{#?(?:[A-Za-z_][A-Za-z0-9_]*(?:\[(?:[@*]|[0-9]+)\])?|[0-9]+|[@*#?$!-])"
    r"(?:\}|(?::?[-=+?]|#{1,2}|%{1,2}|/{1,2}|\^{1,2}|,{1,2})[^\0]*\})",
    re.DOTALL,
)
_ARITH_NAMES = frozenset(
    {"variable_name", "word", "simple_expansion", "expansion", "command_substitution", "string",
     "concatenation", "subscript", "raw_string"}
)  # fmt: skip


def code_env(name: str) -> bool:
    """True when a variable of this name can make a program run code the command does not show."""
    return CODE_ENV.fullmatch(name) is not None


@dataclass
class ScannedCommand:
    """One command of a script. ``stdin`` is the static text of a heredoc or here-string fed to
    it; ``stdin_dynamic`` is true when its input comes from a pipe, a file or an expansion."""

    words: list[Word]
    assignments: list[str] = field(default_factory=list)
    stdin: str | None = None
    stdin_dynamic: bool = False


@dataclass
class ScriptScan:
    commands: list[ScannedCommand]
    problems: list[str]


def parse_tree(script: str) -> Any | None:
    """The root node, or None for a script that cannot reach a shell as written (a lone
    surrogate that is not an undecodable argv byte) or that we refuse to parse (NUL, size, a
    character the native parser may crash on: :mod:`codex_admin.bash_syntax`)."""
    return parse_bash(script, MAX_SCRIPT_BYTES)


def _walk(node: Any) -> Iterator[Any]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def _assignment_name(node: Any) -> tuple[str, bool]:
    """(name, has subscript) of a ``variable_assignment`` node."""
    first = node.named_children[0] if node.named_children else None
    if first is None:
        return "", False
    if first.type == "subscript":
        base = first.named_children[0] if first.named_children else first
        return node_text(base), True
    return node_text(first), False


def _arith_problem(node: Any) -> bool:
    for child in _walk(node):
        if child is node:
            continue
        if child.type in _ARITH_NAMES:
            if child.type == "word" and node_text(child).isdigit():
                continue
            return True
    return False


def _heredoc_body(redirect: Any, source: bytes) -> tuple[str | None, bool]:
    """(static body, dynamic) of a heredoc, read from the source text: the tree's own body node
    is unreliable (a body starting with a backslash is parsed as words of the redirect)."""
    start = next((c for c in redirect.children if c.type == "heredoc_start"), None)
    end = next((c for c in redirect.children if c.type == "heredoc_end"), None)
    if start is None or end is None:
        return None, True
    newline = source.find(b"\n", start.end_byte)
    if newline < 0 or newline >= end.start_byte:
        return "", False
    body = source_text(source[newline + 1 : end.start_byte])
    operator = next((node_text(c) for c in redirect.children if not c.is_named), "<<")
    if operator == "<<-":
        body = "\n".join(line.lstrip("\t") for line in body.split("\n"))
    quoted = any(q in node_text(start) for q in "'\"\\")
    if not quoted and any(ch in body for ch in "$`\\"):
        return None, True  # an unquoted delimiter: the body is expanded
    return body, False


def _stdin_of(command: Any, source: bytes) -> tuple[str | None, bool]:
    """(static stdin text, dynamic) from the redirects around and inside ``command``."""
    static: str | None = None
    dynamic = False
    redirects = list(command.children)
    parent = command.parent
    if parent is not None and parent.type == "redirected_statement":
        redirects += [c for c in parent.children if c.start_byte != command.start_byte]
    for redirect in redirects:
        if redirect.type == "herestring_redirect":
            value = next((word_of(c) for c in redirect.named_children), None)
            if value is not None and value.static:
                static = value.text + "\n"
            else:
                dynamic = True
        elif redirect.type == "heredoc_redirect":
            body, unknown = _heredoc_body(redirect, source)
            static = body if body is not None else static
            dynamic = dynamic or unknown
        elif redirect.type == "file_redirect":
            operator = next((c for c in redirect.children if not c.is_named), None)
            if operator is not None and node_text(operator) in ("<", "<>", "<&"):
                dynamic = True
    if _piped_into(command) or (
        parent is not None and parent.type == "redirected_statement" and _piped_into(parent)
    ):
        dynamic = True
    return static, dynamic


def _piped_into(node: Any) -> bool:
    """True when ``node`` is a pipeline stage after the first (its stdin is the pipe)."""
    parent = node.parent
    if parent is None or parent.type != "pipeline":
        return False
    first = parent.named_children[0]
    return bool(first.start_byte != node.start_byte)


_REDIRECTS = frozenset({"herestring_redirect", "file_redirect", "heredoc_redirect", "comment"})


def _join(left: Word, right: Word) -> Word:
    if left.static and right.static:
        return Word(left.text + right.text)
    return Word(left.text + right.text, static=False)


def _command(node: Any, problems: list[str], source: bytes) -> ScannedCommand | None:
    words: list[Word] = []
    assignments: list[str] = []
    end = -1  # where the previous word ended: bash joins words that touch (`'g'\\it`), and the
    # tree sometimes splits them, so touching siblings are joined here
    for child in node.children:
        kind = child.type
        if kind == "variable_assignment":
            name, subscript = _assignment_name(child)
            assignments.append(name)
            if subscript:
                problems.append(f"an assignment to `{node_text(child)}` evaluates a subscript")
            continue
        if kind == "command_name":
            inner = child.named_children
            word = word_of(inner[0]) if len(inner) == 1 else Word(node_text(child), False)
        elif kind in _REDIRECTS or not child.is_named or not words:
            if not child.is_named and node_text(child) == "$":
                end = child.end_byte if end == child.start_byte else end
            continue
        else:
            word = word_of(child)
        if words and child.start_byte == end:
            words[-1] = _join(words[-1], word)
        else:
            words.append(word)
        end = child.end_byte
    if not words:
        return None
    if not words[0].static:
        problems.append(f"the command name `{words[0].text}` is computed at run time")
    stdin, dynamic = _stdin_of(node, source)
    name = words[0].text.rsplit("/", 1)[-1] if words[0].static else ""
    args = words[1:]
    names = args if name in _NAME_BUILTINS else []
    if name in _NAME_OPTIONS:
        names = [b for a, b in itertools.pairwise(args) if a.text == _NAME_OPTIONS[name]]
    if any("[" in w.text or not w.static for w in names):
        problems.append(f"`{name}` gets a variable name with a subscript or computed name")
    if name == "let" and any(not w.static or any(c.isalpha() for c in w.text) for w in args):
        problems.append("`let` evaluates arithmetic over variables")
    if name in ("test", "[") and any(w.text == "-v" for w in args):
        problems.append(f"`{name} -v` evaluates a variable subscript")
    if name in ("mapfile", "readarray") and any(w.text.startswith("-C") for w in args):
        problems.append(f"`{name} -C` runs a callback")
    if name == "hash" and any(w.text.startswith("-") and "p" in w.text for w in args):
        problems.append("`hash -p` makes a name run another program")
    if name in _CODE_BUILTINS or (name == "enable" and any("f" in w.text for w in args)):
        problems.append(f"`{name}` can run code it is given as text")
    return ScannedCommand(words, assignments, stdin, dynamic)


def _errors_outside_heredoc_bodies(root: Any, source: bytes) -> bool:
    """Whether the tree has an error that is not inside a heredoc body.

    The grammar mis-parses some bodies (one whose first line starts with a backslash and has a
    `>` in it becomes words and redirects of the heredoc). Bodies are read from the source
    text, between the delimiter's line and the closing delimiter the tree found
    (:func:`_heredoc_body`), never from those nodes; so an error inside one changes nothing
    the scan reports. An error anywhere else still makes the script unparsed (opaque).
    """
    bodies = []
    for node in _walk(root):
        if node.type != "heredoc_redirect":
            continue
        start = next((c for c in node.children if c.type == "heredoc_start"), None)
        end = next((c for c in node.children if c.type == "heredoc_end"), None)
        if start is not None and end is not None:
            newline = source.find(b"\n", start.end_byte)
            if 0 <= newline < end.start_byte:
                bodies.append((newline, end.start_byte))
    return any(
        node.type == "ERROR"
        and not any(low <= node.start_byte and node.end_byte <= high for low, high in bodies)
        for node in _walk(root)
    )


def _closing_last_heredoc(root: Any, script: str) -> Any | None:
    """The tree of ``script`` as a shell runs it when its last heredoc never ends, or None.

    A shell ends a heredoc that reaches the end of its input there (bash: "here-document
    delimited by end-of-file"), so the body still runs; the grammar calls the script broken.
    Appending the delimiter line gives the tree the shell runs. Only a tree that then parses
    (up to errors inside heredoc bodies) is used: with more than one heredoc left open the
    script stays unparsed (and opaque).
    """
    starts = [node for node in _walk(root) if node.type == "heredoc_start"]
    if not starts:
        return None
    last = max(starts, key=lambda node: node.start_byte)
    delimiter = re.sub(r"[\"'\\]", "", node_text(last))  # quoting only marks the body static
    if not delimiter:
        return None
    ending = "" if script.endswith("\n") else "\n"
    closed = parse_tree(f"{script}{ending}{delimiter}\n")
    if closed is None or (
        closed.has_error and _errors_outside_heredoc_bodies(closed, bytes(closed.text))
    ):
        return None
    return closed


def scan_script(script: str) -> ScriptScan:
    """The commands of ``script`` and the problems that make that list incomplete."""
    root = parse_tree(script)
    if (
        root is not None
        and root.has_error
        and _errors_outside_heredoc_bodies(root, bytes(root.text))
    ):
        root = _closing_last_heredoc(root, script) or root
    if root is None:
        return ScriptScan([], ["the script is too large, has a NUL byte or is not encodable"])
    source = bytes(root.text)
    problems: list[str] = []
    if root.has_error and _errors_outside_heredoc_bodies(root, source):
        problems.append("the script does not parse as a shell script")
    if "\\\n" in script:
        problems.append("a backslash-newline joins lines in a way the parse does not follow")
    commands: list[ScannedCommand] = []
    for node in _walk(root):
        kind = node.type
        if node.is_missing:
            problems.append("the script is incomplete")
        if kind == "command":
            scanned = _command(node, problems, source)
            if scanned is not None:
                commands.append(scanned)
                if len(commands) > MAX_COMMANDS:
                    problems.append(f"the script has more than {MAX_COMMANDS} commands")
                    break
        elif kind == "variable_assignment" and (
            node.parent is None or node.parent.type not in ("command", "declaration_command")
        ):
            name, subscript = _assignment_name(node)
            if subscript:
                problems.append(f"an assignment to `{node_text(node)}` evaluates a subscript")
            if code_env(name):
                problems.append(f"`{name}` is set, which can make programs run other code")
        elif kind in ("declaration_command", "unset_command"):
            for child in node.named_children:
                if child.type == "variable_assignment":
                    name, subscript = _assignment_name(child)
                    if code_env(name):
                        problems.append(f"`{name}` is exported, which can make programs run code")
                    if subscript:
                        problems.append(f"`{node_text(child)}` evaluates a subscript")
                elif child.type != "word" or "[" in node_text(child):
                    word = word_of(child)
                    if not word.static or "[" in word.text or child.type == "subscript":
                        problems.append(f"`{node_text(node)}` evaluates a computed variable name")
        elif kind in ("arithmetic_expansion", "c_style_for_statement") or (
            kind == "compound_statement" and node.children and node.children[0].type == "(("
        ):
            if _arith_problem(node):
                problems.append(f"`{node_text(node)[:60]}` evaluates arithmetic over variables")
        elif kind == "test_command":
            operators = {node_text(c) for c in _walk(node) if c.type == "test_operator"}
            if operators & _ARITH_OPS or "-v" in operators:
                problems.append(f"`{node_text(node)[:60]}` evaluates arithmetic over variables")
        elif kind == "expansion" and not _SAFE_EXPANSION.fullmatch(node_text(node)):
            problems.append(
                f"`{node_text(node)[:60]}` evaluates a subscript, indirection or prompt"
            )
        elif kind == "subscript":
            index = node.named_children[1:] if len(node.named_children) > 1 else []
            if any(i.type != "number" and node_text(i) not in ("@", "*") for i in index):
                problems.append(f"`{node_text(node)[:60]}` evaluates a subscript")
    for command in commands:
        for name in command.assignments:
            if code_env(name):
                problems.append(f"`{name}` is set, which can make programs run other code")
    return ScriptScan(commands, list(dict.fromkeys(problems)))
