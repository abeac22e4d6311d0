"""The HTTP machinery the three adapters share: client, key, retries, streaming and errors."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from ..errors import (
    ConfigError,
    MissingAPIKeyError,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    StreamInterruptedError,
)
from ..secrets import ENV_VARS, Secret, env_var_for, get_key
from ._errors import error_from_response, error_from_transport, safe_url, scrub
from ._lazy_tls import SchemeTransport
from ..types import Message, ToolDefinition
from .base import Provider, ProviderTimeouts
from .jsonbody import encode_body
from .models import DEFAULT_MODELS

if TYPE_CHECKING:  # pragma: no cover
    from .base import StreamEvent

__all__ = ["HTTPProvider", "StreamParser"]

MAX_RETRY_AFTER = 60.0
"""A ``retry-after`` longer than this is surfaced as an error rather than waited out."""

_OPTION_NAMES = frozenset({"temperature", "max_tokens", "stop", "top_p", "model", "extra_body"})


class StreamParser(Protocol):
    """Turns a response body, chunk by chunk, into stream events; keeps the text seen so far."""

    text: list[str]
    error: ProviderError | None
    """An error met after some events of a ``feed``/``finish`` batch: those are returned, then this is raised."""

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        """The events completed by ``chunk`` of the body."""
        ...

    def finish(self) -> list[StreamEvent]:
        """The last events at the end of the body; raises if the stream ended early."""
        ...


class _Watchdog:
    """Cancels the task waiting on the server once one wait outlasts ``limit`` seconds.

    The stream marks each wait (``since`` and ``task``) and clears it when a
    chunk arrives; one timer looks at that at most once per ``limit`` instead of
    a timer per chunk. Time the consumer spends between chunks is not counted.
    """

    __slots__ = ("_loop", "_handle", "limit", "phase", "since", "task", "fired")

    def __init__(self, limit: float | None, phase: str) -> None:
        self._loop = asyncio.get_running_loop()
        self._handle: asyncio.TimerHandle | None = None
        self.limit = limit
        self.phase = phase
        self.since: float | None = None
        self.task: asyncio.Task[Any] | None = None
        self.fired = False

    def wait(self) -> None:
        """A wait on the server begins now."""
        self.since = self._loop.time()
        self.task = asyncio.current_task()

    def switch(self, limit: float | None, phase: str) -> None:
        """Use ``limit`` from now on (e.g. once the first byte has arrived)."""
        self.limit, self.phase = limit, phase
        self.stop()
        self.start()

    def start(self) -> None:
        if self.limit is not None:
            self._handle = self._loop.call_at(self._loop.time() + self.limit, self._check)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _check(self) -> None:
        assert self.limit is not None
        now = self._loop.time()
        since = self.since
        if since is not None and now - since >= self.limit and self.task is not None:
            self.fired = True
            self._handle = None
            self.task.cancel()
            return
        due = since + self.limit if since is not None else now + self.limit
        self._handle = self._loop.call_at(due, self._check)


class HTTPProvider(Provider):
    """A provider reached over HTTP with one ``httpx.AsyncClient`` (httpx's own transport, HTTP/1.1 keep-alive).

    ``timeout`` is a ``ProviderTimeouts`` (connect, first byte, between chunks),
    a number of seconds for all three waits (connect at most 10 s), or None for
    the defaults.

    The key comes from the argument, else the env var, else the OS keyring
    (that lookup blocks briefly: build providers off the event loop when it
    matters). A missing key raises ``MissingAPIKeyError`` at the first request,
    so an app can build a provider before the user has entered a key.
    """

    label = ""
    key_required = True

    def __init__(
        self,
        *,
        api_key: str | Secret | None = None,
        model: str | None = None,
        base_url: str,
        timeout: ProviderTimeouts | float | httpx.Timeout | None = None,
        max_retries: int = 2,
        transport: httpx.AsyncBaseTransport | None = None,
        **options: Any,
    ) -> None:
        self.model = model or DEFAULT_MODELS[self.name]
        self.base_url = base_url.rstrip("/")
        self.max_retries = max(0, int(max_retries))
        unknown = set(options) - _OPTION_NAMES
        self._options = {k: v for k, v in options.items() if k not in unknown}
        # Look the key up even when optional: an OpenAI-compatible server may still want one.
        self._key: Secret | None = Secret(api_key) if api_key else (get_key(self.name) if self.name in ENV_VARS else None)
        self.timeouts = ProviderTimeouts.of(timeout)
        wait = self.timeouts.first_byte
        limits = httpx.Limits(max_connections=20, max_keepalive_connections=10, keepalive_expiry=30.0)
        if transport is None:  # the TLS context only for an https server (or an https redirect)
            transport = SchemeTransport(tls_now=self.base_url.startswith("https:"), limits=limits)
        self._client = httpx.AsyncClient(
            # JSON requests (model lists) use httpx's own per-read timeouts; streams use the watchdog.
            timeout=httpx.Timeout(wait, connect=self.timeouts.connect),
            limits=limits,
            headers={"user-agent": "tui-agents/0.1"},
            transport=transport,
        )
        # Streams: httpx bounds only the connect; the watchdog bounds the first byte and each silence.
        self._stream_timeout = httpx.Timeout(None, connect=self.timeouts.connect)
        self._on_sent: list[Callable[[], None]] = []
        self._on_retry: list[Callable[[float, ProviderError], None]] = []

    def on_retry(self, callback: Callable[[float, ProviderError], None]) -> None:
        """Call ``callback(seconds, error)`` before each wait for a retry (a 429's ``retry-after``, a 5xx): a
        caller can say why nothing happens meanwhile."""
        self._on_retry.append(callback)

    async def _wait_to_retry(self, delay: float, error: ProviderError) -> None:
        for callback in self._on_retry:
            callback(delay, error)
        await asyncio.sleep(delay)

    def on_request_sent(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once, in the event loop, when the next streamed request's body has been sent.

        An app can hold back work of its own until then (drawing, loading), so the request goes first.
        A request that fails before it is sent never calls it; the next one does.
        """
        self._on_sent.append(callback)

    def _sent_trace(self) -> dict[str, Any] | None:
        """httpcore's ``trace`` request extension calling the waiting ``on_request_sent`` callbacks, if any."""
        if not self._on_sent:
            return None
        callbacks, self._on_sent = self._on_sent, []

        async def trace(name: str, info: dict[str, Any]) -> None:
            if name.endswith("send_request_body.complete"):
                while callbacks:
                    callbacks.pop()()

        return {"trace": trace}

    def __repr__(self) -> str:
        key = self._key.masked if self._key else None
        return f"{type(self).__name__}(model={self.model!r}, base_url={safe_url(self.base_url)!r}, key={key!r})"

    @property
    def has_key(self) -> bool:
        """Whether a request can be made without ``MissingAPIKeyError``."""
        return bool(self._key) or not self.key_required

    @property
    def _secret(self) -> str | None:
        return self._key.reveal() if self._key else None

    def _require_key(self) -> str | None:
        if self._key:
            return self._key.reveal()
        if self.key_required:
            raise MissingAPIKeyError(
                f"No {self.label} API key was found: set {env_var_for(self.name)} "
                f"or run `aiagents-tui keys set {self.name}`."
            )
        return None

    def _auth_headers(self, key: str | None) -> dict[str, str]:
        """Headers carrying the key (added per request, so the client object never holds it).

        A bearer token by default (OpenAI, and an Ollama behind an authenticating proxy).
        """
        return {"authorization": f"Bearer {key}"} if key else {}

    chat_path: str = ""
    """Where ``stream`` posts its request, relative to ``base_url``."""

    def build_request(self, messages: Sequence[Message], system: str | None = None,
                      tools: Sequence[ToolDefinition] | None = None, **options: Any) -> dict[str, Any]:
        """The JSON body of one streaming chat request in this provider's wire format."""
        raise NotImplementedError

    def _new_parser(self) -> StreamParser:
        """A fresh parser of this provider's stream (one per attempt)."""
        raise NotImplementedError

    def stream(self, messages: Sequence[Message], system: str | None = None,
               tools: Sequence[ToolDefinition] | None = None, **options: Any) -> AsyncIterator[StreamEvent]:
        """Stream one reply as typed events (the request is sent on the first iteration)."""
        body = self.build_request(messages, system, tools, **options)
        return self._stream(self.chat_path, body, self._new_parser)

    def _merged(self, options: Mapping[str, Any]) -> dict[str, Any]:
        merged = dict(self._options)
        merged.update((k, v) for k, v in options.items() if v is not None and k in _OPTION_NAMES)
        return merged

    async def aclose(self) -> None:
        """Close the HTTP client and its connections."""
        await self._client.aclose()

    # ---- retries

    def _retry_delay(self, attempt: int, error: ProviderError) -> float | None:
        """Seconds to wait before retry ``attempt`` (0-based), or None to give up."""
        if not error.retryable or attempt >= self.max_retries:
            return None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return retry_after if retry_after <= MAX_RETRY_AFTER else None
        base = min(8.0, 0.5 * 2**attempt)
        return base * (1.0 - 0.25 * random.random())

    # ---- requests

    async def _request_json(self, method: str, path: str, *, json_body: Any = None,
                            params: Mapping[str, Any] | None = None) -> Any:
        """One JSON request with retries; returns the decoded body."""
        key = self._require_key()
        headers = self._auth_headers(key)
        url = self.base_url + path
        attempt = 0
        while True:
            try:
                response = await self._client.request(method, url, json=json_body, params=params, headers=headers)
                if response.status_code >= 400:
                    raise error_from_response(self.label, response.status_code, response.headers,
                                              response.content, self._secret)
                return response.json()
            except ProviderError as exc:
                error, cause = exc, exc.__cause__
            except httpx.HTTPError as exc:
                error, cause = error_from_transport(self.label, self.base_url, exc), exc
            except httpx.InvalidURL as exc:
                raise self._bad_url() from exc
            except ValueError as exc:
                raise ProviderError(f"{self.label} sent a reply that is not JSON.", provider=self.name) from exc
            delay = self._retry_delay(attempt, error)
            if delay is None:
                raise error from cause
            await self._wait_to_retry(delay, error)
            attempt += 1

    async def _stream(self, path: str, payload: Mapping[str, Any],
                      make_parser: Callable[[], StreamParser]) -> AsyncIterator[StreamEvent]:
        """POST ``payload`` and yield the parsed events, retrying only before the first event."""
        key = self._require_key()
        headers = self._auth_headers(key)
        url = self.base_url + path
        body = encode_body(payload)
        headers["content-type"] = "application/json"
        attempt = 0
        while True:
            parser = make_parser()
            started = False
            watch = _Watchdog(self.timeouts.first_byte, "first_byte")
            watch.start()
            try:
                watch.wait()
                async with self._client.stream("POST", url, content=body, headers=headers,
                                               timeout=self._stream_timeout,
                                               extensions=self._sent_trace()) as response:
                    if response.status_code >= 400:
                        await response.aread()
                        raise error_from_response(self.label, response.status_code, response.headers,
                                                  response.content, self._secret)
                    first = True
                    async for chunk in response.aiter_bytes():
                        watch.since = None
                        if first:
                            first = False
                            watch.switch(self.timeouts.read, "read")
                        events = parser.feed(chunk)
                        if events:
                            started = True
                            for event in events:
                                yield event
                            if parser.error is not None:
                                raise parser.error
                        watch.wait()
                    watch.since = None
                    for event in parser.finish():
                        started = True
                        yield event
                    if parser.error is not None:
                        raise parser.error
                return
            except asyncio.CancelledError:
                if not watch.fired or watch.task is None or watch.task.uncancel() > 0:
                    raise  # not ours, or cancelled from outside as well
                error = self._silence(watch)
                cause = None
            except ProviderError as exc:
                error, cause = exc, exc.__cause__
            except httpx.HTTPError as exc:
                error, cause = error_from_transport(self.label, self.base_url, exc), exc
            except httpx.InvalidURL as exc:
                raise self._bad_url() from exc
            finally:
                watch.stop()
            if started:
                raise self._interrupted(error, parser) from error
            delay = self._retry_delay(attempt, error)
            if delay is None:
                raise error from cause
            await self._wait_to_retry(delay, error)
            attempt += 1

    def _silence(self, watch: _Watchdog) -> ProviderTimeoutError:
        """The error for a wait the watchdog cut short (not retried: waiting again would double it)."""
        first = watch.phase == "first_byte"
        what = "begun to answer" if first else "sent more of its reply"
        error = ProviderTimeoutError(
            f"{self.label} at {safe_url(self.base_url)} had not {what} after {watch.limit:g} s "
            f"(the {watch.phase} timeout).",
            provider=self.name, error_type=f"{watch.phase}_timeout",
        )
        error.retryable = False
        return error

    def _interrupted(self, error: ProviderError, parser: StreamParser) -> StreamInterruptedError:
        if isinstance(error, StreamInterruptedError):
            return error
        partial = "".join(parser.text)
        return StreamInterruptedError(
            scrub(f"The {self.label} reply broke off after it began: {error.message}", self._secret),
            partial_text=partial,
            provider=self.name,
            status_code=error.status_code,
            error_type=error.error_type or type(error).__name__,
        )

    def _bad_url(self) -> ConfigError:
        return ConfigError(
            f"The {self.label} base URL {safe_url(self.base_url)!r} is not a valid URL; correct it in the "
            "settings or its environment variable."
        )

    def _premature_end(self) -> ProviderConnectionError:
        return ProviderConnectionError(
            f"The {self.label} stream ended before the reply was complete.", provider=self.name
        )

    def _malformed(self, detail: str) -> ProviderError:
        return ProviderError(
            f"{self.label} sent malformed stream data ({detail}).", provider=self.name, error_type="malformed_stream"
        )
