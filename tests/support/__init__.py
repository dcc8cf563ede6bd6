"""Reusable test servers for every area's tests (import from ``tests.support``).

* :mod:`.model_server` -- :class:`MockResponsesServer` / :class:`MockChatServer`: real HTTP + SSE
  on 127.0.0.1, scripted turns (events, 500s, 429 "try again in 1.5s", each ``response.failed``
  class, early close, idle stall, non-SSE bodies), awkward chunking, recorded requests, and the
  builders for common turns. Its docstring is the API reference.
* :mod:`.oauth_server` -- :class:`MockOAuthIssuer` (PKCE, token exchange, refresh, device code).
* :mod:`.secret_service` -- :class:`SecretService`: a real gnome-keyring on a private D-Bus.
* :mod:`.tls` -- :class:`TestCA` for real TLS (and a TRUSTED CERTIFICATE export).
* :mod:`.http_server` -- the threaded HTTP/1.1 server they all build on.
* :mod:`.otlp_receiver` -- :class:`OtlpReceiver`: a real OTLP receiver (HTTP protobuf, HTTP
  JSON, gRPC) that decodes what it gets; see its docstring.
* :mod:`.fixtures` -- pytest fixtures (``responses_server``, ``chat_server``, ``oauth_issuer``,
  ``secret_service``); use them with ``from tests.support.fixtures import *`` in a conftest.
"""

from tests.support.http_server import (
    Chunking,
    RecordedRequest,
    ResponseWriter,
    ThreadedHttpServer,
    awkward_chunks,
    split_chunks,
)
from tests.support.model_server import (
    ErrorTurn,
    MockChatServer,
    MockModelServer,
    MockResponsesServer,
    SSETurn,
    Turn,
    assistant_turn,
    chat_chunk,
    chat_text_turn,
    chat_tool_call_turn,
    chat_turn,
    completed,
    created,
    custom_tool_call_item,
    custom_tool_call_turn,
    early_close,
    failed,
    failed_turn,
    function_call_item,
    function_call_turn,
    http_error,
    message_item,
    non_sse,
    output_item_added,
    output_item_done,
    output_text_delta,
    rate_limited,
    reasoning_item,
    reasoning_summary_delta,
    responses_turn,
    server_error,
    sse_frame,
    stall,
    usage,
)
from tests.support.oauth_server import MockOAuthIssuer, make_jwt
from tests.support.secret_service import SecretService, SecretServiceUnavailable, unavailable_reason
from tests.support.tls import TestCA

__all__ = [
    "Chunking",
    "ErrorTurn",
    "MockChatServer",
    "MockModelServer",
    "MockOAuthIssuer",
    "MockResponsesServer",
    "RecordedRequest",
    "ResponseWriter",
    "SSETurn",
    "SecretService",
    "SecretServiceUnavailable",
    "TestCA",
    "ThreadedHttpServer",
    "Turn",
    "assistant_turn",
    "awkward_chunks",
    "chat_chunk",
    "chat_text_turn",
    "chat_tool_call_turn",
    "chat_turn",
    "completed",
    "created",
    "custom_tool_call_item",
    "custom_tool_call_turn",
    "early_close",
    "failed",
    "failed_turn",
    "function_call_item",
    "function_call_turn",
    "http_error",
    "make_jwt",
    "message_item",
    "non_sse",
    "output_item_added",
    "output_item_done",
    "output_text_delta",
    "rate_limited",
    "reasoning_item",
    "reasoning_summary_delta",
    "responses_turn",
    "server_error",
    "split_chunks",
    "sse_frame",
    "stall",
    "unavailable_reason",
    "usage",
]
