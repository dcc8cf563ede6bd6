"""Recognising apply_patch calls inside shell commands (the agent's interception)."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codex_admin.apply_patch import (
    IMPLICIT_INVOCATION,
    Invocation,
    PatchError,
    detect_invocation,
    extract_heredoc,
    intercept_warning,
)

P = "*** Begin Patch\n*** Add File: a\n+x\n*** End Patch"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["apply_patch", P], Invocation(P)),
        (["applypatch", P], Invocation(P)),
        (["bash", "-lc", f"apply_patch <<'EOF'\n{P}\nEOF\n"], Invocation(P, None, True)),
        (["/bin/zsh", "-c", f"applypatch <<EOF\n{P}\nEOF"], Invocation(P, None, True)),
        (["sh", "-c", f'apply_patch <<"EOF"\n{P}\nEOF\n'], Invocation(P, None, True)),
        (
            ["bash", "-lc", f"cd sub/dir && apply_patch <<'EOF'\n{P}\nEOF\n"],
            Invocation(P, "sub/dir", True),
        ),
        (
            ["bash", "-lc", f"cd 'my dir' && apply_patch <<'EOF'\n{P}\nEOF\n"],
            Invocation(P, "my dir", True),
        ),
        (
            ["bash", "-lc", f"cd \"/abs path\" && apply_patch <<'EOF'\n{P}\nEOF\n"],
            Invocation(P, "/abs path", True),
        ),
        (
            ["pwsh", "-NoProfile", "-Command", f"apply_patch <<'EOF'\n{P}\nEOF\n"],
            Invocation(P, None, True),
        ),
        (["bash", "-lc", f"apply_patch <<'EOF'\n{P}\n\n\nEOF\n"], Invocation(P, None, True)),
    ],
)
def test_recognised(argv: list[str], expected: Invocation) -> None:
    assert detect_invocation(argv) == expected


@pytest.mark.parametrize(
    "argv",
    [
        ["ls", "-la"],
        ["bash", "-lc", "echo hi"],
        ["bash", "-lc", f"echo hi; apply_patch <<'EOF'\n{P}\nEOF\n"],
        ["bash", "-lc", f"apply_patch <<'EOF'\n{P}\nEOF\n&& echo done"],
        ["bash", "-lc", f"apply_patch <<'EOF'\n{P}\nEOF\necho after\n"],
        ["bash", "-lc", f"cd $HOME && apply_patch <<'EOF'\n{P}\nEOF\n"],
        ["bash", "-lc", f"cd \"$HOME/x\" && apply_patch <<'EOF'\n{P}\nEOF\n"],
        ["bash", "-lc", f"cd ~ && apply_patch <<'EOF'\n{P}\nEOF\n"],
        ["bash", "-lc", f"cd a b && apply_patch <<'EOF'\n{P}\nEOF\n"],
        ["bash", "-lc", f"cd -P a && apply_patch <<'EOF'\n{P}\nEOF\n"],
        ["bash", "-lc", f"cd a || apply_patch <<'EOF'\n{P}\nEOF\n"],
        ["bash", "-lc", f"cd a; apply_patch <<'EOF'\n{P}\nEOF\n"],
        ["bash", "-lc", f"apply_patch extra <<'EOF'\n{P}\nEOF\n"],
        ["bash", "-lc", f"apply_patch <<'EOF' > out\n{P}\nEOF\n"],
        ["bash", "-lc", f"apply_patch <<'EOF' # comment\n{P}\nEOF\n"],
        ["bash", "-lc", f"apply_patch <<'EOF'\n{P}\n"],  # unterminated heredoc
        ["bash", "-x", f"apply_patch <<'EOF'\n{P}\nEOF\n"],
        ["fish", "-c", f"apply_patch <<'EOF'\n{P}\nEOF\n"],
        ["bash", "-lc", f"sudo apply_patch <<'EOF'\n{P}\nEOF\n"],
        ["apply_patch"],
        ["apply_patch", P, "extra"],
    ],
)
def test_not_recognised(argv: list[str]) -> None:
    assert detect_invocation(argv) is None


@pytest.mark.parametrize("argv", [[P], ["bash", "-lc", P]])
def test_bare_patch_is_an_implicit_invocation(argv: list[str]) -> None:
    with pytest.raises(PatchError) as info:
        detect_invocation(argv)
    assert str(info.value) == IMPLICIT_INVOCATION


def test_body_is_not_parsed_here() -> None:
    found = detect_invocation(["bash", "-lc", "apply_patch <<'EOF'\nnot a patch\nEOF\n"])
    assert found == Invocation("not a patch", None, True)


def test_workdir_resolution() -> None:
    base = PurePosixPath("/repo")
    assert Invocation(P, "sub/../pkg").cwd(base) == PurePosixPath("/repo/pkg")
    assert Invocation(P, "/elsewhere").cwd(base) == PurePosixPath("/elsewhere")
    assert Invocation(P).cwd(base) == base


def test_extract_heredoc_and_warning() -> None:
    assert extract_heredoc(f"apply_patch <<'EOF'\n{P}\nEOF") == (P, None)
    assert extract_heredoc("apply_patch\x00 <<'EOF'\nx\nEOF") is None
    assert intercept_warning("exec_command") == (
        "Warning: apply_patch was requested via exec_command. "
        "Use the apply_patch tool instead of exec_command."
    )


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(["bash", "-lc", "apply_patch", "cd", "&&", "<<'EOF'", "EOF", "\n", P]),
            st.text(max_size=20),
        ),
        max_size=4,
    )
)
def test_detection_never_crashes(argv: list[str]) -> None:
    """Any argv (and any script inside it) is recognised, ignored, or an implicit-call error."""
    for candidate in (argv, ["bash", "-lc", "".join(argv)]):
        try:
            detect_invocation(candidate)
        except PatchError as error:
            assert str(error) == IMPLICIT_INVOCATION
