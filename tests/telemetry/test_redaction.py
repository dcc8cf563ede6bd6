"""Redaction: what is masked, that it stays linear on hostile input, and that secrets and the
prompt never leave the process over any signal or protocol."""

from __future__ import annotations

import time

import pytest

from codex_admin.telemetry import REDACTED, Redactor, SessionMeta, Telemetry, redact
from tests.support.otlp_receiver import OtlpReceiver
from tests.telemetry.conftest import MakeTelemetry

PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAmarkerPEMbody0123456789\n"
    "-----END RSA PRIVATE KEY-----"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("key sk-proj-abcdefghijklmnopqrstuvwx01 end", f"key {REDACTED} end"),
        ("sk-ant-api03-abcdefghijklmnopqrstu", REDACTED),
        ("curl -H 'Authorization: Bearer abc.def.ghi'", f"curl -H 'Authorization: {REDACTED}'"),
        ("Proxy-Authorization: Basic dXNlcjpwYXNz", f"Proxy-Authorization: {REDACTED}"),
        ("token is bearer abcdefghijklmnop!", f"token is bearer {REDACTED}!"),
        ("http://alice:s3cr3t@proxy.corp:8080/x", f"http://{REDACTED}@proxy.corp:8080/x"),
        ("socks5h://u:p%40ss@10.0.0.1:1080", f"socks5h://{REDACTED}@10.0.0.1:1080"),
        ("git clone https://ghp_abcdefghijklmnopqrstuvwxyz0123456789@github.com/o/r",
         f"git clone https://{REDACTED}@github.com/o/r"),
        ("export OPENAI_API_KEY=abcd1234efgh", f"export OPENAI_API_KEY={REDACTED}"),
        ('{"api_key": "zz-top-secret", "input_token_count": 12345, "max_tokens": 50}',
         f'{{"api_key": "{REDACTED}", "input_token_count": 12345, "max_tokens": 50}}'),
        ("DB_PASSWORD: hunter2!", f"DB_PASSWORD: {REDACTED}"),
        ("client_secret=abc123xyz", f"client_secret={REDACTED}"),
        (f"before\n{PEM}\nafter", f"before\n{REDACTED}\nafter"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXkt (truncated", REDACTED),
        ("https://x.blob.core.windows.net/c?sv=1&sig=abc%2Bdef&se=2",
         f"https://x.blob.core.windows.net/c?sv=1&sig={REDACTED}&se=2"),
        ("id AKIAABCDEFGHIJKLMNOP", f"id {REDACTED}"),
        ("xoxb-123456789012-abcdefghij", REDACTED),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
         REDACTED),
        ("plain words, nothing hidden: tool=shell ok", "plain words, nothing hidden: tool=shell ok"),
        ("https://example.com/path?q=1", "https://example.com/path?q=1"),
        ("short", "short"),
    ],
)  # fmt: skip
def test_patterns(text: str, expected: str) -> None:
    assert redact(text) == expected
    assert redact(expected) == expected  # idempotent


def test_registered_secrets_are_replaced_wherever_they_appear() -> None:
    redactor = Redactor(["plainmarker-4242", "tiny"])
    assert redactor("echo plainmarker-4242 | tee x") == f"echo {REDACTED} | tee x"
    assert redactor("a tiny word") == "a tiny word"  # under 8 characters: ignored
    redactor.add("plainmarker-4242-long")
    assert redactor("plainmarker-4242-long") == REDACTED  # longest first, replaced whole


def test_a_secret_straddling_the_content_cut_is_never_half_exported() -> None:
    redactor = Redactor()
    key = "sk-" + "A" * 40
    text = "x" * (1000 - 11) + " " + key + " " + "y" * 5000
    cut = redactor.content(text, limit=1000)
    assert "sk-" not in cut and "AAAA" not in cut
    assert REDACTED in cut and cut.endswith(f"[truncated {len(text) - 1000} chars]")


@pytest.mark.timeout(30)
def test_hostile_input_is_redacted_in_linear_time() -> None:
    redactor = Redactor(["registered-secret-1"])
    for hostile in ("a." * 500_000, "a" * 1_000_000, "x=" * 400_000, "http" * 250_000,
                    "Authorization:" * 50_000, "-----BEGIN PRIVATE KEY-----" * 20_000):  # fmt: skip
        start = time.perf_counter()
        redactor(hostile)
        assert time.perf_counter() - start < 5, hostile[:20]


MARKER_KEY = "sk-markerKEY0123456789abcdefghij"
MARKER_PROMPT = "MARKER-PROMPT-7f3a please refactor"
PLAIN_SECRET = "plainsecret-9b1e"  # no known shape: only the registered value protects it


def emit_with_secrets(t: Telemetry) -> None:
    t.user_prompt(f"{MARKER_PROMPT} with key {MARKER_KEY}")
    with t.turn("t1"):
        with t.tool_call("shell", "c1"):
            t.execpolicy_decision(
                call_id="c1",
                command=["curl", "-H", f"Authorization: Bearer {MARKER_KEY}", "https://api"],
                decision="prompt",
                source="heuristics",
            )
            t.tool_result(
                tool_name="shell",
                call_id="c1",
                arguments=f'{{"command": ["env"], "token": "{PLAIN_SECRET}"}}',
                output=(
                    f"OPENAI_API_KEY={MARKER_KEY}\nHTTPS_PROXY=http://bob:{PLAIN_SECRET}@proxy:3128"
                    f"\n{PEM}\nnoise {MARKER_KEY} noise"
                ),
                duration_ms=3,
                success=True,
            )
        t.hook_run(
            hook_event="PostToolUse",
            source="user",
            command=f"notify --token {PLAIN_SECRET}",
            outcome="error",
            duration_ms=1,
            message=f"leaked {MARKER_KEY}",
        )
        t.guardian_review(
            review_id="r",
            call_id="c1",
            action="shell",
            decision="denied",
            terminal_status="denied",
            duration_ms=1,
            rationale=f"the command prints {MARKER_KEY}",
        )
    t.api_request(attempt=1, duration_ms=1, status_code=401, error=f"invalid key {MARKER_KEY}")
    t.tool_result(
        tool_name=f"tool-{MARKER_KEY}",
        call_id="c2",
        arguments="",
        output="",
        duration_ms=1,
        success=True,
    )


def test_marker_prompt_and_secrets_are_never_exported(
    make_telemetry: MakeTelemetry, rx: OtlpReceiver
) -> None:
    telemetry = make_telemetry(
        secrets=(PLAIN_SECRET,),
        meta=SessionMeta(conversation_id="c", user_email=f"me+{MARKER_KEY}@example.com"),
    )
    emit_with_secrets(telemetry)
    assert telemetry.shutdown().flushed, telemetry.warnings
    assert rx.logs and rx.spans and rx.points
    for needle in (MARKER_PROMPT, "MARKER-PROMPT", MARKER_KEY, "markerKEY", PLAIN_SECRET,
                   "markerPEMbody", "BEGIN RSA PRIVATE KEY"):  # fmt: skip
        assert not rx.saw(needle), needle
        assert not any(needle in text for text in rx.iter_strings()), needle
    prompt = rx.logs_named("codex.user_prompt")[0].attributes
    assert prompt["prompt"] == REDACTED
    output = next(
        log.attributes["output"]
        for log in rx.logs_named("codex.tool_result")
        if log.attributes["call_id"] == "c1"
    )
    assert f"OPENAI_API_KEY={REDACTED}" in output
    assert f"http://{REDACTED}@proxy:3128" in output


def test_log_user_prompt_exports_the_prompt_but_still_no_secret(
    make_telemetry: MakeTelemetry, rx: OtlpReceiver
) -> None:
    telemetry = make_telemetry(log_user_prompt=True)
    telemetry.user_prompt(f"{MARKER_PROMPT} with key {MARKER_KEY}")
    assert telemetry.shutdown().flushed
    log = rx.logs_named("codex.user_prompt")[0]
    assert log.attributes["prompt"] == f"{MARKER_PROMPT} with key {REDACTED}"
    assert not rx.saw(MARKER_KEY)
    # the prompt is content: even when allowed on logs it never reaches a span
    assert not any(MARKER_PROMPT in str(e.attributes) for s in rx.spans for e in s.events)


def test_large_output_is_truncated_after_redaction(
    make_telemetry: MakeTelemetry, rx: OtlpReceiver
) -> None:
    telemetry = make_telemetry()
    output = "line\n" * 40_000 + MARKER_KEY
    telemetry.tool_result(
        tool_name="shell", call_id="c", arguments="", output=output, duration_ms=1, success=True
    )
    assert telemetry.shutdown().flushed
    exported = rx.logs_named("codex.tool_result")[0].attributes["output"]
    assert len(exported) < 70_000 and exported.endswith("chars]")
    event = rx.span_events("codex.tool_result")[0].attributes
    assert event["output_length"] == len(output)
    assert event["output_line_count"] == 40_001
