from tests.support.fixtures import responses_server

__all__ = ["responses_server"]
