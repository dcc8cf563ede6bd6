"""The apply_patch tool as the model sees it: Codex's freeform tool, or a function for others.

* :func:`freeform_tool` is byte-for-byte the custom tool Codex 0.169.0 sends GPT-5-class models
  (captured from its Responses request to a local mock server): a Lark grammar constrains the
  model's output to the patch format.
* :func:`function_tool` is the variant for models without custom tools (gpt-oss and
  Chat Completions providers): one required string parameter ``input`` holding the whole
  patch, described by :data:`APPLY_PATCH_INSTRUCTIONS` (our own text of the format's rules).

Responses API shapes; a Chat Completions client wraps the function as
``{"type": "function", "function": {...}}``.
"""

from __future__ import annotations

import json
from typing import Any

from codex_admin.apply_patch.errors import PatchError

__all__ = [
    "APPLY_PATCH_INSTRUCTIONS",
    "APPLY_PATCH_LARK_GRAMMAR",
    "FREEFORM_DESCRIPTION",
    "TOOL_NAME",
    "freeform_tool",
    "function_tool",
    "patch_from_function_arguments",
    "tool_spec",
]

TOOL_NAME = "apply_patch"

APPLY_PATCH_LARK_GRAMMAR = """\
start: begin_patch hunk+ end_patch
begin_patch: "*** Begin Patch" LF
end_patch: "*** End Patch" LF?

hunk: add_hunk | delete_hunk | update_hunk
add_hunk: "*** Add File: " filename LF add_line+
delete_hunk: "*** Delete File: " filename LF
update_hunk: "*** Update File: " filename LF change_move? change?

filename: /(.+)/
add_line: "+" /(.*)/ LF -> line

change_move: "*** Move to: " filename LF
change: (change_context | change_line)+ eof_line?
change_context: ("@@" | "@@ " /(.+)/) LF
change_line: ("+" | "-" | " ") /(.*)/ LF
eof_line: "*** End of File" LF

%import common.LF
"""

FREEFORM_DESCRIPTION = (
    "The `apply_patch` tool can be used to edit files. This is a FREEFORM tool, "
    "so do not wrap the patch in JSON."
)

APPLY_PATCH_INSTRUCTIONS = """\
Use the `apply_patch` tool to create, change, move and delete files. Its input is one patch in \
a simple, file-oriented diff format (not unified diff):

*** Begin Patch
[one or more file operations]
*** End Patch

Each operation starts with one of three headers:

*** Add File: <path> - create a new file (or replace an existing one). Every following line \
is a line of the new file and starts with `+`.
*** Delete File: <path> - delete an existing file. Nothing follows.
*** Update File: <path> - change an existing file in place. It may be followed at once by \
`*** Move to: <new path>` to rename the file as well. Then come one or more chunks.

A chunk starts with `@@`, optionally followed by one line of the file that locates the change \
(usually a class or function header, e.g. `@@ def handle(request):`), and then lists the lines \
of the change, each with a one-character prefix:
  ` ` (a space) - an unchanged context line
  `-` - a line to remove
  `+` - a line to add
Show about three lines of context above and below each change, without repeating context that \
a previous chunk already showed. If that is not enough to find the place uniquely, add `@@` \
lines naming the enclosing class and function. Chunks must appear in file order. End the last \
chunk with `*** End of File` when the change is at the end of the file.

Example:

*** Begin Patch
*** Add File: docs/hello.txt
+Hello, world!
*** Update File: src/app.py
*** Move to: src/main.py
@@ def greet():
-    print("Hi")
+    print("Hello, world!")
*** Delete File: obsolete.txt
*** End Patch

Rules:
- Always include a header naming the action (Add / Delete / Update) for every file.
- Prefix every new line with `+`, even in a new file.
- Paths are relative to the working directory; never use absolute paths.
- The patch is applied as a whole: if any part fails, nothing is changed; read the error, \
re-read the file and send a corrected patch.
"""


def freeform_tool() -> dict[str, Any]:
    """Codex's custom (freeform) apply_patch tool with its Lark grammar."""
    return {
        "type": "custom",
        "name": TOOL_NAME,
        "description": FREEFORM_DESCRIPTION,
        "format": {"type": "grammar", "syntax": "lark", "definition": APPLY_PATCH_LARK_GRAMMAR},
    }


def function_tool() -> dict[str, Any]:
    """The function-tool variant: ``{"input": "<the whole patch>"}``; not strict."""
    return {
        "type": "function",
        "name": TOOL_NAME,
        "description": APPLY_PATCH_INSTRUCTIONS,
        "strict": False,
        "parameters": {
            "type": "object",
            "properties": {
                "input": {
                    "type": "string",
                    "description": "The entire contents of the apply_patch command",
                }
            },
            "required": ["input"],
            "additionalProperties": False,
        },
    }


def tool_spec(kind: str) -> dict[str, Any]:
    """``"freeform"`` or ``"function"`` (a model family's ``apply_patch_tool_type``)."""
    if kind == "freeform":
        return freeform_tool()
    if kind == "function":
        return function_tool()
    raise ValueError(f"unknown apply_patch tool type {kind!r} (expected freeform or function)")


def patch_from_function_arguments(arguments: str) -> str:
    """The patch text of a function-tool call's JSON ``arguments``; PatchError when malformed."""
    try:
        value = json.loads(arguments)
    except json.JSONDecodeError as error:
        raise PatchError(
            f"failed to parse function arguments: {error}",
            kind="parse",
            hint='send {"input": "<the whole patch>"}',
        ) from None
    if not isinstance(value, dict) or not isinstance(value.get("input"), str):
        raise PatchError(
            "failed to parse function arguments: missing string field `input`",
            kind="parse",
            hint='send {"input": "<the whole patch>"}',
        )
    return str(value["input"])
