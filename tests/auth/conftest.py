from tests.support.fixtures import chat_server, oauth_issuer, responses_server, secret_service

__all__ = ["chat_server", "oauth_issuer", "responses_server", "secret_service"]


import pytest


@pytest.fixture(autouse=True)
def _no_real_issuer(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test that forgets to point at the mock issuer fails fast instead of going online."""
    monkeypatch.setenv("CODEX_LOGIN_ISSUER", "http://127.0.0.1:9")
