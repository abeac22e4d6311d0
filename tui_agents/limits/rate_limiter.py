"""Sliding-window rate limiting of requests per minute and tokens per minute.

A limiter counts events per key (``"openai:gpt-4o"``): each event is one
request with a token count, stamped with the time it happened. A request is
allowed when, over the last ``window`` seconds, the requests including it stay
within ``rpm`` and the tokens including its estimate stay within ``tpm``. The
window is exact (one timestamp per event), so it slides: there is no bucket
edge at which twice the limit can get through.

Where the events live is the backend's business: ``MemoryBackend`` (the
default) for one process, ``RedisBackend`` to share limits between processes
and machines.
"""

from __future__ import annotations

import abc
import asyncio
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError, InvalidArgumentError

__all__ = [
    "RateLimitBackend",
    "MemoryBackend",
    "RateLimiter",
    "ProviderLimits",
    "DEFAULT_LIMITS",
    "get_rate_limiter",
]

# acquire() sleeps this much beyond the computed wait, so rounding (Redis
# answers in whole microseconds) never makes it wake a hair too early and spin.
_WAKE_SLACK = 0.001


class RateLimitBackend(abc.ABC):
    """Where a limiter's events are kept. Each method is atomic for one key.

    ``rpm`` and ``tpm`` are ``None`` for "no limit on that axis"; ``window`` is
    in seconds. Waits are seconds, 0.0 when the request may go now.
    """

    @abc.abstractmethod
    async def check(self, key: str, rpm: int | None, tpm: int | None, window: float, tokens: int) -> float:
        """Seconds until one request with ``tokens`` would be allowed; counts nothing."""

    @abc.abstractmethod
    async def try_acquire(
        self, key: str, rpm: int | None, tpm: int | None, window: float, tokens: int
    ) -> float:
        """Like ``check``, and when the answer is 0 also reserve the request with ``tokens``."""

    @abc.abstractmethod
    async def record(self, key: str, window: float, tokens: int) -> None:
        """Settle the oldest open reservation with ``tokens``, or count a new request."""

    async def aclose(self) -> None:
        """Release connections, if any."""


class _Event:
    """One request in a window: when it happened and its token count."""

    __slots__ = ("at", "tokens")

    def __init__(self, at: float, tokens: int) -> None:
        self.at = at
        self.tokens = tokens


class _Window:
    """The events of one key inside the window, oldest first, and their token sum."""

    __slots__ = ("events", "tokens", "open")

    def __init__(self) -> None:
        self.events: deque[_Event] = deque()
        self.tokens = 0
        self.open: deque[_Event] = deque()  # reservations from try_acquire awaiting record

    def prune(self, cutoff: float) -> None:
        """Forget events at or before ``cutoff`` (they left the window)."""
        events = self.events
        while events and events[0].at <= cutoff:
            self.tokens -= events.popleft().tokens
        opened = self.open
        while opened and opened[0].at <= cutoff:
            opened.popleft()

    def add(self, at: float, tokens: int) -> _Event:
        event = _Event(at, tokens)
        self.events.append(event)
        self.tokens += tokens
        return event

    def wait(self, now: float, rpm: int | None, tpm: int | None, window: float, tokens: int) -> float:
        """Seconds until one more request with ``tokens`` fits both limits."""
        events = self.events
        until = now
        if rpm is not None and len(events) >= rpm:
            # The oldest len - rpm + 1 events must leave the window first.
            until = events[len(events) - rpm].at + window
        if tpm is not None and self.tokens + tokens > tpm:
            # A request larger than tpm on its own goes once the window holds
            # no tokens at all (target 0), so it waits at most one window.
            target = max(tpm - tokens, 0)
            remaining = self.tokens
            for event in events:
                if remaining <= target:
                    break
                remaining -= event.tokens
                until = max(until, event.at + window)
        return max(until - now, 0.0)


class MemoryBackend(RateLimitBackend):
    """Events kept in this process (a deque per key), timed by ``time.monotonic``."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._windows: dict[str, _Window] = {}

    def _window(self, key: str, now: float, window: float) -> _Window:
        state = self._windows.get(key)
        if state is None:
            state = self._windows[key] = _Window()
        else:
            state.prune(now - window)
        return state

    async def check(self, key: str, rpm: int | None, tpm: int | None, window: float, tokens: int) -> float:
        now = self._clock()
        return self._window(key, now, window).wait(now, rpm, tpm, window, tokens)

    async def try_acquire(
        self, key: str, rpm: int | None, tpm: int | None, window: float, tokens: int
    ) -> float:
        now = self._clock()
        state = self._window(key, now, window)
        wait = state.wait(now, rpm, tpm, window, tokens)
        if wait == 0.0:
            state.open.append(state.add(now, tokens))
        return wait

    async def record(self, key: str, window: float, tokens: int) -> None:
        now = self._clock()
        state = self._window(key, now, window)
        if state.open:
            event = state.open.popleft()
            state.tokens += tokens - event.tokens
            event.tokens = tokens
        else:
            state.add(now, tokens)


def _limit(value: int | None, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgumentError(f"{name} must be a whole number of at least 1, or None for no limit.")
    return value


def _tokens(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidArgumentError("Token counts must be whole numbers of at least 0.")
    return value


class RateLimiter:
    """Requests-per-minute and tokens-per-minute limits over a sliding window.

    ``check`` says how long to wait and counts nothing; ``record`` counts a
    request that was made; ``acquire`` waits, then reserves one request with
    its estimated tokens, and the next ``record`` for that key replaces the
    estimate with the actual count instead of counting another request.
    ``rpm`` or ``tpm`` may be ``None`` for no limit on that axis.

    A request whose estimate alone exceeds ``tpm`` is allowed once the window
    holds no tokens, so it waits at most one window instead of forever.
    Reservations are settled oldest first; one that has left the window before
    its ``record`` arrives is dropped, and that ``record`` counts as a new
    request (the limiter errs towards waiting).
    """

    def __init__(
        self,
        rpm: int | None = None,
        tpm: int | None = None,
        backend: RateLimitBackend | None = None,
        window: float = 60.0,
        *,
        key: str | None = None,
    ) -> None:
        if not window > 0:
            raise InvalidArgumentError("The rate-limit window must be a positive number of seconds.")
        self.rpm = _limit(rpm, "rpm")
        self.tpm = _limit(tpm, "tpm")
        self.window = float(window)
        self.backend = backend if backend is not None else MemoryBackend()
        self.key = key
        """The key ``get_rate_limiter`` made (``"provider:model"``), for callers to pass back."""

    @property
    def unlimited(self) -> bool:
        """True when neither requests nor tokens are limited (every call is a no-op)."""
        return self.rpm is None and self.tpm is None

    async def check(self, key: str, estimated_tokens: int = 0) -> float:
        """Seconds to wait before a request with ``estimated_tokens`` may go (0.0: now); counts nothing."""
        tokens = _tokens(estimated_tokens)
        if self.unlimited:
            return 0.0
        return await self.backend.check(key, self.rpm, self.tpm, self.window, tokens)

    async def record(self, key: str, actual_tokens: int = 0) -> None:
        """Count a request that used ``actual_tokens``, or settle the oldest reservation with them."""
        tokens = _tokens(actual_tokens)
        if not self.unlimited:
            await self.backend.record(key, self.window, tokens)

    async def try_acquire(self, key: str, estimated_tokens: int = 0) -> float:
        """Reserve a request now if allowed and return 0.0; otherwise return the wait and reserve nothing.

        One atomic call (one round trip on Redis): use it to show a wait
        before sleeping, e.g. ``while (w := await lim.try_acquire(k, n)): ...``.
        """
        tokens = _tokens(estimated_tokens)
        if self.unlimited:
            return 0.0
        return await self.backend.try_acquire(key, self.rpm, self.tpm, self.window, tokens)

    async def acquire(self, key: str, estimated_tokens: int = 0) -> float:
        """Wait until a request is allowed, then reserve it; returns the seconds spent waiting."""
        waited = 0.0
        while (wait := await self.try_acquire(key, estimated_tokens)) > 0.0:
            started = time.monotonic()
            await asyncio.sleep(wait + _WAKE_SLACK)
            waited += time.monotonic() - started
        return waited

    async def aclose(self) -> None:
        """Close the backend's connections."""
        await self.backend.aclose()

    def __repr__(self) -> str:
        return f"RateLimiter(rpm={self.rpm}, tpm={self.tpm}, window={self.window}, key={self.key!r})"


@dataclass(frozen=True, slots=True)
class ProviderLimits:
    """Default limits of one provider or model; ``None`` means not limited."""

    rpm: int | None
    tpm: int | None


class _RegistryLimits(Mapping[str, ProviderLimits]):
    """A live view of the provider registry's default limits: ``"provider"`` and ``"provider:model"`` keys.

    Ollama runs locally and has no limits; a "provider:model" entry wins over the
    provider's; unknown providers (OpenAI-compatible servers) are unlimited.
    """

    def _items(self) -> dict[str, ProviderLimits]:
        from ..providers import registry

        out: dict[str, ProviderLimits] = {}
        for spec in registry.specs():
            out[spec.name] = ProviderLimits(rpm=spec.rpm, tpm=spec.tpm)
            for model, (rpm, tpm) in spec.model_limits.items():
                out[f"{spec.name}:{model}"] = ProviderLimits(rpm=rpm, tpm=tpm)
        return out

    def __getitem__(self, key: str) -> ProviderLimits:
        return self._items()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items())

    def __len__(self) -> int:
        return len(self._items())


DEFAULT_LIMITS: Mapping[str, ProviderLimits] = _RegistryLimits()
"""Default limits per provider and model, from ``providers.registry``."""

_OVERRIDE_FIELDS = frozenset({"rpm", "tpm", "window"})


def get_rate_limiter(
    provider: str,
    model: str,
    *,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    backend: RateLimitBackend | None = None,
    window: float = 60.0,
) -> RateLimiter:
    """A limiter for ``provider`` and ``model`` with its key ``"provider:model"``.

    Limits come from ``overrides["provider:model"]``, then
    ``overrides["provider"]``, then ``DEFAULT_LIMITS`` the same way; a field an
    override leaves out keeps the default, and an explicit ``None`` removes
    that limit. Ollama and unknown providers get an unlimited limiter (never
    ``None``), so callers need no special case.
    """
    key = f"{provider}:{model}"
    base = DEFAULT_LIMITS.get(key) or DEFAULT_LIMITS.get(provider) or ProviderLimits(None, None)
    settings: dict[str, Any] = {"rpm": base.rpm, "tpm": base.tpm, "window": window}
    for name in (provider, key):  # the more specific override is applied last
        override = (overrides or {}).get(name)
        if override is None:
            continue
        unknown = set(override) - _OVERRIDE_FIELDS
        if unknown:
            raise ConfigError(
                f"Rate-limit override {name!r} has unknown fields {sorted(unknown)}; use rpm, tpm and window."
            )
        settings.update(override)
    return RateLimiter(settings["rpm"], settings["tpm"], backend=backend, window=settings["window"], key=key)
