from tests.support.fixtures import chat_server, oauth_issuer, responses_server, secret_service

__all__ = ["chat_server", "oauth_issuer", "responses_server", "secret_service"]
