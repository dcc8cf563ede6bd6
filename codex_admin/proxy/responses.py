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

__all__ = ["send_decision", "send_simple"]

_REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    405: "Method Not Allowed",
    417: "Expectation Failed",
    431: "Request Header Fields Too Large",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


async def send_simple(
    writer: asyncio.StreamWriter,
    status: int,
    body: bytes,
    *,
    content_type: str = "text/plain; charset=utf-8",
    proxy_error: str | None = None,
) -> None:
    """Answer and announce that the connection will close."""
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
    if proxy_error:
        headers.append(("x-proxy-error", proxy_error))
    headers.append(("Connection", "close"))
    start = ("HTTP/1.1", str(status), _REASONS.get(status, "Error"))
    writer.write(serialize_head(start, headers) + body)
    await writer.drain()


async def send_decision(
    writer: asyncio.StreamWriter, decision: Decision, *, protocol: str, method: str, json_body: bool
) -> None:
    """Answer a refused request: Codex's JSON body for plain HTTP blocks, else one line."""
    status = decision.status or 403
    if json_body and status == 403:
        body = _blocked_json(decision, protocol, method)
        await send_simple(
            writer, 403, body, content_type="application/json", proxy_error=decision.x_proxy_error
        )
        return
    text = f"{decision.message} ({decision.host}: {decision.reason})\n".encode()
    await send_simple(writer, status, text, proxy_error=decision.x_proxy_error)


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
