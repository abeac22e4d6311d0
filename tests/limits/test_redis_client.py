"""The Redis backends over redis-py against a real redis-server: auth, databases, reconnects, script cache."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aredis

from tui_agents.limits import (
    JobQueue,
    RateLimiter,
    RedisBackend,
    RedisConfig,
    RedisQueueBackend,
    RedisUnavailableError,
)

KEY = "openai:gpt-4o"


async def test_username_password_and_database_come_from_the_url(redis_server) -> None:
    admin = aredis.Redis.from_url(redis_server.url)
    await admin.execute_command("ACL", "SETUSER", "limiter", "on", ">s3cret", "~*", "&*", "+@all")
    url = f"redis://limiter:s3cret@127.0.0.1:{redis_server.port}/3"
    limiter = RateLimiter(rpm=2, backend=RedisBackend(url))
    db3 = aredis.Redis.from_url(redis_server.url.replace("/0", "/3"))
    try:
        assert await limiter.try_acquire(KEY) == 0.0
        assert await db3.exists(f"tui_agents:rl:{{{KEY}}}:e") == 1  # written to database 3 ...
        assert await admin.dbsize() == 0  # ... and nothing in database 0
    finally:
        await limiter.aclose()
        await db3.aclose()
        await admin.execute_command("ACL", "DELUSER", "limiter")
        await admin.aclose()


async def test_a_wrong_password_is_not_shown_in_the_error(redis_server) -> None:
    admin = aredis.Redis.from_url(redis_server.url)
    await admin.execute_command("ACL", "SETUSER", "limiter", "on", ">right", "~*", "+@all")
    limiter = RateLimiter(rpm=2, backend=RedisBackend(f"redis://limiter:wrong-pw@127.0.0.1:{redis_server.port}/0"))
    try:
        with pytest.raises(RedisUnavailableError) as caught:
            await limiter.try_acquire(KEY)
        assert "wrong-pw" not in str(caught.value) and "127.0.0.1" in str(caught.value)
    finally:
        await limiter.aclose()
        await admin.execute_command("ACL", "DELUSER", "limiter")
        await admin.aclose()


async def test_a_connection_killed_by_the_server_is_reopened(redis_url: str) -> None:
    limiter = RateLimiter(rpm=10, backend=RedisBackend(redis_url))
    admin = aredis.Redis.from_url(redis_url)
    try:
        assert await limiter.try_acquire(KEY) == 0.0
        await admin.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
        for _ in range(2):  # the first call may meet the dead connection; the next one reconnects
            try:
                await limiter.try_acquire(KEY)
                break
            except RedisUnavailableError:
                pass
        assert await limiter.try_acquire(KEY) == 0.0
    finally:
        await limiter.aclose()
        await admin.aclose()


async def test_scripts_are_loaded_again_after_the_server_forgot_them(redis_url: str) -> None:
    limiter = RateLimiter(rpm=2, backend=RedisBackend(redis_url))
    queue = JobQueue(RedisQueueBackend(redis_url, queue_name="flushed"))
    queue.register("echo", lambda payload: payload["n"])
    admin = aredis.Redis.from_url(redis_url)
    try:
        assert await limiter.try_acquire(KEY) == 0.0
        first = await queue.enqueue("echo", {"n": 1})
        await admin.script_flush()  # as after a restart of redis-server
        assert await limiter.try_acquire(KEY) == 0.0
        assert await limiter.try_acquire(KEY) > 0.0  # the window still counts the first two
        second = await queue.enqueue("echo", {"n": 2})
        await queue.start_worker()
        assert [(await queue.wait_for(i, timeout=10)).result for i in (first, second)] == [1, 2]
    finally:
        await queue.aclose()
        await limiter.aclose()
        await admin.aclose()


async def test_concurrent_calls_on_one_backend_each_get_their_own_answer(redis_url: str) -> None:
    limiter = RateLimiter(rpm=100, backend=RedisBackend(redis_url))
    try:
        waits = await asyncio.gather(*(limiter.try_acquire(KEY) for _ in range(250)))
        assert sum(1 for w in waits if w == 0.0) == 100
        assert all(0.0 < w <= 60.0 for w in waits if w)
    finally:
        await limiter.aclose()


async def test_a_cancelled_call_does_not_disturb_the_next(redis_url: str) -> None:
    backend = RedisBackend(redis_url)
    admin = aredis.Redis.from_url(redis_url)
    busy = asyncio.ensure_future(admin.eval(  # keeps the server busy ~50 ms
        "local t = redis.call('TIME') local s = t[1] * 1e6 + t[2] repeat local n = redis.call('TIME') "
        "until n[1] * 1e6 + n[2] > s + 50000 return 1", 0))
    try:
        await asyncio.sleep(0.01)
        call = asyncio.ensure_future(backend.try_acquire(KEY, 3, None, 60.0, 1))
        await asyncio.sleep(0.01)
        call.cancel()
        await busy
        # The cancelled call may or may not have reached the server; the answers after it are its own.
        assert await backend.check(KEY, 3, None, 60.0, 1) == 0.0
        assert await backend.try_acquire(KEY, 3, None, 60.0, 1) == 0.0
    finally:
        await backend.aclose()
        await admin.aclose()


async def test_a_silent_server_is_a_timeout_not_a_hang() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    limiter = RateLimiter(rpm=5, backend=RedisBackend(RedisConfig(url=f"redis://127.0.0.1:{port}/0",
                                                                  socket_timeout=0.3)))
    try:
        async with asyncio.timeout(10):
            with pytest.raises(RedisUnavailableError):
                await limiter.try_acquire(KEY)
    finally:
        await limiter.aclose()
        server.close()


async def test_works_without_hiredis(redis_url: str) -> None:
    # hiredis is an optional extra; this client is made with redis-py's pure-Python parser.
    from redis._parsers import _AsyncRESP2Parser

    client = aredis.Redis.from_url(redis_url, parser_class=_AsyncRESP2Parser, decode_responses=True)
    assert client.connection_pool.connection_kwargs["parser_class"] is _AsyncRESP2Parser
    queue = JobQueue(RedisQueueBackend(redis_url, queue_name="purepy", client=client))
    queue.register("echo", lambda payload: payload["n"])
    plain = aredis.Redis.from_url(redis_url, parser_class=_AsyncRESP2Parser)
    limiter = RateLimiter(rpm=1, backend=RedisBackend(redis_url, client=plain))
    try:
        assert await limiter.try_acquire(KEY) == 0.0
        assert await limiter.try_acquire(KEY) > 0.0
        job_id = await queue.enqueue("echo", {"n": 7})
        await queue.start_worker()
        assert (await queue.wait_for(job_id, timeout=10)).result == 7
    finally:
        await limiter.aclose()
        await queue.aclose()
