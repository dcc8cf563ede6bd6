"""Rules-file language: builtins, Codex's validation order and exact error texts (spec §1-2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from codex_admin.errors import CodexError
from codex_admin.execpolicy import Decision, PolicyParser, load_policy_files

from .helpers import parse

ERRORS = [
    # prefix_rule: decision, justification, pattern, examples - in that order
    ('prefix_rule(pattern=["git"], decision="deny")', "invalid decision: deny"),
    ('prefix_rule(pattern=["git"], decision="Allow")', "invalid decision: Allow"),
    ('prefix_rule(pattern=[], decision="nope")', "invalid decision: nope"),
    (
        'prefix_rule(pattern=["a"], justification=" \\n ")',
        "invalid rule: justification cannot be empty",
    ),
    ('prefix_rule(pattern=[], justification="")', "invalid rule: justification cannot be empty"),
    ("prefix_rule(pattern=[])", "invalid pattern element: pattern cannot be empty"),
    (
        'prefix_rule(pattern=["git", []])',
        "invalid pattern element: pattern alternatives cannot be empty",
    ),
    (
        'prefix_rule(pattern=["git", ["a", 1]])',
        "invalid pattern element: pattern alternative must be a string (got int)",
    ),
    (
        'prefix_rule(pattern=["git", 1])',
        "invalid pattern element: pattern element must be a string or list of strings (got int)",
    ),
    (
        'prefix_rule(pattern=["git", ("a",)])',
        "invalid pattern element: pattern element must be a string or list of strings (got tuple)",
    ),
    (
        'prefix_rule(pattern=["git", {"a": 1}])',
        "invalid pattern element: pattern element must be a string or list of strings (got dict)",
    ),
    (
        'prefix_rule(pattern=["a"], match=["a \'b"])',
        "invalid example: example string has invalid shell syntax",
    ),
    (
        'prefix_rule(pattern=["a"], match=["   "])',
        "invalid example: example cannot be an empty string",
    ),
    (
        'prefix_rule(pattern=["a"], not_match=[[]])',
        "invalid example: example cannot be an empty list",
    ),
    (
        'prefix_rule(pattern=["a"], match=[["a", 2]])',
        "invalid example: example tokens must be strings (got int)",
    ),
    (
        'prefix_rule(pattern=["a"], match=[("a",)])',
        "invalid example: example must be a string or list of strings (got tuple)",
    ),
    (
        'prefix_rule(pattern=["a"], match=[None])',
        "invalid example: example must be a string or list of strings (got NoneType)",
    ),
    # typed parameters are Starlark evaluation errors
    ('prefix_rule(pattern="git")', "expected `list`, actual `string`"),
    ('prefix_rule(pattern=("git",))', "expected `list`, actual `tuple`"),
    ('prefix_rule(pattern=["git"], decision=1)', "expected `str`, actual `int`"),
    ('prefix_rule(pattern=["git"], match="git")', "expected `list`, actual `string`"),
    ('prefix_rule(pattern=["git"], reviewer="user")', "extra named parameter"),
    ('host_executable(name="git", paths="/usr/bin/git")', "expected `list`, actual `string`"),
    ("frobnicate()", "Variable `frobnicate` not found"),
    ('load("x.star", "y")', "No imports are available"),
    ("prefix_rule(", "Parse error"),
    # network_rule: protocol, decision, justification, host
    (
        'network_rule(host="", protocol="ftp", decision="nope")',
        "invalid rule: network_rule protocol must be one of http, https, socks5_tcp, socks5_udp "
        "(got ftp)",
    ),
    ('network_rule(host="", protocol="http", decision="ask")', "invalid decision: ask"),
    (
        'network_rule(host="", protocol="http", decision="deny", justification="")',
        "invalid rule: justification cannot be empty",
    ),
    (
        'network_rule(host="  ", protocol="http", decision="deny")',
        "network_rule host cannot be empty",
    ),
    (
        'network_rule(host="...", protocol="http", decision="deny")',
        "network_rule host cannot be empty",
    ),
    (
        'network_rule(host="https://x.com", protocol="http", decision="deny")',
        "invalid rule: network_rule host must be a hostname or IP literal (without scheme or path)",
    ),
    (
        'network_rule(host="x.com/a", protocol="http", decision="deny")',
        "(without scheme or path)",
    ),
    ('network_rule(host="x.com?q", protocol="http", decision="deny")', "(without scheme or path)"),
    (
        'network_rule(host="[::1", protocol="http", decision="deny")',
        "invalid rule: network_rule host has an invalid bracketed IPv6 literal",
    ),
    (
        'network_rule(host="[::1]x", protocol="http", decision="deny")',
        "invalid rule: network_rule host contains an unsupported suffix: [::1]x",
    ),
    (
        'network_rule(host="*.x.com", protocol="http", decision="deny")',
        "invalid rule: network_rule host must be a specific host; wildcards are not allowed",
    ),
    (
        'network_rule(host="a b.com", protocol="http", decision="deny")',
        "invalid rule: network_rule host cannot contain whitespace",
    ),
    # host_executable
    ('host_executable(name="", paths=[])', "invalid rule: host_executable name cannot be empty"),
    *[
        (
            f'host_executable(name="{bad}", paths=[])',
            f"invalid rule: host_executable name must be a bare executable name (got {bad})",
        )
        for bad in ("/usr/bin/git", "a/b", ".", "..", "git/")
    ],
    (
        'host_executable(name="git", paths=[1])',
        "invalid rule: host_executable paths must be strings (got int)",
    ),
    (
        'host_executable(name="git", paths=["bin/git"])',
        "invalid rule: host_executable paths must be absolute or use `~/...` home-relative syntax "
        "(got bin/git): path must be absolute",
    ),
    (
        'host_executable(name="git", paths=["~root/git"])',
        "(got ~root/git): path must be absolute",
    ),
    (
        'host_executable(name="git", paths=["/usr/bin/git2"])',
        "invalid rule: host_executable path `/usr/bin/git2` must have basename `git`",
    ),
]


@pytest.mark.parametrize(("source", "message"), ERRORS)
def test_validation_errors(source: str, message: str) -> None:
    with pytest.raises(CodexError) as info:
        parse("# header\n" + source + "\n")
    assert message in info.value.message
    assert info.value.message.startswith("starlark error: ")
    assert info.value.location is not None and info.value.location.path == "test.rules"


def test_builtin_errors_are_located_on_the_calling_line() -> None:
    with pytest.raises(CodexError) as info:
        parse('x = 1\n\ndef f():\n    prefix_rule(pattern=["a"], decision="no")\n\nf()\n')
    assert info.value.location is not None and info.value.location.line == 4
    assert str(info.value).startswith("test.rules:4: starlark error: invalid decision: no")


def test_language_features_and_expansion() -> None:
    policy = parse(
        "\n".join(
            [
                'TOOLS = ["npm", "pnpm"]; N = len(TOOLS)',
                "def readonly(tool):",
                '    return [tool, ["ls", "list"]]',
                "[prefix_rule(pattern=readonly(t)) for t in TOOLS]",
                'prefix_rule(pattern=[["git", "hg"], "status", ["-s"]], decision="prompt",',
                '            justification=f"{N} tools")',
                'prefix_rule(pattern=["x"], justification="""\nkeep me\n""")',
            ]
        )
    )
    assert list(policy.rules_by_program) == ["npm", "pnpm", "git", "hg", "x"]
    git = policy.rules_by_program["git"][0]
    assert git.rest == ("status", "-s")  # one-member alternatives collapse
    assert git.decision is Decision.PROMPT and git.justification == "2 tools"
    assert policy.rules_by_program["hg"][0].rest == git.rest  # shared tail, not a product
    assert policy.rules_by_program["npm"][0].rest == (("ls", "list"),)
    assert policy.rules_by_program["x"][0].justification == "\nkeep me\n"
    assert git.source == "test.rules:5"


def test_identical_rules_are_kept_and_files_accumulate(tmp_path: Path) -> None:
    a = tmp_path / "a.rules"
    b = tmp_path / "b.rules"
    a.write_text('prefix_rule(pattern=["ls"])\nprefix_rule(pattern=["ls"])\n')
    b.write_text('prefix_rule(pattern=["ls"], decision="forbidden")\n')
    policy = load_policy_files([a, b])
    assert [r.decision for r in policy.rules_by_program["ls"]] == [
        Decision.ALLOW,
        Decision.ALLOW,
        Decision.FORBIDDEN,
    ]


def test_example_failures_have_codex_texts_and_locations() -> None:
    with pytest.raises(CodexError) as info:
        parse('\nprefix_rule(pattern=["git", "push"], match=["git push", "git pull", ["git"]])\n')
    assert info.value.location is not None and info.value.location.line == 2
    assert info.value.message == (
        "expected every example to match at least one rule. rules: [PrefixRule { pattern: "
        'PrefixPattern { first: "git", rest: [Single("push")] }, decision: Allow, '
        'justification: None }]; unmatched examples: ["git pull", "git"]'
    )
    with pytest.raises(CodexError) as info:
        parse('prefix_rule(pattern=["rm"], decision="forbidden", not_match=["rm -rf \'/a b\'"])')
    assert info.value.message == (
        'expected example to not match rule `PrefixRuleMatch { matched_prefix: ["rm"], '
        "decision: Forbidden, resolved_program: None, justification: None }`: rm -rf '/a b'"
    )


def test_not_match_is_checked_before_match() -> None:
    with pytest.raises(CodexError) as info:
        parse('prefix_rule(pattern=["a"], match=["b"], not_match=["a"])')
    assert info.value.message.startswith("expected example to not match rule")


def test_examples_only_match_their_own_rule() -> None:
    with pytest.raises(CodexError, match="unmatched examples"):
        parse('prefix_rule(pattern=["ls"])\nprefix_rule(pattern=["cat"], match=["ls"])\n')


def test_examples_use_basename_resolution_and_late_host_executables() -> None:
    # Without host_executable, /usr/bin/git falls back to the git rule -> not_match fails.
    with pytest.raises(CodexError, match="resolved_program: Some"):
        parse('prefix_rule(pattern=["git"], not_match=["/usr/bin/git status"])')
    # A host_executable declared *later in the same file* blocks the fallback.
    parse(
        'prefix_rule(pattern=["git"], not_match=["/opt/evil/git status"],'
        ' match=["/usr/bin/git status"])\n'
        'host_executable(name="git", paths=["/usr/bin/git"])\n'
    )


def test_example_validation_is_per_file(tmp_path: Path) -> None:
    first = tmp_path / "1.rules"
    first.write_text('host_executable(name="git", paths=[])\n')
    second = tmp_path / "2.rules"
    second.write_text('prefix_rule(pattern=["git"], not_match=["/usr/bin/git x"])\n')
    load_policy_files([first, second])  # host_executable from an earlier file counts


def test_collect_mode_records_every_failure() -> None:
    parser = PolicyParser(collect_example_failures=True)
    parser.parse_source(
        "c.rules",
        'prefix_rule(pattern=["a"], match=["b"])\nprefix_rule(pattern=["c"], match=["d"])\n',
    )
    assert [f.call.line for f in parser.failures] == [1, 2]


def test_host_executable_normalizes_dedupes_and_last_wins() -> None:
    policy = parse(
        'host_executable(name="git", paths=["/a/git"])\n'
        'host_executable(name="git", paths=["/usr//local/../bin/./git", "/usr/bin/git", "~/bin/git"])\n'
    )
    paths = policy.host_executables["git"]
    assert paths[0] == "/usr/bin/git" and len(paths) == 2
    assert paths[1].endswith("/bin/git") and paths[1].startswith("/")


def test_network_rules_normalize_and_compile() -> None:
    policy = parse(
        "\n".join(
            [
                'network_rule(host="google.com", protocol="http", decision="allow")',
                'network_rule(host="API.GitHub.com.:443", protocol="https_connect", decision="allow")',
                'network_rule(host="blocked.example.com", protocol="socks5_tcp", decision="deny")',
                'network_rule(host="prompt-only.example.com", protocol="http-connect", decision="prompt")',
                'network_rule(host="[::1]:8080", protocol="socks5_udp", decision="forbidden")',
                'network_rule(host="::1", protocol="http", decision="allow", justification="local")',
            ]
        )
    )
    hosts = [(r.host, r.protocol, r.decision.value) for r in policy.network_rules]
    assert hosts == [
        ("google.com", "http", "allow"),
        ("api.github.com", "https", "allow"),
        ("blocked.example.com", "socks5_tcp", "forbidden"),
        ("prompt-only.example.com", "https", "prompt"),
        ("::1", "socks5_udp", "forbidden"),
        ("::1", "http", "allow"),
    ]
    assert policy.compiled_network_domains() == (
        ["google.com", "api.github.com", "::1"],
        ["blocked.example.com"],
    )


def test_read_and_encoding_errors(tmp_path: Path) -> None:
    with pytest.raises(CodexError, match="failed to read policy at"):
        load_policy_files([tmp_path / "missing.rules"])
    bad = tmp_path / "bad.rules"
    bad.write_bytes(b'prefix_rule(pattern=["a"])\n\xff\n')
    with pytest.raises(CodexError, match="not valid UTF-8") as info:
        load_policy_files([bad])
    assert info.value.location is not None and info.value.location.line == 2


def test_every_public_name_resolves() -> None:
    import codex_admin.execpolicy as package

    for name in package.__all__:
        assert getattr(package, name) is not None, name
