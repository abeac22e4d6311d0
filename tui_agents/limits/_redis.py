"""Redis plumbing shared by the Redis limiter and queue backends: config, client, Lua scripts."""

from __future__ import annotations

import asyncio
import collections
import hashlib
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
    # Commonest case, ASCII strings and ints (keys, script args): built as one str, encoded once.
    text = []
    for arg in args:
        kind = type(arg)
        if kind is int:
            arg = str(arg)
        elif kind is not str or not arg.isascii():
            break
        text.append(f"${len(arg)}\r\n{arg}\r\n")
    else:
        return f"*{len(args)}\r\n{''.join(text)}".encode()
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg.encode() if isinstance(arg, str) else arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(parts)


class _Incomplete(Exception):
    """The buffer ends inside a reply."""


class _ReplyParser:
    """Reads RESP2 replies out of a byte buffer; bulk strings decoded to ``str`` when asked."""

    __slots__ = ("_encoding", "_errors")

    def __init__(self, encoding: str | None, errors: str) -> None:
        self._encoding = encoding
        self._errors = errors

    def parse(self, buf: bytes, pos: int) -> tuple[Any, int]:
        """The reply starting at ``pos`` and the position after it; raises ``_Incomplete``."""
        end = buf.find(b"\r\n", pos)
        if end < 0:
            raise _Incomplete
        kind = buf[pos]
        if kind == 36:  # $ bulk string
            size = int(buf[pos + 1 : end])
            if size < 0:
                return None, end + 2
            stop = end + 2 + size
            if len(buf) < stop + 2:
                raise _Incomplete
            data = buf[end + 2 : stop]
            return (data.decode(self._encoding, self._errors) if self._encoding else data), stop + 2
        if kind == 58:  # : integer
            return int(buf[pos + 1 : end]), end + 2
        if kind == 42:  # * array
            count = int(buf[pos + 1 : end])
            if count < 0:
                return None, end + 2
            items = []
            pos = end + 2
            for _ in range(count):
                item, pos = self.parse(buf, pos)
                items.append(item)
            return items, pos
        if kind == 43:  # + simple string
            data = buf[pos + 1 : end]
            return (data.decode(self._encoding, self._errors) if self._encoding else data), end + 2
        if kind == 45:  # - error: returned as an exception object, raised by the caller
            return _reply_error(buf[pos + 1 : end].decode("utf-8", "replace")), end + 2
        raise ValueError(f"unexpected RESP reply type {chr(kind)!r}")


def _reply_error(message: str) -> Exception:
    from redis.exceptions import NoScriptError, ResponseError

    return NoScriptError(message) if message.startswith("NOSCRIPT") else ResponseError(message)


class _LaneProtocol(asyncio.Protocol):
    """The lane's connection: commands written as they come, replies matched to them in order."""

    def __init__(self, parser: _ReplyParser) -> None:
        self._parser = parser
        self._buffer = b""
        # (future, loop time it was sent), oldest first
        self.waiters: collections.deque[tuple[asyncio.Future[Any], float]] = collections.deque()
        self.transport: asyncio.Transport | None = None
        self.watchdog: asyncio.TimerHandle | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buf = self._buffer + data if self._buffer else data
        pos = 0
        waiters = self.waiters
        try:
            while waiters and pos < len(buf):
                try:
                    reply, pos = self._parser.parse(buf, pos)
                except _Incomplete:
                    break
                waiter = waiters.popleft()[0]
                if not waiter.done():  # a cancelled caller's reply is read and dropped
                    if isinstance(reply, Exception):
                        waiter.set_exception(reply)
                    else:
                        waiter.set_result(reply)
        except ValueError as exc:  # garbage on the wire: this connection cannot be trusted
            self._fail(exc)
            return
        self._buffer = buf[pos:] if pos < len(buf) else b""

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._fail(exc)

    def _fail(self, exc: BaseException | None) -> None:
        from redis.exceptions import ConnectionError as RedisConnectionError

        self.lost = True
        if self.transport is not None:
            self.transport.abort()
        if self.watchdog is not None:
            self.watchdog.cancel()
            self.watchdog = None
        while self.waiters:
            waiter = self.waiters.popleft()[0]
            if not waiter.done():
                error = RedisConnectionError("The connection to Redis was lost.")
                error.__cause__ = exc
                waiter.set_exception(error)


class CommandLane:
    """One dedicated connection to the server of ``client`` for the hot paths (limiter calls, queue scripts).

    It skips redis-py's per-command machinery (pool accounting, hooks, a
    stream-reader parser), which costs more than the round trip itself: a
    command is packed, written, and its reply parsed straight from the socket's
    data. Concurrent commands are pipelined and answered in order. A command
    left unanswered for ``timeout`` seconds (noticed within 1.5 times that)
    fails with redis-py's ``TimeoutError`` and drops the connection, failing the
    commands queued behind it; the next command opens a new one. Blocking
    commands must not use a lane.

    TLS and credential-provider connections go through a redis-py connection
    instead (the same behaviour, at redis-py's cost).
    """

    def __init__(self, client: Any, timeout: float | None) -> None:
        self._client = client
        self._timeout = timeout
        self._proto: _LaneProtocol | None = None
        self._opening: asyncio.Lock | None = None
        self._conn: Any = None  # the redis-py fallback connection
        self._lock = asyncio.Lock()  # the fallback runs one command at a time
        self._fast = _plain_connection(client.connection_pool)

    async def execute_command(self, *args: Any) -> Any:
        """Send one command and return its reply (errors raise redis-py's exceptions)."""
        if not self._fast:
            return await self._execute_fallback(args)
        proto = self._proto
        if proto is None or proto.lost:
            proto = await self._open()
        return await self._roundtrip(proto, pack_command(args))

    async def _roundtrip(self, proto: _LaneProtocol, packed: bytes) -> Any:
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        proto.waiters.append((waiter, loop.time()))
        proto.transport.write(packed)  # type: ignore[union-attr]
        if self._timeout is not None and proto.watchdog is None:
            # One watchdog timer per connection rather than a timer (or asyncio.timeout) per command.
            proto.watchdog = loop.call_later(self._timeout / 2, self._watch, proto)
        return await waiter

    def _watch(self, proto: _LaneProtocol) -> None:
        """Fail the connection if its oldest command has waited ``timeout``; else look again later."""
        from redis.exceptions import TimeoutError as RedisTimeoutError

        proto.watchdog = None
        if proto.lost or not proto.waiters or self._timeout is None:
            return
        loop = asyncio.get_running_loop()
        waiter, sent = proto.waiters[0]
        if loop.time() - sent < self._timeout:
            proto.watchdog = loop.call_later(self._timeout / 2, self._watch, proto)
            return
        if not waiter.done():
            waiter.set_exception(RedisTimeoutError("Redis did not answer in time."))
        proto._fail(None)  # a late reply would be matched to the wrong command
        if self._proto is proto:
            self._proto = None

    async def _open(self) -> _LaneProtocol:
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._proto is not None and not self._proto.lost:
                return self._proto  # another caller opened it meanwhile
            from redis.exceptions import ConnectionError as RedisConnectionError
            from redis.exceptions import TimeoutError as RedisTimeoutError

            pool = self._client.connection_pool
            kwargs = pool.connection_kwargs
            decode = kwargs.get("decode_responses", False)
            parser = _ReplyParser(kwargs.get("encoding", "utf-8") if decode else None,
                                  kwargs.get("encoding_errors", "strict"))
            loop = asyncio.get_running_loop()
            try:
                async with asyncio.timeout(kwargs.get("socket_connect_timeout") or self._timeout):
                    if kwargs.get("path"):
                        _, proto = await loop.create_unix_connection(lambda: _LaneProtocol(parser), kwargs["path"])
                    else:
                        _, proto = await loop.create_connection(
                            lambda: _LaneProtocol(parser), kwargs.get("host", "localhost"), kwargs.get("port", 6379))
            except TimeoutError as exc:
                raise RedisTimeoutError("Timed out connecting to Redis.") from exc
            except OSError as exc:
                raise RedisConnectionError(f"Could not connect to Redis: {exc}") from exc
            try:
                if kwargs.get("password"):
                    auth = (kwargs["username"], kwargs["password"]) if kwargs.get("username") else (kwargs["password"],)
                    await self._roundtrip(proto, pack_command(("AUTH", *auth)))
                if kwargs.get("db"):
                    await self._roundtrip(proto, pack_command(("SELECT", kwargs["db"])))
            except BaseException:
                proto._fail(None)
                raise
            self._proto = proto
            return proto

    async def _execute_fallback(self, args: tuple[Any, ...]) -> Any:
        async with self._lock, asyncio.timeout(self._timeout):
            if self._conn is None:
                pool = self._client.connection_pool
                # Timed as a whole by asyncio.timeout: cheaper than the connection's
                # own per-write timeout, which starts a task per call.
                self._conn = pool.connection_class(**{**pool.connection_kwargs, "socket_timeout": None})
            # Both calls disconnect the connection on any failure, cancellation and
            # timeout included, so a half-read reply never confuses the next command.
            await self._conn.send_packed_command(pack_command(args), check_health=False)
            return await self._conn.read_response()

    async def aclose(self) -> None:
        """Close the connection."""
        if self._proto is not None:
            self._proto._fail(None)
            self._proto = None
        if self._conn is not None:
            await self._conn.disconnect()
            self._conn = None


def _plain_connection(pool: Any) -> bool:
    """Whether the pool makes plain TCP or Unix-socket connections the lane can open itself."""
    from redis.asyncio.connection import Connection, UnixDomainSocketConnection

    kwargs = pool.connection_kwargs
    return (pool.connection_class in (Connection, UnixDomainSocketConnection)
            and kwargs.get("credential_provider") is None and kwargs.get("protocol") in (None, 2, "2"))


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
