"""Secret redaction applied to every string telemetry exports (attributes, bodies, resources).

Telemetry leaves the machine, so it must never carry credentials, even when a tool printed one or
the model pasted one into a command. :class:`Redactor` replaces (each shape's regex runs only when
a cheap trigger substring is present, so ordinary text costs a few substring scans):

- PEM private keys (``-----BEGIN ... PRIVATE KEY-----`` to the matching END, or to the end of the
  text when output was truncated inside the block);
- URL userinfo (``https://user:pass@host``, ``https://token@host``, proxy URLs alike);
- ``Authorization`` / ``Proxy-Authorization`` header values and ``Bearer`` tokens;
- well-known token shapes: OpenAI/Anthropic ``sk-...``, GitHub ``ghp_`` / ``github_pat_``, GitLab
  ``glpat-``, Slack ``xox?-``, AWS ``AKIA``/``ASIA`` key ids, Google ``AIza``, npm ``npm_``, JWTs;
- ``name=value`` / ``"name": "value"`` pairs whose name ends in api_key, token, secret, password,
  passwd, credential(s), private_key or access_key (``OPENAI_API_KEY=...``, ``"password": "..."``;
  ``input_token_count=3`` is left alone),
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


class _Rule:
    """One secret shape: a regex, run only when one of its cheap trigger substrings is present
    (in the lower-cased text), so ordinary output costs a few substring scans."""

    __slots__ = ("pattern", "replacement", "triggers")

    def __init__(self, triggers: tuple[str, ...], pattern: str, replacement: str, flags: int = 0):
        self.triggers = triggers
        self.pattern = re.compile(pattern, flags)
        self.replacement = replacement


_I = re.IGNORECASE
_RULES: tuple[_Rule, ...] = (
    # PEM private keys, to the END line or to the end of a truncated text.
    _Rule(
        ("private key",),
        r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----"
        r".*?(?:-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|\Z)",
        REDACTED,
        re.DOTALL,
    ),
    # URL userinfo (any scheme): https://user:pass@host, https://token@host.
    _Rule(("://",), r"://[^\s/?#@\"'<>]+@", f"://{REDACTED}@"),
    # Authorization / Proxy-Authorization header values (with their scheme word).
    _Rule(
        ("authorization",),
        r"\b((?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?)"
        r"(?:(?:bearer|basic|token|digest|negotiate)\s+)?[^\s\"',;]+",
        rf"\1{REDACTED}",
        _I,
    ),
    _Rule(("bearer",), r"\b(bearer\s+)[A-Za-z0-9._~+/=\-]{8,}", rf"\1{REDACTED}", _I),
    # Well-known token shapes.
    _Rule(
        ("sk-", "gh", "github_pat_", "glpat-", "xox", "akia", "asia", "aiza", "npm_", "eyj"),
        r"\bsk-[A-Za-z0-9_\-]{16,}"
        r"|\bgh[pousr]_[A-Za-z0-9]{20,}"
        r"|\bgithub_pat_[A-Za-z0-9_]{20,}"
        r"|\bglpat-[A-Za-z0-9_\-]{20,}"
        r"|\bxox[abposr]-[A-Za-z0-9\-]{10,}"
        r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"
        r"|\bAIza[0-9A-Za-z_\-]{35}"
        r"|\bnpm_[A-Za-z0-9]{36}"
        r"|\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",
        REDACTED,
    ),
    # name=value / "name": "value" where the name ends in a secret word (OPENAI_API_KEY=...).
    _Rule(
        ("key", "token", "secret", "passw", "credential"),
        r"((?:api[_\-]?key|apikey|token|secret|password|passwd|credentials?|private[_\-]?key"
        r"|access[_\-]?key)[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&]+",
        rf"\1{REDACTED}",
        _I,
    ),
    # Signed-URL and API-key query parameters.
    _Rule(
        ("key=", "sig=", "signature=", "code=", "auth="),
        r"([?&](?:key|sig|signature|code|auth)=)[^&#\s\"']+",
        rf"\1{REDACTED}",
        _I,
    ),
)

# One C-level scan answers "could any rule match?" for the common, secret-free string.
_ANY_TRIGGER = re.compile(
    "|".join(re.escape(t) for t in sorted({t for r in _RULES for t in r.triggers}))
)


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
        lowered = text.lower()
        if not _ANY_TRIGGER.search(lowered):
            return text
        for rule in _RULES:
            if any(trigger in lowered for trigger in rule.triggers):
                text = rule.pattern.sub(rule.replacement, text)
        return text

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
