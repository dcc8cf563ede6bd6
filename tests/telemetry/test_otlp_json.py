"""The OTLP/JSON encoder against the OTLP spec's rules, and the receiver's strictness."""

from __future__ import annotations

import json

import httpx
from google.protobuf.json_format import MessageToJson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from codex_admin.telemetry.otlp_json import encode_otlp_json
from tests.support.otlp_receiver import OtlpReceiver

TRACE_ID = bytes.fromhex("5b8efff798038103d269b633813fc60c")
SPAN_ID = bytes.fromhex("eee19b7ec3c1b174")
PARENT_ID = bytes.fromhex("eee19b7ec3c1b173")


def request() -> ExportTraceServiceRequest:
    span = Span(
        trace_id=TRACE_ID,
        span_id=SPAN_ID,
        parent_span_id=PARENT_ID,
        name="codex.turn",
        kind=Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=1544712660000000000,
        end_time_unix_nano=1544712661000000000,
        attributes=[
            KeyValue(key="tool_call_count", value=AnyValue(int_value=3)),
            KeyValue(key="blob", value=AnyValue(bytes_value=b"\x00\xff")),
        ],
        status=Status(code=Status.STATUS_CODE_OK),
    )
    return ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=[span])])]
    )


def test_encoding_follows_the_otlp_json_rules() -> None:
    tree = json.loads(encode_otlp_json(request()))
    span = tree["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert span["traceId"] == "5b8efff798038103d269b633813fc60c"  # hex, not base64
    assert span["spanId"] == "eee19b7ec3c1b174"
    assert span["parentSpanId"] == "eee19b7ec3c1b173"
    assert span["kind"] == 1 and span["status"]["code"] == 1  # enums as integers
    assert span["startTimeUnixNano"] == "1544712660000000000"  # 64-bit ints as strings
    attrs = {a["key"]: a["value"] for a in span["attributes"]}
    assert attrs["tool_call_count"] == {"intValue": "3"}
    assert attrs["blob"] == {"bytesValue": "AP8="}  # other bytes stay base64
    assert all("_" not in key for key in _keys(tree))  # lowerCamelCase everywhere


def _keys(node: object) -> list[str]:
    if isinstance(node, dict):
        keys = list(node)
        for value in node.values():
            keys += _keys(value)
        return keys
    if isinstance(node, list):
        return [k for item in node for k in _keys(item)]
    return []


def test_the_receiver_accepts_our_encoding_and_rejects_wrong_ones() -> None:
    with OtlpReceiver() as rx, httpx.Client(trust_env=False) as client:
        url = rx.http_url("traces")
        headers = {"Content-Type": "application/json"}
        body = encode_otlp_json(request())
        assert client.post(url, content=body, headers=headers).status_code == 200
        span = rx.spans_named("codex.turn")[0]
        assert (span.trace_id, span.span_id, span.parent_span_id) == (
            TRACE_ID.hex(),
            SPAN_ID.hex(),
            PARENT_ID.hex(),
        )
        assert span.attributes["tool_call_count"] == 3

        canonical = MessageToJson(request())  # proto3 JSON: base64 ids -> not OTLP
        assert client.post(url, content=canonical, headers=headers).status_code == 400
        snake = MessageToJson(request(), preserving_proto_field_name=True)
        assert client.post(url, content=snake, headers=headers).status_code == 400
        unknown = json.dumps({"resourceSpans": [], "extraField": 1})
        assert client.post(url, content=unknown, headers=headers).status_code == 400
        assert len(rx.errors) == 3 and len(rx.spans) == 1
