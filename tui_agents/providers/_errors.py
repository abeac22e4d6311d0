"""Mapping of HTTP statuses, provider error bodies and transport failures to typed errors."""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from typing import Any

import httpx

from ..errors import (
    AuthenticationError,
    BadRequestError,
    ContextTooLongError,
    ModelNotFoundError,
    OverloadedError,
    ProviderConnectionError,
    ProviderError,
    ProviderPermissionError,
    ProviderTimeoutError,
    RateLimitedError,
    ServerError,
)
from ..secrets import env_var_for

__all__ = ["error_from_response", "error_from_payload", "error_from_transport", "parse_retry_after", "scrub",
           "safe_url"]

_CONTEXT_MARKERS = (
    "context_length_exceeded",
    "prompt is too long",
    "maximum context length",
    "context length",
    "context window",
    "too many tokens",
    "input length",
    "reduce the length",
)

_TYPE_CLASSES: dict[str, type[ProviderError]] = {
    "authentication_error": AuthenticationError,
    "invalid_api_key": AuthenticationError,
    "permission_error": ProviderPermissionError,
    "not_found_error": ModelNotFoundError,
    "model_not_found": ModelNotFoundError,
    "rate_limit_error": RateLimitedError,
    "rate_limit_exceeded": RateLimitedError,
    "overloaded_error": OverloadedError,
    "api_error": ServerError,
    "server_error": ServerError,
    "invalid_request_error": BadRequestError,
    "request_too_large": BadRequestError,
}

_KIND = {
    AuthenticationError: "rejected the API key",
    ProviderPermissionError: "refused access",
    ModelNotFoundError: "does not know that model",
    BadRequestError: "rejected the request",
    ContextTooLongError: "says the conversation is too long for the model",
    RateLimitedError: "is rate limiting requests",
    OverloadedError: "is overloaded",
    ServerError: "had a server error",
}


def scrub(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` replaced by ``***``."""
    if secret and len(secret) >= 4 and secret in text:
        text = text.replace(secret, "***")
    return text


def safe_url(url: str) -> str:
    """``url`` without its ``user:password@`` part, query and fragment, for messages and reprs.

    Parsed with ``httpx.URL``. Text that does not parse (``http://user:pa/ss@host``
    is not a valid URL) loses everything up to its last ``@``, since a password
    may hold ``/``, ``:`` or ``#``.
    """
    try:
        parsed: httpx.URL | None = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        parsed = None
    if parsed is not None and parsed.scheme and parsed.host:
        return str(parsed.copy_with(userinfo=b"", query=None, fragment=None))
    scheme, sep, rest = str(url).partition("://")
    if not sep:
        scheme, rest = "", scheme
    rest = rest.rpartition("@")[2].partition("?")[0].partition("#")[0]
    return f"{scheme}{sep}{rest}"


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date), if any."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _body_details(body: bytes) -> tuple[str | None, str | None]:
    """The provider's own message and error type/code from an error body of any of the three shapes."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        text = body.decode("utf-8", "replace").strip()
        return (text[:300] or None), None
    if not isinstance(data, dict):
        return None, None
    error = data.get("error", data)
    if isinstance(error, str):  # Ollama: {"error": "..."}
        return error, None
    if isinstance(error, dict):
        message = error.get("message")
        etype = error.get("code") or error.get("type")
        return (str(message) if message is not None else None), (str(etype) if etype else None)
    return None, None


def _class_for(status: int | None, etype: str | None, message: str) -> type[ProviderError]:
    lowered = f"{etype or ''} {message}".lower()
    maybe_context = status in (400, 413, 422) or (status is None and etype in ("invalid_request_error", None))
    if maybe_context and any(marker in lowered for marker in _CONTEXT_MARKERS):
        return ContextTooLongError
    if status == 401:
        return AuthenticationError
    if status == 403:
        return ProviderPermissionError
    if status == 404:
        return ModelNotFoundError
    if status == 429:
        return RateLimitedError
    if status == 529 or etype == "overloaded_error":
        return OverloadedError
    if status in (408,):
        return ProviderTimeoutError
    if status is not None and (status >= 500 or status == 409):
        return ServerError
    if status is not None and status >= 400:
        return BadRequestError
    return _TYPE_CLASSES.get(etype or "", ProviderError)


def _build(cls: type[ProviderError], label: str, status: int | None, etype: str | None, message: str,
           secret: str | None, retry_after: float | None = None) -> ProviderError:
    what = _KIND.get(cls, "failed")
    code = f" ({status})" if status else ""
    text = scrub(f"{label} {what}{code}: {message}".rstrip(": "), secret)
    if cls is AuthenticationError:
        name = label.lower()
        if not secret:  # no key was sent (e.g. a local OpenAI-compatible server that wants one after all)
            text = scrub(f"The {label} server wants an API key{code}: {message}".rstrip(": "), secret)
        text = text.rstrip(".") + f". Check {env_var_for(name)} or run `aiagents-tui keys set {name}`."
    kwargs: dict[str, Any] = {"provider": label.lower(), "status_code": status, "error_type": etype}
    if cls is RateLimitedError:
        return RateLimitedError(text, retry_after=retry_after, **kwargs)
    return cls(text, **kwargs)


def error_from_response(label: str, status: int, headers: Mapping[str, str], body: bytes,
                        secret: str | None = None) -> ProviderError:
    """The typed error for an HTTP error response, keeping the provider's own message."""
    message, etype = _body_details(body)
    cls = _class_for(status, etype, message or "")
    retry_after = parse_retry_after(headers)
    error = _build(cls, label, status, etype, message or f"HTTP {status}", secret, retry_after)
    if not isinstance(error, RateLimitedError):
        error.retry_after = retry_after  # type: ignore[attr-defined]  # 503/529 may carry it too
    # OpenAI answers 429 for an exhausted quota too; waiting will not help.
    if etype == "insufficient_quota":
        error.retryable = False
    should_retry = headers.get("x-should-retry")
    if should_retry in ("true", "false"):
        error.retryable = should_retry == "true"
    return error


def error_from_payload(label: str, error: Any, secret: str | None = None) -> ProviderError:
    """The typed error for an error sent inside a stream (Anthropic ``event: error``, Ollama/OpenAI ``error``)."""
    if isinstance(error, dict):
        message = str(error.get("message") or json.dumps(error))
        etype = error.get("type") or error.get("code")
        etype = str(etype) if etype else None
    else:
        message, etype = str(error), None
    cls = _TYPE_CLASSES.get(etype or "")
    if cls is None or cls is BadRequestError:
        cls = _class_for(None, etype, message)
    if cls is ProviderError and "overloaded" in message.lower():
        cls = OverloadedError
    return _build(cls, label, None, etype, message, secret)


def error_from_transport(label: str, url: str, exc: httpx.HTTPError) -> ProviderError:
    """The typed error for a connection failure or timeout (the URL loses any credentials)."""
    url = safe_url(url)
    if isinstance(exc, httpx.TimeoutException):
        connect = isinstance(exc, httpx.ConnectTimeout)
        phase = "connect to" if connect else "get an answer from"
        error = ProviderTimeoutError(f"Timed out trying to {phase} {label} at {url}.", provider=label.lower())
        error.retryable = connect  # waiting for an answer again would multiply the wait
        return error
    if isinstance(exc, httpx.ConnectError):
        hint = " Is `ollama serve` running?" if label == "Ollama" else " Check the network and the base URL."
        return ProviderConnectionError(f"Could not connect to {label} at {url}.{hint}", provider=label.lower())
    return ProviderConnectionError(
        f"The connection to {label} at {url} failed ({type(exc).__name__}).", provider=label.lower()
    )
