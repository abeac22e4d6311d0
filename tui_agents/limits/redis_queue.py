"""``RedisQueueBackend``: jobs kept in Redis, shared by worker processes, surviving restarts.

Keys, all under one hash tag so a cluster keeps them on one slot
(``P = <prefix>:q:{<queue_name>}``):

- ``P:job:<id>``     hash with the job's fields (payload and result as JSON); expires
                     ``result_ttl`` seconds after the job finished
- ``P:pending``      list of job ids ready to run, oldest first
- ``P:scheduled``    sorted set: retries waiting for their backoff, score = due time (µs)
- ``P:processing``   sorted set: jobs a worker holds, score = lease deadline (µs)
- ``P:wake``         a short list of tokens; idle workers block on it (BLPOP)

Every operation is one atomic round trip (a Lua script by EVALSHA, server time
from ``TIME``). Claiming moves due retries to ``pending`` and hands out again
the jobs whose lease ran out (their worker died, or stalled for longer than
``visibility_timeout`` without renewing). A running job's lease is renewed by
the worker's heartbeat; its outcome is only recorded while it still holds the
job (the attempt number fences out a worker whose job was handed out again).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pydantic_core

from ..errors import InvalidArgumentError
from ._redis import RedisConfig, as_redis_config, make_client, pooled_client, redis_errors
from .jobs import Job, JobStatus, Outcome, QueueBackend, _new_job_id

__all__ = ["RedisQueueBackend"]

_FIELDS = (
    "id", "name", "payload", "status", "attempts", "max_retries",
    "result", "error", "created_at", "started_at", "finished_at", "updated_at", "timeout", "elapsed",
)  # fmt: skip

# What a claim returns of each job taken; the rest of the snapshot is known (processing, now).
_CLAIMED = ("id", "name", "payload", "attempts", "max_retries", "error", "created_at", "timeout", "elapsed")

_LOST = "The worker running this job stopped responding, so the job was handed out again."
_LOST_FINAL = "The worker running this job stopped responding, and the job has no retries left."

_COMMON = r"""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local ts = string.format('%d.%06d', t[1], t[2])
local CLAIMED = {%CLAIMED%}

local function wake(list)
  redis.call('RPUSH', list, '1')
  redis.call('LTRIM', list, -64, -1)
end

-- Move due retries to pending, hand out again jobs whose lease ran out, then
-- take up to `limit` pending jobs. Returns a CLAIMED row per job taken.
local function claim(pending, scheduled, processing, limit, lease, prefix, ttl)
  local due = redis.call('ZRANGEBYSCORE', scheduled, '-inf', now, 'LIMIT', 0, 500)
  for i = 1, #due do
    redis.call('ZREM', scheduled, due[i])
    redis.call('RPUSH', pending, due[i])
  end
  local lost = redis.call('ZRANGEBYSCORE', processing, '-inf', now, 'LIMIT', 0, 500)
  for i = 1, #lost do
    local id = lost[i]
    local key = prefix .. id
    redis.call('ZREM', processing, id)
    local st = redis.call('HMGET', key, 'status', 'attempts', 'max_retries')
    if st[1] == 'processing' then
      if tonumber(st[2]) > tonumber(st[3]) then
        redis.call('HSET', key, 'status', 'failed', 'error', %LOST_FINAL%, 'finished_at', ts, 'updated_at', ts)
        redis.call('EXPIRE', key, ttl)
      else
        redis.call('HSET', key, 'status', 'pending', 'error', %LOST%, 'updated_at', ts)
        redis.call('HDEL', key, 'elapsed')  -- the lost run counted: the next attempt gets its whole timeout
        redis.call('LPUSH', pending, id)
      end
    end
  end
  local out = {}
  while #out < limit do
    local id = redis.call('LPOP', pending)
    if not id then break end
    local key = prefix .. id
    if redis.call('HGET', key, 'status') == 'pending' then
      redis.call('HINCRBY', key, 'attempts', 1)
      redis.call('HSET', key, 'status', 'processing', 'started_at', ts, 'updated_at', ts)
      redis.call('ZADD', processing, now + lease, id)
      out[#out + 1] = redis.call('HMGET', key, unpack(CLAIMED))
    end
  end
  return out
end

-- Microseconds until a retry is due or a lease runs out (-1: nothing scheduled).
local function next_due(scheduled, processing)
  local best = -1
  for _, zset in ipairs({scheduled, processing}) do
    local first = redis.call('ZRANGE', zset, 0, 0, 'WITHSCORES')
    if first[2] then
      local d = math.max(tonumber(first[2]) - now, 0)
      if best < 0 or d < best then best = d end
    end
  end
  return best
end
"""
_COMMON = (
 _COMMON.replace("%CLAIMED%", ", ".join(f"'{f}'" for f in _CLAIMED))
    .replace("%LOST%", f"'{_LOST}'")
    .replace("%LOST_FINAL%", f"'{_LOST_FINAL}'")
)

# KEYS: job, pending, wake. ARGV: id, name, payload, max_retries, timeout s ('' for none).
_ENQUEUE = _COMMON + r"""
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'name', ARGV[2], 'payload', ARGV[3], 'status', 'pending',
  'attempts', 0, 'max_retries', ARGV[4], 'created_at', ts, 'updated_at', ts)
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'timeout', ARGV[5]) end
redis.call('RPUSH', KEYS[2], ARGV[1])
wake(KEYS[3])
return ts
"""

# KEYS: pending, scheduled, processing. ARGV: limit, lease µs, job key prefix, result ttl s.
# Returns {µs until something is due (-1: none), server time, claimed rows...}.
_CLAIM = _COMMON + r"""
local jobs = claim(KEYS[1], KEYS[2], KEYS[3], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4])
local hint = -1
if #jobs == 0 then hint = next_due(KEYS[2], KEYS[3]) end
return {hint, ts, unpack(jobs)}
"""

# Many settles in one call (the worker batches the outcomes that finish together).
# KEYS: pending, scheduled, processing, wake. ARGV: lease µs, job key prefix, result ttl s,
# then per settle: id, attempts (fence), outcome (completed|failed|retry|release), result json,
# error, delay µs, how many jobs to claim after it, seconds a released run ran.
# Returns {server time, {1 if settled else 0, claimed rows...} per settle}.
_SETTLE = _COMMON + r"""
local pending, scheduled, processing, wakes = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local lease, prefix, ttl = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local out, wanted = {ts}, {}
for i = 4, #ARGV, 8 do
  local id, outcome = ARGV[i], ARGV[i + 2]
  local key = prefix .. id
  local st = redis.call('HMGET', key, 'status', 'attempts')
  local settled = 0
  if st[1] == 'processing' and st[2] == ARGV[i + 1] then
    redis.call('ZREM', processing, id)
    if outcome == 'completed' then
      redis.call('HSET', key, 'status', 'completed', 'result', ARGV[i + 3], 'finished_at', ts, 'updated_at', ts)
      redis.call('HDEL', key, 'error')
      redis.call('EXPIRE', key, ttl)
    elseif outcome == 'failed' then
      redis.call('HSET', key, 'status', 'failed', 'error', ARGV[i + 4], 'finished_at', ts, 'updated_at', ts)
      redis.call('EXPIRE', key, ttl)
    elseif outcome == 'retry' then
      redis.call('HSET', key, 'status', 'pending', 'error', ARGV[i + 4], 'updated_at', ts)
      redis.call('HDEL', key, 'elapsed')
      local delay = tonumber(ARGV[i + 5])
      if delay > 0 then redis.call('ZADD', scheduled, now + delay, id) else redis.call('RPUSH', pending, id) end
      wake(wakes)
    else
      redis.call('HSET', key, 'status', 'pending', 'updated_at', ts)
      redis.call('HINCRBY', key, 'attempts', -1)
      redis.call('HINCRBYFLOAT', key, 'elapsed', ARGV[i + 7])
      redis.call('LPUSH', pending, id)
      wake(wakes)
    end
    settled = 1
  end
  out[#out + 1] = {settled}
  wanted[#wanted + 1] = tonumber(ARGV[i + 6])
end
local total = 0
for _, n in ipairs(wanted) do total = total + n end
if total > 0 then
  -- one claim for the whole batch, dealt out in order
  local jobs = claim(pending, scheduled, processing, total, lease, prefix, ttl)
  local next_job = 1
  for s = 1, #wanted do
    for _ = 1, wanted[s] do
      if next_job > #jobs then break end
      table.insert(out[s + 1], jobs[next_job])
      next_job = next_job + 1
    end
  end
end
return out
"""

# KEYS: processing. ARGV: lease µs, ids... Extends the leases still held.
_RENEW = r"""
local t = redis.call('TIME')
local deadline = tonumber(t[1]) * 1000000 + tonumber(t[2]) + tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', deadline, ARGV[i]) end
return #ARGV - 1
"""


def _float(value: str | None) -> float | None:
    return None if value is None else float(value)


def _seconds(value: float | None) -> str:
    """A timeout as a script argument ('' for none)."""
    return "" if value is None else repr(value)


def _claimed(row: list[str | None], ts: str) -> Job:
    """The snapshot of a job just claimed, from its ``_CLAIMED`` row and the server time."""
    job_id, name, payload, attempts, max_retries, error, created_at, timeout, elapsed = row
    started = float(ts)
    return Job(
        job_id or "", name or "", json.loads(payload) if payload else {}, JobStatus.PROCESSING,
        int(attempts or 0), int(max_retries or 0), None, error, float(created_at or 0.0), started, None, started,
        _float(timeout), float(elapsed or 0.0),
    )  # fmt: skip


def _decode(row: list[str | None]) -> Job:
    """A Job from the HMGET row of ``_FIELDS``."""
    (job_id, name, payload, status, attempts, max_retries, result, error,
     created_at, started_at, finished_at, updated_at, timeout, elapsed) = row  # fmt: skip
    return Job(
        id=job_id or "",
        name=name or "",
        payload=json.loads(payload) if payload else {},
        status=JobStatus(status),
        attempts=int(attempts or 0),
        max_retries=int(max_retries or 0),
        result=json.loads(result) if result else None,
        error=error,
        created_at=float(created_at or 0.0),
        started_at=_float(started_at),
        finished_at=_float(finished_at),
        updated_at=float(updated_at or 0.0),
        timeout=_float(timeout),
        elapsed=float(elapsed or 0.0),
    )


class RedisQueueBackend(QueueBackend):
    """Jobs in Redis under ``queue_name``: persistent, shared by workers in many processes.

    ``visibility_timeout`` is the lease of a running job: the worker renews it
    every third of it, and a job whose worker died is handed out again once it
    runs out. Finished jobs (and their results) are kept ``result_ttl`` seconds.
    Payloads and results must be JSON-serializable. ``client`` is an optional
    ``redis.asyncio.Redis`` made with ``decode_responses=True``, used instead of
    one built from ``config``.
    """

    def __init__(
        self,
        config: Any = None,
        queue_name: str = "tui_agents",
        *,
        visibility_timeout: float = 30.0,
        result_ttl: float = 86_400.0,
        client: Any = None,
    ) -> None:
        self.config: RedisConfig = as_redis_config(config if config is not None else RedisConfig())
        self.queue_name = queue_name
        self.lease_seconds = visibility_timeout
        self.result_ttl = result_ttl
        self._client = client if client is not None else make_client(self.config, decode_responses=True)
        self._blocking = pooled_client(self._client)  # BLPOP must not hold up the scripts' connection
        # Each script runs by EVALSHA and is loaded when the server answers NOSCRIPT.
        script = self._client.register_script
        self._enqueue_lua, self._claim_lua, self._settle_lua = script(_ENQUEUE), script(_CLAIM), script(_SETTLE)
        self._renew_lua = script(_RENEW)
        base = f"{self.config.key_prefix}:q:{{{queue_name}}}:"
        self._job_prefix = base + "job:"
        self._pending = base + "pending"
        self._scheduled = base + "scheduled"
        self._processing = base + "processing"
        self._wake = base + "wake"
        self._lease_us = int(visibility_timeout * 1_000_000)
        self._ttl = max(int(result_ttl), 1)
        self._next_due: float | None = None  # seconds until a retry or a lease is due, from the last claim
        # Settles that finish together go to Redis in one round trip (see _flush).
        self._batch: list[tuple[tuple[Any, ...], asyncio.Future[tuple[str, list[Any]]]]] = []
        self._flusher: asyncio.Future[None] | None = None

    async def enqueue(self, name: str, payload: dict[str, Any], max_retries: int, timeout: float | None = None) -> Job:
        try:
            body = json.dumps(payload)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"The payload of job {name!r} must be JSON-serializable: {exc}.") from exc
        with redis_errors(self.config):
            while True:  # ids from two processes may collide, very rarely
                job_id = _new_job_id()
                keys = (self._job_prefix + job_id, self._pending, self._wake)
                ts = await self._enqueue_lua(keys, (job_id, name, body, max_retries, _seconds(timeout)))
                if ts is not None:
                    at = float(ts)
                    return Job(job_id, name, payload, JobStatus.PENDING, 0, max_retries, created_at=at, updated_at=at,
                               timeout=timeout)  # fmt: skip

    def _claim_args(self, limit: int) -> tuple[Any, ...]:
        return (limit, self._lease_us, self._job_prefix, self._ttl)

    async def claim(self, limit: int) -> list[Job]:
        keys = (self._pending, self._scheduled, self._processing)
        with redis_errors(self.config):
            hint, ts, *rows = await self._claim_lua(keys, self._claim_args(limit))
        self._next_due = None if hint < 0 else hint / 1_000_000
        return [_claimed(row, ts) for row in rows]

    async def wait(self, timeout: float) -> None:
        if self._next_due is not None:
            timeout = min(timeout, self._next_due)
        # BLPOP's timeout 0 means forever, and it must end before the socket times out.
        timeout = min(max(timeout, 0.01), self.config.socket_timeout / 2)
        with redis_errors(self.config):
            await self._blocking.blpop([self._wake], timeout=timeout)

    async def settle(self, job: Job, outcome: Outcome, claim: int = 0) -> tuple[Job | None, list[Job]]:
        body = ""
        if outcome.kind == "completed":
            try:
                body = pydantic_core.to_json(outcome.result).decode()
                # The snapshot shows what get_status will read back.
                outcome = Outcome("completed", result=json.loads(body))
            except pydantic_core.PydanticSerializationError as exc:
                outcome = Outcome("failed", error=f"The job's result could not be stored as JSON: {exc}")
        args = (job.id, job.attempts, outcome.kind, body, outcome.error or "", int(outcome.delay * 1_000_000), claim,
                repr(outcome.elapsed))  # fmt: skip
        future: asyncio.Future[tuple[str, list[Any]]] = asyncio.get_running_loop().create_future()
        self._batch.append((args, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.ensure_future(self._flush())
        ts, (settled, *rows) = await future
        snapshot = outcome.apply(job, float(ts)) if settled else None
        return snapshot, [_claimed(row, ts) for row in rows]

    async def _flush(self) -> None:
        """Send the settles queued meanwhile, all in one round trip, until none are left."""
        keys = (self._pending, self._scheduled, self._processing, self._wake)
        while self._batch:
            batch, self._batch = self._batch, []
            args = [self._lease_us, self._job_prefix, self._ttl]
            for settle_args, _ in batch:
                args.extend(settle_args)
            try:
                with redis_errors(self.config):
                    ts, *parts = await self._settle_lua(keys, tuple(args))
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), part in zip(batch, parts, strict=True):
                if not future.done():  # its worker may have been cancelled meanwhile
                    future.set_result((ts, part))

    async def renew(self, jobs: list[Job]) -> None:
        with redis_errors(self.config):
            await self._renew_lua((self._processing,), (self._lease_us, *(job.id for job in jobs)))

    async def get(self, job_id: str) -> Job | None:
        with redis_errors(self.config):
            row = await self._client.hmget(self._job_prefix + job_id, _FIELDS)
        return _decode(row) if row[0] is not None else None

    async def aclose(self) -> None:
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        if self._blocking is not self._client:
            await self._blocking.aclose()
        await self._client.aclose()
