"""The sans-IO SSE decoder: every cut point, every line ending, UTF-8 split anywhere."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codex_admin.providers import SSEDecoder, SSEEvent
from codex_admin.providers.sse import SSEError
from tests.support import awkward_chunks, split_chunks


def decode(pieces: list[bytes]) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for piece in pieces:
        events += decoder.feed(piece)
    return events + decoder.close()


STREAM = (
    "\ufeffevent: response.output_text.delta\r\n"
    'data: {"delta": "h\u00e9llo \u2713 \U0001f600"}\r\n'
    "\r\n"
    ": a comment\n"
    "event: two\n"
    "data: line one\n"
    "data:line two\n"
    "id: 7\n"
    "retry: 1500\n"
    "\n"
    "data: cr only\r\r"
).encode()

EXPECTED = [
    SSEEvent("response.output_text.delta", '{"delta": "h\u00e9llo \u2713 \U0001f600"}', None, None),
    SSEEvent("two", "line one\nline two", "7", 1500),
    SSEEvent("message", "cr only", "7", 1500),
]


def test_whole_stream() -> None:
    assert decode([STREAM]) == EXPECTED


@pytest.mark.parametrize("cut", range(1, len(STREAM)))
def test_every_single_cut_point(cut: int) -> None:
    assert decode([STREAM[:cut], STREAM[cut:]]) == EXPECTED


def test_byte_by_byte_and_awkward_chunks() -> None:
    assert decode([STREAM[i : i + 1] for i in range(len(STREAM))]) == EXPECTED
    pieces = awkward_chunks(STREAM)
    assert len(pieces) > 20
    # the awkward chunker really cuts between CR and LF and inside multi-byte characters
    assert any(p.endswith(b"\r") for p in pieces)
    assert any(0x80 <= p[0] <= 0xBF for p in pieces)
    assert decode(pieces) == EXPECTED


def test_event_without_blank_line_at_eof_is_dropped() -> None:
    assert decode([b"data: complete\n\ndata: partial"]) == [SSEEvent("message", "complete")]


def test_invalid_utf8_is_an_error_not_a_replacement() -> None:
    with pytest.raises(SSEError, match="UTF-8"):
        decode([b"data: \xff\xfe\n\n"])
    with pytest.raises(SSEError, match="ends inside"):
        decode([b"data: \xe2\x9c"])


def test_oversized_event_is_refused() -> None:
    decoder = SSEDecoder(max_event_bytes=100)
    with pytest.raises(SSEError, match="exceeds"):
        decoder.feed(b"data: " + b"x" * 200)
    decoder = SSEDecoder(max_event_bytes=100)
    with pytest.raises(SSEError, match="exceeds"):
        for _ in range(20):
            decoder.feed(b"data: " + b"y" * 10 + b"\n")


def test_blank_data_and_field_without_colon() -> None:
    assert decode([b"data\n\n"]) == [SSEEvent("message", "")]
    assert decode([b"event: x\n\n"]) == []  # no data: nothing to dispatch


@settings(max_examples=150, deadline=None)
@given(
    texts=st.lists(
        st.text(min_size=1, max_size=30).filter(lambda t: "\r" not in t and "\n" not in t),
        min_size=1,
        max_size=6,
    ),
    ending=st.sampled_from(["\n", "\r\n", "\r"]),
    sizes=st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=5),
)
def test_any_chunking_gives_the_same_events(
    texts: list[str], ending: str, sizes: list[int]
) -> None:
    body = "".join(f"event: e{i}{ending}data: {t}{ending}{ending}" for i, t in enumerate(texts))
    data = body.encode("utf-8")
    want = [SSEEvent(f"e{i}", t) for i, t in enumerate(texts)]
    assert decode(split_chunks(data, sizes)) == want
