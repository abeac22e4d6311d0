"""Redis plumbing shared by the Redis limiter and queue backends: config, client, Lua scripts."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit

from ..errors import AgentError, ConfigError

__all__ = [
    "RedisConfig", "RedisUnavailableError", "CommandLane", "as_redis_config", "make_client", "LuaScript",
    "redis_errors",
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
    """A ``redis.asyncio.Redis`` client for ``config`` (connections are opened on first use)."""
    import redis.asyncio as aredis  # imported here so the in-memory paths never load redis

    options: dict[str, Any] = {
        "socket_timeout": config.socket_timeout,
        "socket_connect_timeout": config.socket_connect_timeout,
        "decode_responses": decode_responses,
    }
    if config.max_connections is not None:
        options["max_connections"] = config.max_connections
    try:
        return aredis.Redis.from_url(config.url, **options)
    except ValueError as exc:
        raise ConfigError("The Redis url is not valid; use a form like redis://localhost:6379/0.") from exc


def pack_command(args: tuple[Any, ...]) -> bytes:
    """One command in the Redis protocol (RESP): str, bytes, int or float arguments.

    Twice as fast as redis-py's general encoder, which matters on the limiter's hot path.
    """
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg.encode() if isinstance(arg, str) else arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(parts)


class CommandLane:
    """One dedicated connection of ``client``'s pool that runs one command at a time.

    The hot paths (limiter calls, queue claims and settles) go through it: it
    skips the pool's per-call bookkeeping, which costs about as much as the
    round trip itself. A failed or cancelled command drops the connection, and
    the next command opens a new one. Blocking commands must not use a lane.
    """

    def __init__(self, client: Any, timeout: float | None) -> None:
        self._client = client
        self._timeout = timeout
        self._conn: Any = None
        self._lock = asyncio.Lock()

    def _connection(self) -> Any:
        if self._conn is None:
            pool = self._client.connection_pool
            # The lane times each command as a whole with asyncio.timeout: cheaper
            # than the connection's own per-write timeout, which starts a task per call.
            self._conn = pool.connection_class(**{**pool.connection_kwargs, "socket_timeout": None})
        return self._conn

    async def execute_command(self, *args: Any) -> Any:
        """Send one command and return its raw reply (errors raise redis-py's exceptions)."""
        async with self._lock, asyncio.timeout(self._timeout):
            conn = self._connection()
            # Both calls disconnect the connection on any failure, cancellation and
            # timeout included, so a half-read reply never confuses the next command.
            await conn.send_packed_command(pack_command(args), check_health=False)
            return await conn.read_response()

    async def aclose(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            await self._conn.disconnect()
            self._conn = None


class LuaScript:
    """A Lua script run by EVALSHA; loaded with SCRIPT LOAD the first time the server lacks it."""

    __slots__ = ("source", "sha")

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    async def __call__(self, runner: Any, keys: tuple[str, ...], args: tuple[Any, ...]) -> Any:
        """Run on ``runner`` (a ``CommandLane`` or a redis.asyncio client)."""
        from redis.exceptions import NoScriptError

        try:
            return await runner.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)
        except NoScriptError:
            # First use, or the server restarted / flushed its scripts.
            await runner.execute_command("SCRIPT", "LOAD", self.source)
            return await runner.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)


def _where(url: str) -> str:
    """host:port of a Redis url, never its password."""
    try:
        parts = urlsplit(url)
        return f"{parts.hostname or 'localhost'}:{parts.port or 6379}" if parts.scheme != "unix" else parts.path
    except ValueError:
        return "the configured address"


@contextlib.contextmanager
def redis_errors(config: RedisConfig) -> Iterator[None]:
    """Turn redis-py's connection and timeout errors into ``RedisUnavailableError``."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    try:
        yield
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        raise RedisUnavailableError(
            f"Could not reach Redis at {_where(config.url)}; check that redis-server is running and the url is right."
        ) from exc
