"""The CommandLane's own connection against a real redis-server: replies, pipelining, auth, failures."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aredis
from redis.exceptions import ResponseError

from tui_agents.limits import RedisBackend
from tui_agents.limits._redis import CommandLane, RedisConfig, make_client, pack_command


async def lane_for(url: str, *, decode: bool = False, timeout: float = 10.0) -> tuple[CommandLane, object]:
    client = make_client(RedisConfig(url=url), decode_responses=decode)
    return CommandLane(client, timeout), client


async def test_replies_of_every_kind_and_decoding(redis_url: str) -> None:
    lane, client = await lane_for(redis_url)
    try:
        assert await lane.execute_command("SET", "k", "wörld") == b"OK"
        assert await lane.execute_command("GET", "k") == "wörld".encode()
        assert await lane.execute_command("GET", "missing") is None
        assert await lane.execute_command("RPUSH", "l", "a", "b") == 2
        assert await lane.execute_command("LRANGE", "l", 0, -1) == [b"a", b"b"]
        with pytest.raises(ResponseError):
            await lane.execute_command("INCR", "k")  # not an integer
        assert await lane.execute_command("EVAL", "return {1, {'x', false}, 'y'}", 0) == [1, [b"x", None], b"y"]
    finally:
        await lane.aclose()
        await client.aclose()
    lane, client = await lane_for(redis_url, decode=True)
    try:
        assert await lane.execute_command("GET", "k") == "wörld"
    finally:
        await lane.aclose()
        await client.aclose()


async def test_concurrent_commands_get_their_own_replies(redis_url: str) -> None:
    lane, client = await lane_for(redis_url)
    try:
        replies = await asyncio.gather(*(lane.execute_command("ECHO", f"n{i}" * (i % 7 + 1)) for i in range(300)))
        assert replies == [(f"n{i}" * (i % 7 + 1)).encode() for i in range(300)]
    finally:
        await lane.aclose()
        await client.aclose()


async def test_a_cancelled_command_does_not_shift_the_replies(redis_url: str) -> None:
    lane, client = await lane_for(redis_url)
    try:
        slow = asyncio.ensure_future(lane.execute_command("EVAL", "local t = redis.call('TIME') "
                                                          "repeat until tonumber(redis.call('TIME')[1]) * 1e6 + "
                                                          "tonumber(redis.call('TIME')[2]) > t[1] * 1e6 + t[2] + "
                                                          "50000 return 'slow'", 0))
        await asyncio.sleep(0.01)
        slow.cancel()
        assert await lane.execute_command("ECHO", "next") == b"next"
    finally:
        await lane.aclose()
        await client.aclose()


async def test_username_password_and_database_from_the_url(redis_server) -> None:
    admin = aredis.Redis.from_url(redis_server.url)
    await admin.execute_command("ACL", "SETUSER", "lane", "on", ">s3cret", "~*", "&*", "+@all")
    url = f"redis://lane:s3cret@127.0.0.1:{redis_server.port}/3"
    lane, client = await lane_for(url)
    try:
        await lane.execute_command("SET", "in-db-3", "yes")
        assert await aredis.Redis.from_url(redis_server.url.replace("/0", "/3")).get("in-db-3") == b"yes"
        assert await admin.get("in-db-3") is None
    finally:
        await lane.aclose()
        await client.aclose()
        await admin.execute_command("ACL", "DELUSER", "lane")
        await admin.aclose()


async def test_a_connection_killed_by_the_server_is_reopened(redis_url: str) -> None:
    backend = RedisBackend(redis_url)
    admin = aredis.Redis.from_url(redis_url)
    try:
        assert await backend.try_acquire("k", 10, None, 60.0, 1) == 0.0
        await admin.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
        for _ in range(2):  # the first call may meet the dead connection; the next one reconnects
            try:
                await backend.try_acquire("k", 10, None, 60.0, 1)
                break
            except Exception as exc:
                assert type(exc).__name__ == "RedisUnavailableError"
        assert await backend.try_acquire("k", 10, None, 60.0, 1) == 0.0
    finally:
        await backend.aclose()
        await admin.aclose()


async def test_a_silent_server_times_out_and_fails_the_queued_commands() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    lane, client = await lane_for(f"redis://127.0.0.1:{port}/0", timeout=0.3)
    try:
        results = await asyncio.wait_for(
            asyncio.gather(*(lane.execute_command("PING") for _ in range(3)), return_exceptions=True), 10)
        assert {type(r).__name__ for r in results} <= {"TimeoutError", "ConnectionError"}
        assert type(results[0]).__name__ == "TimeoutError"
    finally:
        await lane.aclose()
        await client.aclose()
        server.close()


def test_packing_matches_the_general_encoder() -> None:
    for args in [("SET", "k", "v"), ("EVALSHA", "ab", 3, "é", b"\x00\xff", 1.5, -2), ("X",)]:
        expected = b"*%d\r\n" % len(args) + b"".join(
            b"$%d\r\n%b\r\n" % (len(d), d)
            for d in (a.encode() if isinstance(a, str) else a if isinstance(a, bytes) else str(a).encode()
                      for a in args))
        assert pack_command(args) == expected
