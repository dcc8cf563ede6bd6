"""The proxy's own HTTP answers: errors, and blocks in Codex's wire format (spec §12).

A blocked plain-HTTP request gets ``403`` with ``x-proxy-error`` and a JSON body
``{"status":"blocked","host","reason","decision","source","protocol","port","method",
"message"}``; a blocked CONNECT or inspected request gets the same status and header with one
line of text (clients print it). Every answer here closes the connection, and is written with
one ``send`` (head and body together).
"""

from __future__ import annotations

import asyncio
import json

from codex_admin.proxy.http1 import serialize_head
from codex_admin.proxy.policy import Decision

__all__ = ["decision_answer", "send_decision", "send_simple", "simple_answer"]

_REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    405: "Method Not Allowed",
    408: "Request Timeout",
    417: "Expectation Failed",
    431: "Request Header Fields Too Large",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def simple_answer(
    status: int,
    body: bytes,
    *,
    content_type: str = "text/plain; charset=utf-8",
    proxy_error: str | None = None,
) -> bytes:
    """A whole answer (head and body) that announces that the connection will close."""
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
    if proxy_error:
        headers.append(("x-proxy-error", proxy_error))
    headers.append(("Connection", "close"))
    start = ("HTTP/1.1", str(status), _REASONS.get(status, "Error"))
    return serialize_head(start, headers) + body


def decision_answer(decision: Decision, *, protocol: str, method: str, json_body: bool) -> bytes:
    """The answer to a refused request: Codex's JSON body for plain HTTP blocks, else one
    line of text."""
    status = decision.status or 403
    if json_body and status == 403:
        body = _blocked_json(decision, protocol, method)
        return simple_answer(
            403, body, content_type="application/json", proxy_error=decision.x_proxy_error
        )
    text = f"{decision.message} ({decision.host}: {decision.reason})\n".encode()
    return simple_answer(status, text, proxy_error=decision.x_proxy_error)


async def send_simple(
    writer: asyncio.StreamWriter,
    status: int,
    body: bytes,
    *,
    content_type: str = "text/plain; charset=utf-8",
    proxy_error: str | None = None,
) -> None:
    """Send :func:`simple_answer` and wait until the transport took it."""
    writer.write(simple_answer(status, body, content_type=content_type, proxy_error=proxy_error))
    await writer.drain()


async def send_decision(
    writer: asyncio.StreamWriter, decision: Decision, *, protocol: str, method: str, json_body: bool
) -> None:
    """Send :func:`decision_answer` and wait until the transport took it."""
    writer.write(decision_answer(decision, protocol=protocol, method=method, json_body=json_body))
    await writer.drain()


def _blocked_json(decision: Decision, protocol: str, method: str) -> bytes:
    body = {
        "status": "blocked",
        "host": decision.host,
        "reason": decision.reason,
        "decision": decision.decision,
        "source": decision.source,
        "protocol": protocol,
        "port": decision.port,
        "method": method,
        "message": decision.message,
    }
    return json.dumps(body, separators=(",", ":")).encode()
