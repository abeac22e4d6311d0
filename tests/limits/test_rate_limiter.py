"""The sliding-window rate limiter, in memory and on a real redis-server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest

from tui_agents.errors import ConfigError, InvalidArgumentError
from tui_agents.limits import (
    MemoryBackend,
    RateLimiter,
    RedisBackend,
    RedisConfig,
    RedisUnavailableError,
    get_rate_limiter,
)

from .redis_server import free_port

KEY = "openai:gpt-4o"

MakeLimiter = Callable[..., RateLimiter]


@pytest.fixture(params=["memory", "redis"])
async def make_limiter(request: pytest.FixtureRequest) -> AsyncIterator[MakeLimiter]:
    """Build limiters on the parametrized backend; Redis ones share one real server."""
    made: list[RateLimiter] = []

    def make(rpm: int | None = None, tpm: int | None = None, window: float = 60.0) -> RateLimiter:
        backend = RedisBackend(request.getfixturevalue("redis_url")) if request.param == "redis" else None
        limiter = RateLimiter(rpm=rpm, tpm=tpm, backend=backend, window=window)
        made.append(limiter)
        return limiter

    yield make
    for limiter in made:
        await limiter.aclose()


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# -- both backends -------------------------------------------------------------------


async def test_requests_are_allowed_up_to_rpm_then_refused(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(rpm=3)
    for _ in range(3):
        assert await limiter.check(KEY) == 0.0
        assert await limiter.try_acquire(KEY) == 0.0
    assert 0.0 < await limiter.check(KEY) <= 60.0
    assert 0.0 < await limiter.try_acquire(KEY) <= 60.0


async def test_check_counts_nothing(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(rpm=2, tpm=100)
    for _ in range(10):
        assert await limiter.check(KEY, estimated_tokens=100) == 0.0
    assert await limiter.try_acquire(KEY, 50) == 0.0
    assert await limiter.try_acquire(KEY, 50) == 0.0


async def test_tokens_are_allowed_up_to_tpm_exactly(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(tpm=100)
    await limiter.record(KEY, 60)
    assert await limiter.check(KEY, estimated_tokens=40) == 0.0
    assert await limiter.check(KEY, estimated_tokens=41) > 0.0
    await limiter.record(KEY, 40)
    assert await limiter.check(KEY) == 0.0  # at the limit, a request with no tokens still fits
    assert await limiter.check(KEY, estimated_tokens=1) > 0.0


async def test_keys_are_limited_separately(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(rpm=1)
    assert await limiter.try_acquire("openai:gpt-4o") == 0.0
    assert await limiter.try_acquire("anthropic:claude") == 0.0
    assert await limiter.check("openai:gpt-4o") > 0.0


async def test_wait_is_the_time_until_the_oldest_request_leaves_the_window(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(rpm=2, window=30.0)
    before_first = time.time()
    await limiter.record(KEY, 0)
    after_first = time.time()
    await limiter.record(KEY, 0)
    before_check = time.time()
    wait = await limiter.check(KEY)
    after_check = time.time()
    # The first request leaves the window 30 s after it was counted; bound that by
    # the local clock (the Redis server runs on this machine, on the same clock).
    assert 30.0 - (after_check - before_first) - 0.002 <= wait <= 30.0 - (before_check - after_first) + 0.002


async def test_acquire_reserves_and_the_next_record_replaces_the_estimate(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(rpm=2, tpm=1000)
    assert await limiter.acquire(KEY, estimated_tokens=900) == 0.0
    assert await limiter.check(KEY, estimated_tokens=200) > 0.0  # the estimate holds 900 tokens
    await limiter.record(KEY, 100)  # the call used 100: the reservation shrinks, no new request
    assert await limiter.check(KEY, estimated_tokens=900) == 0.0
    assert await limiter.try_acquire(KEY, 900) == 0.0  # second request of rpm=2
    assert await limiter.check(KEY) > 0.0


async def test_record_without_a_reservation_counts_a_request(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(rpm=2, tpm=1000)
    await limiter.record(KEY, 10)
    await limiter.record(KEY, 10)
    assert await limiter.check(KEY) > 0.0


async def test_records_settle_reservations_oldest_first(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(tpm=1000)
    await limiter.acquire(KEY, 400)
    await limiter.acquire(KEY, 400)
    await limiter.record(KEY, 50)
    await limiter.record(KEY, 50)
    assert await limiter.check(KEY, estimated_tokens=900) == 0.0  # 100 held: both settled
    await limiter.record(KEY, 50)  # no reservation left: a new request with 50 tokens
    assert await limiter.check(KEY, estimated_tokens=851) > 0.0


async def test_a_request_larger_than_tpm_goes_through_an_empty_window(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(tpm=100, window=30.0)
    assert await limiter.try_acquire(KEY, 500) == 0.0
    wait = await limiter.try_acquire(KEY, 500)
    assert 0.0 < wait <= 30.0  # waits for the window to empty, never forever


async def test_unlimited_axes_never_wait(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(rpm=None, tpm=None)
    for _ in range(50):
        assert await limiter.acquire(KEY, 10**9) == 0.0
    rpm_only = make_limiter(rpm=1000, tpm=None)
    assert await rpm_only.try_acquire(KEY, 10**12) == 0.0


async def test_the_window_slides_and_acquire_waits_it_out(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(rpm=2, window=0.5)
    await limiter.acquire(KEY)
    await limiter.acquire(KEY)
    second = time.monotonic()  # the second request was counted before this
    started = time.monotonic()
    waited = await limiter.acquire(KEY)
    elapsed = time.monotonic() - started
    assert waited > 0.0 and elapsed >= waited
    # Once the second early request has left too (on a busy machine it may trail the first),
    # there is room for exactly one more beside the third.
    await asyncio.sleep(max(second + 0.5 - time.monotonic(), 0.0) + 0.02)
    assert await limiter.try_acquire(KEY) == 0.0
    assert await limiter.check(KEY) > 0.0


# -- memory backend with a hand-moved clock: exact waits -------------------------------


async def test_exact_waits_for_requests_and_tokens(clock: FakeClock) -> None:
    limiter = RateLimiter(rpm=3, tpm=100, backend=MemoryBackend(clock), window=60.0)
    for offset, tokens in ((0, 50), (10, 30), (20, 20)):
        clock.now = 1000.0 + offset
        await limiter.record(KEY, tokens)
    clock.now = 1030.0
    assert await limiter.check(KEY) == pytest.approx(30.0)  # rpm: the t=0 request leaves at 60
    limiter.rpm = None
    assert await limiter.check(KEY, estimated_tokens=40) == pytest.approx(30.0)  # drop the 50
    assert await limiter.check(KEY, estimated_tokens=60) == pytest.approx(40.0)  # drop 50 and 30
    assert await limiter.check(KEY, estimated_tokens=0) == 0.0


async def test_no_burst_of_twice_the_limit_at_a_minute_edge(clock: FakeClock) -> None:
    limiter = RateLimiter(rpm=10, backend=MemoryBackend(clock), window=60.0)
    clock.now = 59.0  # the end of a fixed "minute" bucket
    for _ in range(10):
        assert await limiter.try_acquire(KEY) == 0.0
    clock.now = 61.0  # a fixed-bucket limiter would allow 10 more here
    assert await limiter.try_acquire(KEY) == pytest.approx(58.0)
    clock.now = 119.0
    assert await limiter.try_acquire(KEY) == 0.0


async def test_a_reservation_that_left_the_window_is_dropped(clock: FakeClock) -> None:
    limiter = RateLimiter(rpm=2, backend=MemoryBackend(clock), window=60.0)
    await limiter.acquire(KEY, 10)
    clock.now += 61.0  # a very long call: its reservation expired
    await limiter.record(KEY, 10)  # counted as a new request
    assert await limiter.try_acquire(KEY) == 0.0
    assert await limiter.check(KEY) == pytest.approx(60.0)


async def test_a_huge_request_waits_one_window_at_most(clock: FakeClock) -> None:
    limiter = RateLimiter(tpm=100, backend=MemoryBackend(clock), window=60.0)
    await limiter.record(KEY, 80)
    clock.now += 15.0
    assert await limiter.check(KEY, estimated_tokens=10**6) == pytest.approx(45.0)
    clock.now += 45.0
    assert await limiter.try_acquire(KEY, 10**6) == 0.0


# -- configuration ------------------------------------------------------------------------


def test_defaults_per_provider() -> None:
    anthropic = get_rate_limiter("anthropic", "claude-sonnet-4-20250514")
    assert (anthropic.rpm, anthropic.tpm, anthropic.key) == (50, 30_000, "anthropic:claude-sonnet-4-20250514")
    assert (get_rate_limiter("openai", "gpt-4o").rpm, get_rate_limiter("openai", "gpt-4o").tpm) == (500, 30_000)
    assert get_rate_limiter("openai", "gpt-4o-mini").tpm == 200_000
    assert get_rate_limiter("ollama", "llama3.2").unlimited
    assert get_rate_limiter("my-compatible-server", "x").unlimited


def test_overrides_by_model_then_provider() -> None:
    overrides = {"openai": {"rpm": 100}, "openai:gpt-4o": {"tpm": None}, "ollama": {"rpm": 5, "window": 10}}
    gpt4o = get_rate_limiter("openai", "gpt-4o", overrides=overrides)
    assert (gpt4o.rpm, gpt4o.tpm) == (100, None)
    assert get_rate_limiter("openai", "gpt-4.1", overrides=overrides).tpm == 30_000
    ollama = get_rate_limiter("ollama", "llama3.2", overrides=overrides)
    assert (ollama.rpm, ollama.tpm, ollama.window) == (5, None, 10.0)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ConfigError, match="rpm, tpm and window"):
        get_rate_limiter("openai", "gpt-4o", overrides={"openai": {"requests": 5}})
    with pytest.raises(InvalidArgumentError):
        RateLimiter(rpm=0)
    with pytest.raises(InvalidArgumentError):
        RateLimiter(tpm=10, window=0)


async def test_negative_tokens_are_refused() -> None:
    with pytest.raises(InvalidArgumentError):
        await RateLimiter(rpm=1).record(KEY, -5)


async def test_redis_backend_accepts_any_object_with_a_url(redis_url: str) -> None:
    class QueueRedisConfig:  # the user's own config class, as in the README
        def __init__(self, url: str) -> None:
            self.url = url
            self.key_prefix = "myapp"

    backend = RedisBackend(QueueRedisConfig(redis_url))
    assert backend.config == RedisConfig(url=redis_url, key_prefix="myapp")
    limiter = RateLimiter(rpm=1, backend=backend)
    assert await limiter.try_acquire(KEY) == 0.0
    assert await limiter.check(KEY) > 0.0
    await limiter.aclose()


async def test_an_unreachable_redis_is_a_typed_error_without_the_password() -> None:
    limiter = RateLimiter(rpm=1, backend=RedisBackend(f"redis://:hunter2@127.0.0.1:{free_port()}/0"))
    with pytest.raises(RedisUnavailableError) as caught:
        await limiter.check(KEY)
    assert "hunter2" not in str(caught.value) and "127.0.0.1" in str(caught.value)
    await limiter.aclose()


async def test_a_stalled_redis_times_out_and_the_next_call_reconnects() -> None:
    import signal

    from .redis_server import RedisServer, require_redis_server

    with RedisServer(require_redis_server()) as server:
        assert server.process is not None
        limiter = RateLimiter(rpm=5, backend=RedisBackend(RedisConfig(url=server.url, socket_timeout=0.5)))
        assert await limiter.try_acquire(KEY) == 0.0
        server.process.send_signal(signal.SIGSTOP)  # the server hangs: no answer ever comes
        try:
            with pytest.raises(RedisUnavailableError):
                await limiter.try_acquire(KEY)
        finally:
            server.process.send_signal(signal.SIGCONT)
        # The stalled command may still have run once the server woke: 2 or 3 counted.
        assert await limiter.try_acquire(KEY) == 0.0
        assert await limiter.try_acquire(KEY) == 0.0
        await limiter.aclose()


async def test_redis_keys_always_carry_a_ttl(redis_url: str) -> None:
    import redis.asyncio as aredis

    limiter = RateLimiter(rpm=100, backend=RedisBackend(redis_url), window=0.3)
    client = aredis.Redis.from_url(redis_url)
    keys = [f"tui_agents:rl:{{{KEY}}}:{suffix}" for suffix in "emo"]

    async def ttls() -> list[int]:
        return [await client.pttl(key) for key in keys]

    await limiter.acquire(KEY, 5)
    assert all(0 < ttl <= 4000 for ttl in await ttls())  # two windows + 2 s (+ 1 s for :m)
    await limiter.record(KEY, 5)  # the open list empties and is deleted
    await limiter.acquire(KEY, 5)  # ... and comes back: it needs its TTL again
    assert all(0 < ttl <= 4000 for ttl in await ttls())  # two windows + 2 s (+ 1 s for :m)
    await asyncio.sleep(0.4)  # every event left the window: the zset empties
    await limiter.acquire(KEY, 5)
    assert all(0 < ttl <= 4000 for ttl in await ttls())  # two windows + 2 s (+ 1 s for :m)
    await client.aclose()
    await limiter.aclose()
