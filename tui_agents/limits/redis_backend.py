"""``RedisBackend``: the rate limiter's sliding windows kept in Redis, shared by processes and machines.

Every call is one atomic round trip: a Lua script (EVALSHA) that reads the
server's clock with ``TIME``, so machines whose clocks disagree still share one
timeline. Per limiter key there are three Redis keys, with the key in a hash
tag so they live on one cluster slot:

- ``<prefix>:rl:{<key>}:e``  sorted set of events, member ``<seq>:<tokens>``, score = time in µs
- ``<prefix>:rl:{<key>}:m``  hash: ``tok`` (tokens in the window), ``seq`` (event counter),
  ``exp`` (when the TTLs run out)
- ``<prefix>:rl:{<key>}:o``  list of open reservations (members of ``:e``), oldest first

All three expire within two windows of the last write, so idle keys leave nothing behind.
"""

from __future__ import annotations

from typing import Any

from ._redis import RedisConfig, as_redis_config, make_client, redis_errors
from .rate_limiter import RateLimitBackend

__all__ = ["RedisBackend"]

# ARGV: op ("check" | "acquire" | "record"), rpm (-1: none), tpm (-1: none),
# window in µs, tokens. Returns {wait in µs (0: allowed), server time in µs}.
_LIMITER_LUA = r"""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local op, rpm, tpm = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local window, tokens = tonumber(ARGV[4]), tonumber(ARGV[5])
local ev, meta, open = KEYS[1], KEYS[2], KEYS[3]
local cutoff = now - window

local function tok(member) return tonumber(string.match(member, ':(%d+)$')) end

-- tok: tokens in the window; seq: event counter; exp: when the keys' TTLs run out (µs)
local state = redis.call('HMGET', meta, 'tok', 'seq', 'exp')
local total, seq, exp = tonumber(state[1] or '0'), tonumber(state[2] or '0'), tonumber(state[3] or '0')
local recreated = false  -- a key was (re)created by this call and has no TTL yet
local gone = redis.call('ZRANGEBYSCORE', ev, '-inf', cutoff)
if #gone > 0 then
  for i = 1, #gone do total = total - tok(gone[i]) end
  redis.call('ZREMRANGEBYSCORE', ev, '-inf', cutoff)
  -- reservations are made in time order, so those that left the window are at the front
  while true do
    local m = redis.call('LINDEX', open, 0)
    if not m or redis.call('ZSCORE', ev, m) then break end
    redis.call('LPOP', open)
  end
end
local count = redis.call('ZCARD', ev)
if count == 0 then total = 0 end

local function wait_us()
  local untl = now
  if rpm >= 0 and count >= rpm then
    local r = redis.call('ZRANGE', ev, count - rpm, count - rpm, 'WITHSCORES')
    untl = tonumber(r[2]) + window
  end
  if tpm >= 0 and total + tokens > tpm then
    -- a request larger than tpm alone waits for an empty window, never forever
    local target = math.max(tpm - tokens, 0)
    local remaining, start = total, 0
    while remaining > target do
      local chunk = redis.call('ZRANGE', ev, start, start + 199, 'WITHSCORES')
      if #chunk == 0 then break end
      for i = 1, #chunk, 2 do
        if remaining <= target then break end
        remaining = remaining - tok(chunk[i])
        untl = math.max(untl, tonumber(chunk[i + 1]) + window)
      end
      start = start + 200
    end
  end
  return math.max(math.ceil(untl - now), 0)
end

local function add(n)
  seq = seq + 1
  local m = seq .. ':' .. n
  redis.call('ZADD', ev, now, m)
  if count == 0 then recreated = true end
  count = count + 1
  total = total + n
  return m
end

-- Save the counters; refresh the TTLs only when a key is new or they would end
-- within a window of now (TTL two windows), not on every call.
local function touch()
  local refresh = recreated or exp < now + window + 1000000
  local ttl = math.floor(2 * window / 1000) + 2000
  if refresh then exp = now + ttl * 1000 end
  redis.call('HSET', meta, 'tok', total, 'seq', seq, 'exp', exp)
  if refresh then
    redis.call('PEXPIRE', ev, ttl)
    redis.call('PEXPIRE', open, ttl)
    redis.call('PEXPIRE', meta, ttl + 1000)  -- outlives the events, so seq never restarts under them
  end
end

if op == 'check' then
  if #gone > 0 then redis.call('HSET', meta, 'tok', total) end
  return {wait_us(), now}
elseif op == 'acquire' then
  local w = wait_us()
  if w == 0 then
    if redis.call('RPUSH', open, add(tokens)) == 1 then recreated = true end
    touch()
  elseif #gone > 0 then
    redis.call('HSET', meta, 'tok', total)
  end
  return {w, now}
else
  while true do
    local m = redis.call('LPOP', open)
    if not m then
      add(tokens)
      break
    end
    local score = redis.call('ZSCORE', ev, m)
    if score then
      redis.call('ZREM', ev, m)
      redis.call('ZADD', ev, score, string.match(m, '^(%d+):') .. ':' .. tokens)
      total = total - tok(m) + tokens
      break
    end
  end
  touch()
  return {0, now}
end
"""

def _limit_arg(value: int | None) -> int:
    return -1 if value is None else value


class RedisBackend(RateLimitBackend):
    """Rate-limit windows in Redis: the same limits shared by every process that uses the same server.

    ``client`` is an optional ``redis.asyncio.Redis``, used instead of one built from ``config``.
    """

    def __init__(self, config: Any = None, *, client: Any = None) -> None:
        self.config: RedisConfig = as_redis_config(config if config is not None else RedisConfig())
        self._client = client if client is not None else make_client(self.config)
        self._script = self._client.register_script(_LIMITER_LUA)  # EVALSHA, loaded on first NOSCRIPT
        self._prefix = f"{self.config.key_prefix}:rl:"

    def _keys(self, key: str) -> tuple[str, str, str]:
        base = f"{self._prefix}{{{key}}}"
        return base + ":e", base + ":m", base + ":o"

    async def _call(self, op: str, key: str, rpm: int | None, tpm: int | None, window: float, tokens: int) -> Any:
        with redis_errors(self.config):
            return await self._script(
                self._keys(key), (op, _limit_arg(rpm), _limit_arg(tpm), int(window * 1_000_000), tokens)
            )

    async def check(self, key: str, rpm: int | None, tpm: int | None, window: float, tokens: int) -> float:
        wait_us, _ = await self._call("check", key, rpm, tpm, window, tokens)
        return wait_us / 1_000_000

    async def try_acquire(
        self, key: str, rpm: int | None, tpm: int | None, window: float, tokens: int
    ) -> float:
        wait, _ = await self.try_acquire_timed(key, rpm, tpm, window, tokens)
        return wait

    async def try_acquire_timed(
        self, key: str, rpm: int | None, tpm: int | None, window: float, tokens: int
    ) -> tuple[float, float]:
        """``try_acquire``, plus the Redis server time (Unix seconds) at which it decided, for audits."""
        wait_us, now_us = await self._call("acquire", key, rpm, tpm, window, tokens)
        return wait_us / 1_000_000, now_us / 1_000_000

    async def record(self, key: str, window: float, tokens: int) -> None:
        await self._call("record", key, None, None, window, tokens)

    async def aclose(self) -> None:
        await self._client.aclose()
