"""Fixtures of the limits tests: a real redis-server, and each test parametrized over backends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .redis_server import RedisServer, require_redis_server


@pytest.fixture(scope="session")
def redis_server_session() -> Iterator[RedisServer]:
    """One redis-server for the session (skipped, or failed under CI=true, without the binary)."""
    server = RedisServer(require_redis_server()).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_server(redis_server_session: RedisServer) -> RedisServer:
    """The session's redis-server, emptied for this test."""
    redis_server_session.flush()
    return redis_server_session


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url
