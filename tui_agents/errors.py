"""Typed errors for the whole engine.

Every error the engine raises on purpose derives from ``AgentError``. Messages
are one plain sentence: what happened and what to do. They never contain an API
key, a header or a request object.

    AgentError
    ├── NotFoundError                 a record (agent, thread, message, job...) does not exist
    ├── PermissionDeniedError         the user lacks the role for an action
    ├── InvalidArgumentError          bad input (e.g. a message that is not in that thread)
    │   ├── ImageError                an image cannot be sent (unknown type, unreadable)
    │   │   └── ImageTooLargeError    over the API's size limit (carries ``size`` and ``limit``)
    │   └── CapabilityError           the model cannot do what was asked (see images, call tools)
    ├── SchemaError                   the database was written by a newer version
    ├── StoreError                    the database failed (disk full, locked too long...)
    ├── ConfigError                   bad or missing configuration
    │   └── MissingAPIKeyError        no key in the argument, env var or keyring
    ├── ToolError                     a tool could not be found or run
    │   ├── ToolDefinitionError       a function or class cannot be made a tool (also a TypeError)
    │   └── MCPServerError            an MCP server failed to start or stopped (carries ``stderr_tail``)
    ├── GuardrailBlockedError         the guardrail refused a user message
    └── ProviderError                 anything from a model provider
        ├── AuthenticationError       401
        ├── ProviderPermissionError   403
        ├── ModelNotFoundError        404 / unknown model
        ├── BadRequestError           400 / 422
        │   └── ContextTooLongError   the prompt does not fit the model's window
        ├── RateLimitedError          429 (carries ``retry_after`` seconds)
        ├── OverloadedError           529 / overloaded_error
        ├── ServerError               5xx
        ├── ProviderConnectionError   could not connect / connection dropped before a reply
        ├── ProviderTimeoutError      no answer in time
        ├── StreamLineTooLongError    one line of a stream is longer than the decoder's cap
        └── StreamInterruptedError    the stream broke after it began (carries ``partial_text``)
"""

from __future__ import annotations

__all__ = [
    "AgentError",
    "NotFoundError",
    "PermissionDeniedError",
    "InvalidArgumentError",
    "ImageError",
    "ImageTooLargeError",
    "CapabilityError",
    "SchemaError",
    "StoreError",
    "ConfigError",
    "MissingAPIKeyError",
    "ToolError",
    "ToolDefinitionError",
    "MCPServerError",
    "GuardrailBlockedError",
    "ProviderError",
    "AuthenticationError",
    "ProviderPermissionError",
    "ModelNotFoundError",
    "BadRequestError",
    "ContextTooLongError",
    "RateLimitedError",
    "OverloadedError",
    "ServerError",
    "ProviderConnectionError",
    "ProviderTimeoutError",
    "StreamLineTooLongError",
    "StreamInterruptedError",
]


class AgentError(Exception):
    """Base class of every error the engine raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFoundError(AgentError):
    """A record that was asked for does not exist."""


class PermissionDeniedError(AgentError):
    """The user has no role that allows the action."""


class InvalidArgumentError(AgentError, ValueError):
    """An argument is malformed or inconsistent."""


class ImageError(InvalidArgumentError):
    """An image cannot be attached or sent: not PNG/JPEG/GIF/WebP, unreadable, or over the API's size limit."""


class ImageTooLargeError(ImageError):
    """An image is over the API's size limit; ``size`` and ``limit`` are in bytes (``images.shrink_image`` helps)."""

    def __init__(self, message: str, *, size: int, limit: int) -> None:
        super().__init__(message)
        self.size = size
        self.limit = limit


class CapabilityError(InvalidArgumentError):
    """The model lacks a capability the request needs (vision for images, tool calling for tools)."""


class SchemaError(AgentError):
    """The database schema cannot be used by this version."""


class StoreError(AgentError):
    """The database failed in a way that is not the caller's fault (disk full, locked too long...)."""


class ConfigError(AgentError):
    """Configuration is missing or invalid."""


class MissingAPIKeyError(ConfigError):
    """No API key could be found for a provider."""


class ToolError(AgentError):
    """A tool is unknown or failed in a way that is not the model's fault."""


class ToolDefinitionError(ToolError, TypeError):
    """A function or class cannot be made a tool (e.g. ``*args``, a generator, a type JSON cannot describe)."""


class MCPServerError(ToolError):
    """An MCP server failed to start or stopped; ``stderr_tail`` holds its last output (stdio servers),
    ``reason`` the message without that output (for a display that shows the tail itself)."""

    def __init__(self, message: str, *, server: str | None = None, stderr_tail: str = "",
                 reason: str | None = None) -> None:
        super().__init__(message)
        self.server = server
        self.stderr_tail = stderr_tail
        self.reason = reason or message


class GuardrailBlockedError(AgentError):
    """The guardrail blocked a user message; it never reached the model."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason


class ProviderError(AgentError):
    """An error from a model provider, with its own message kept."""

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status_code: int | None = None,
        error_type: str | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.status_code = status_code
        self.error_type = error_type


class AuthenticationError(ProviderError):
    """The API key is missing, wrong or revoked."""


class ProviderPermissionError(ProviderError):
    """The key is valid but may not use this resource."""


class ModelNotFoundError(ProviderError):
    """The model name is unknown to the provider."""


class BadRequestError(ProviderError):
    """The provider rejected the request as malformed."""


class ContextTooLongError(BadRequestError):
    """The prompt is longer than the model's context window."""


class RateLimitedError(ProviderError):
    """Too many requests or tokens; ``retry_after`` says how long to wait (seconds)."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class OverloadedError(ProviderError):
    """The provider is temporarily overloaded."""

    retryable = True


class ServerError(ProviderError):
    """The provider failed with a 5xx status."""

    retryable = True


class ProviderConnectionError(ProviderError):
    """The provider could not be reached."""

    retryable = True


class ProviderTimeoutError(ProviderError):
    """The provider did not answer in time."""

    retryable = True


class StreamLineTooLongError(ProviderError):
    """A single line of a streamed reply passed the size cap (16 MiB unless set otherwise)."""


class StreamInterruptedError(ProviderError):
    """A stream broke after it had begun; ``partial_text`` is what arrived."""

    def __init__(self, message: str, *, partial_text: str = "", **kw) -> None:
        super().__init__(message, **kw)
        self.partial_text = partial_text
