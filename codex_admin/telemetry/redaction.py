"""Secret redaction applied to every string telemetry exports (attributes, bodies, resources).

Telemetry leaves the machine, so it must never carry credentials, even when a tool printed one or
the model pasted one into a command. :class:`Redactor` replaces, in one regex pass plus one literal
pass:

- PEM private keys (``-----BEGIN ... PRIVATE KEY-----`` to the matching END, or to the end of the
  text when output was truncated inside the block);
- URL userinfo (``https://user:pass@host``, ``https://token@host``, proxy URLs alike);
- ``Authorization`` / ``Proxy-Authorization`` header values and ``Bearer`` tokens;
- well-known token shapes: OpenAI/Anthropic ``sk-...``, GitHub ``ghp_`` / ``github_pat_``, GitLab
  ``glpat-``, Slack ``xox?-``, AWS ``AKIA``/``ASIA`` key ids, Google ``AIza``, npm ``npm_``, JWTs;
- ``name=value`` / ``"name": "value"`` pairs whose name ends in api_key, token, secret, password,
  passwd, credential(s), private_key or access_key (``OPENAI_API_KEY=...``, ``"password": "..."``),
  and URL query parameters ``key``, ``sig``, ``signature``, ``code``, ``auth``;
- registered literal secrets (the session's API key, proxy credentials), wherever they appear.

The replacement is always ``[REDACTED]`` (the scheme and the header or parameter name are kept so
the text stays readable). False positives are accepted: a dashboard losing a value is better than
a leaked key. Content attributes are cut to :data:`MAX_CONTENT_CHARS` after redaction, and the
redaction sees :data:`_LOOKAHEAD` more characters than are kept, so a secret that straddles the
cut is still recognised and never exported half-masked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["MAX_CONTENT_CHARS", "REDACTED", "Redactor", "redact"]

REDACTED = "[REDACTED]"
MAX_CONTENT_CHARS = 64 * 1024
_LOOKAHEAD = 4096
_MIN_SECRET = 8  # shorter registered values would redact ordinary words

_PATTERN = re.compile(
    r"""
    (?P<pem>-----BEGIN[ A-Z0-9]*PRIVATE\ KEY(?:\ BLOCK)?-----
        .*?(?:-----END[ A-Z0-9]*PRIVATE\ KEY(?:\ BLOCK)?-----|\Z))
  | (?P<userinfo_scheme>(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^\s/?#@"'<>]+)@
  | (?P<auth_name>\b(?:proxy-)?authorization["']?\s*[:=]\s*["']?)
        (?P<auth_value>(?:(?:bearer|basic|token|digest|negotiate)\s+)?[^\s"',;]+)
  | (?P<bearer>\bbearer\s+)(?P<bearer_value>[A-Za-z0-9._~+/=\-]{8,})
  | (?P<token>
        \bsk-[A-Za-z0-9_\-]{16,}
      | \bgh[pousr]_[A-Za-z0-9]{20,}
      | \bgithub_pat_[A-Za-z0-9_]{20,}
      | \bglpat-[A-Za-z0-9_\-]{20,}
      | \bxox[abposr]-[A-Za-z0-9\-]{10,}
      | \b(?:AKIA|ASIA)[0-9A-Z]{16}\b
      | \bAIza[0-9A-Za-z_\-]{35}
      | \bnpm_[A-Za-z0-9]{36}
      | \beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}
    )
  | (?P<kv_name>(?<![A-Za-z0-9_.\-])[A-Za-z0-9_.\-]*
        (?:api[_\-]?key|apikey|token|secret|password|passwd|credentials?|private[_\-]?key
          |access[_\-]?key|client[_\-]?secret)
        ["']?\s*[:=]\s*["']?)(?P<kv_value>[^\s"',;&]+)
  | (?P<query_name>[?&](?:key|sig|signature|code|auth)=)(?P<query_value>[^&#\s"']+)
    """,
    re.IGNORECASE | re.VERBOSE | re.DOTALL,
)


def _replace(match: re.Match[str]) -> str:
    groups = match.groupdict()
    if groups["pem"] is not None or groups["token"] is not None:
        return REDACTED
    for name in ("userinfo_scheme", "auth_name", "bearer", "kv_name", "query_name"):
        prefix = groups[name]
        if prefix is not None:
            suffix = "@" if name == "userinfo_scheme" else ""
            return f"{prefix}{REDACTED}{suffix}"
    return REDACTED  # pragma: no cover - every alternative is handled above


class Redactor:
    """Redacts known secret shapes and the literal secrets registered with it.

    Cheap on the common case: strings shorter than 8 characters (enum values, small numbers)
    cannot hold a secret pattern and are returned as they are.
    """

    __slots__ = ("_secrets",)

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: tuple[str, ...] = ()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        """Never export ``secret`` (e.g. the API key in use); ignores values under 8 chars."""
        if len(secret) >= _MIN_SECRET and secret not in self._secrets:
            # Longest first, so a secret containing another is replaced whole.
            self._secrets = tuple(sorted((*self._secrets, secret), key=len, reverse=True))

    def __call__(self, text: str) -> str:
        if len(text) < _MIN_SECRET:
            return text
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return _PATTERN.sub(_replace, text)

    def content(self, text: str, limit: int = MAX_CONTENT_CHARS) -> str:
        """Redact, then cut to ``limit`` characters (content attributes: prompt, output, ...)."""
        if len(text) <= limit:
            return self(text)
        cut = self(text[: limit + _LOOKAHEAD])[:limit]
        return f"{cut}... [truncated {len(text) - limit} chars]"


_DEFAULT = Redactor()


def redact(text: str) -> str:
    """Redact the known secret shapes (no registered secrets) from ``text``."""
    return _DEFAULT(text)
