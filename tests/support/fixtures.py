"""pytest fixtures over :mod:`tests.support` (import them into a conftest.py)::

from tests.support.fixtures import chat_server, oauth_issuer, responses_server, secret_service
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.model_server import MockChatServer, MockResponsesServer
from tests.support.oauth_server import MockOAuthIssuer
from tests.support.secret_service import SecretService, SecretServiceUnavailable

__all__ = ["chat_server", "oauth_issuer", "responses_server", "secret_service"]


@pytest.fixture
def responses_server() -> Iterator[MockResponsesServer]:
    with MockResponsesServer() as server:
        yield server
        assert not server.errors, server.errors


@pytest.fixture
def chat_server() -> Iterator[MockChatServer]:
    with MockChatServer() as server:
        yield server
        assert not server.errors, server.errors


@pytest.fixture
def oauth_issuer() -> Iterator[MockOAuthIssuer]:
    with MockOAuthIssuer() as issuer:
        yield issuer
        assert not issuer.errors, issuer.errors


@pytest.fixture
def secret_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecretService]:
    """A running private gnome-keyring; skips (with the reason) where none can start."""
    root: Path = tmp_path_factory.mktemp("secret-service")
    try:
        with SecretService(root) as service:
            yield service
    except SecretServiceUnavailable as err:
        pytest.skip(str(err))
