"""Redis plumbing shared by the Redis limiter and queue backends: config, redis-py client, errors.

Every command goes through redis-py's asyncio client (``redis.asyncio``); it
parses replies with ``hiredis`` when that is installed
(``pip install 'tui-agents[redis]'``) and in pure Python otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit

from ..errors import AgentError, ConfigError

__all__ = [
    "RedisConfig", "RedisUnavailableError", "as_redis_config", "make_client", "pooled_client", "redis_errors",
]  # fmt: skip


class RedisUnavailableError(AgentError):
    """Redis could not be reached or did not answer in time."""


@dataclass(frozen=True, slots=True)
class RedisConfig:
    """How to reach Redis. Any object with a ``url`` attribute, or a URL string, is accepted too."""

    url: str = "redis://localhost:6379/0"
    """A redis:// (or rediss://, unix://) URL, database included."""
    key_prefix: str = "tui_agents"
    """Prefix of every key this package writes, so several apps can share a database."""
    socket_timeout: float = 10.0
    """Seconds to wait for a reply before giving up on a connection."""
    socket_connect_timeout: float = 5.0
    """Seconds to wait for a connection."""
    max_connections: int | None = None
    """Upper bound of the connection pool (None: redis-py's default)."""


def as_redis_config(config: Any) -> RedisConfig:
    """Turn a URL string, a ``RedisConfig`` or any object with ``.url`` into a ``RedisConfig``."""
    if isinstance(config, RedisConfig):
        return config
    if isinstance(config, str):
        return RedisConfig(url=config)
    url = getattr(config, "url", None)
    if not isinstance(url, str) or not url:
        raise ConfigError("The Redis configuration needs a url such as redis://localhost:6379/0.")
    # Take the fields the user's own config class happens to share with ours.
    shared = [f.name for f in fields(RedisConfig) if f.name != "url" and hasattr(config, f.name)]
    extra = {name: getattr(config, name) for name in shared}
    return RedisConfig(url=url, **extra)


def make_client(config: RedisConfig, *, decode_responses: bool = False) -> Any:
    """A ``redis.asyncio.Redis`` client for ``config`` that keeps one connection for its commands.

    One held connection, rather than a pool checkout per command, halves the
    event-loop turns of a short command; concurrent callers take turns on it.
    Blocking commands belong on a client of the same pool (``pooled_client``).
    """
    import redis.asyncio as aredis  # imported here so the in-memory paths never load redis

    options: dict[str, Any] = {
        "socket_timeout": config.socket_timeout,
        "socket_connect_timeout": config.socket_connect_timeout,
        "decode_responses": decode_responses,
        "single_connection_client": True,
    }
    if config.max_connections is not None:
        options["max_connections"] = config.max_connections
    try:
        return aredis.Redis.from_url(config.url, **options)
    except ValueError as exc:
        raise ConfigError("The Redis url is not valid; use a form like redis://localhost:6379/0.") from exc


def pooled_client(client: Any) -> Any:
    """A client that takes a connection from ``client``'s pool per command (for blocking commands)."""
    import redis.asyncio as aredis

    if not client.single_connection_client:
        return client
    return aredis.Redis(connection_pool=client.connection_pool)


def _where(url: str) -> str:
    """host:port of a Redis url, never its password."""
    try:
        parts = urlsplit(url)
        return f"{parts.hostname or 'localhost'}:{parts.port or 6379}" if parts.scheme != "unix" else parts.path
    except ValueError:
        return "the configured address"


class redis_errors:  # noqa: N801 - used like a function: ``with redis_errors(config):``
    """Turn redis-py's connection and timeout errors into ``RedisUnavailableError``.

    A class rather than ``contextlib.contextmanager``: it wraps every limiter call,
    and a generator-based context manager costs several times more per use.
    """

    __slots__ = ("_config",)

    def __init__(self, config: RedisConfig) -> None:
        self._config = config

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> bool:
        if exc is None:
            return False
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        if isinstance(exc, (RedisConnectionError, RedisTimeoutError, OSError)):
            raise RedisUnavailableError(
                f"Could not reach Redis at {_where(self._config.url)}; check that redis-server is running "
                "and the url is right."
            ) from exc
        return False
