"""The ``Tool`` base class, its run loop, and the values it takes and returns.

``Tool.run`` is the one way the runner calls a tool: it validates the model's
arguments, injects a ``ToolContext`` where a tool asks for one, enforces the
timeout, runs sync code off the event loop, and turns every failure of the tool
into an error result for the model instead of raising.

A timeout ends the wait even for a tool that swallows its cancellation, and sync
tools run in daemon threads, so a tool that never ends holds neither the turn
nor the process at exit: it is cancelled (or, in a thread, left) behind.
"""

from __future__ import annotations

import abc
import asyncio
import contextvars
import json
import logging
import re
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic_core import to_json

from ..errors import AgentError, ToolError
from ..types import ToolDefinition
from .schema import ArgumentsError, SignatureSchema, check_arguments, context_params

__all__ = [
    "Tool", "ToolContext", "ToolResult", "ToolStatus", "ToolDefinition", "WaitExpired",
    "run_in_daemon_thread", "validate_tool_name", "wait_or_abandon",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

# asyncio keeps only weak references to tasks: an abandoned tool task lives here until it ends.
_abandoned: set[asyncio.Future[Any]] = set()


class WaitExpired(TimeoutError):
    """``wait_or_abandon`` gave up waiting (told apart from a tool's own ``TimeoutError``)."""


async def wait_or_abandon(work: Awaitable[T], timeout: float | None) -> T:
    """Await ``work`` for at most ``timeout`` seconds, then cancel it and raise ``WaitExpired`` at once.

    Unlike ``asyncio.wait_for`` it never waits for the cancelled work to end, so
    work that swallows its cancellation cannot hold the caller; the same holds
    when the caller itself is cancelled.
    """
    task = asyncio.ensure_future(work)
    try:
        await asyncio.wait({task}, timeout=timeout)
    except BaseException:
        _abandon(task)
        raise
    if not task.done():
        _abandon(task)
        raise WaitExpired
    return task.result()


def _abandon(task: asyncio.Future[Any]) -> None:
    task.cancel()
    _abandoned.add(task)
    task.add_done_callback(_forget)


def _forget(task: asyncio.Future[Any]) -> None:
    _abandoned.discard(task)
    if not task.cancelled() and task.exception() is not None:  # retrieved, so asyncio does not log it
        log.debug("an abandoned tool call ended with %r", task.exception())


async def run_in_daemon_thread(func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run a blocking function in a new daemon thread and await its result.

    Unlike ``asyncio.to_thread``, whose pool is joined at loop and interpreter
    exit, a call that never returns does not keep the process alive.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    context = contextvars.copy_context()

    def settle(value: Any, error: BaseException | None) -> None:
        if future.done():  # the caller gave up (timeout or cancellation)
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    def work() -> None:
        try:
            outcome: tuple[Any, BaseException | None] = (context.run(func, *args, **kwargs), None)
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
            outcome = (None, exc)
        try:
            loop.call_soon_threadsafe(settle, *outcome)
        except RuntimeError:  # the loop has closed meanwhile: nobody is waiting
            pass

    threading.Thread(target=work, name=f"tool-{getattr(func, '__name__', 'call')}", daemon=True).start()
    return await future


ToolStatus = Literal["ok", "error", "timeout"]

# What Anthropic and OpenAI both accept as a tool name.
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def validate_tool_name(name: Any) -> str:
    """Return ``name`` if providers accept it as a tool name, else raise ``ToolError``."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ToolError(
            f"Tool name {name!r} is not valid; use 1 to 64 letters, digits, underscores or hyphens."
        )
    return name


@dataclass(frozen=True)
class ToolContext:
    """What a tool may need from the running turn: the database connection, the user and the thread.

    A tool receives it by declaring a parameter annotated ``ToolContext``; that
    parameter is hidden from the model's schema.
    """

    conn: Any = None
    user_id: str | None = None
    thread_id: str | None = None


@dataclass(frozen=True)
class ToolResult:
    """The outcome of one tool call: the text for the model, and how it went."""

    content: str
    is_error: bool = False
    status: ToolStatus = "ok"
    duration_ms: float = 0.0


class Tool(abc.ABC):
    """A tool the model can call. Subclass it, set ``name`` and ``description``, write ``execute``.

    The JSON schema comes from ``execute``'s signature and type hints unless
    ``get_definition`` is overridden; then arguments are checked against that
    schema's required keys and basic types before ``execute`` runs.
    """

    name: str = ""
    description: str = ""
    #: Seconds before a call is abandoned with a ``timeout`` result; ``None`` waits forever.
    timeout: float | None = 30.0
    #: Longer results are cut to this many characters, so one call cannot flood the context.
    max_output_chars: int = 100_000

    _signature_schema: SignatureSchema | None = None

    @abc.abstractmethod
    async def execute(self, **kwargs: Any) -> Any:
        """Do the work; the return value is sent to the model (JSON-encoded unless a str)."""

    def get_definition(self) -> ToolDefinition:
        """What the model is told about this tool."""
        return ToolDefinition(
            name=self.name, description=self.description, parameters=self._schema().parameters
        )

    async def run(self, arguments: Mapping[str, Any] | str | None, context: ToolContext | None = None) -> ToolResult:
        """Validate, call and time the tool; never raises for the tool's own failures."""
        started = time.perf_counter()

        def result(content: str, status: ToolStatus) -> ToolResult:
            elapsed = (time.perf_counter() - started) * 1000
            return ToolResult(content, is_error=status != "ok", status=status, duration_ms=elapsed)

        try:
            args, kwargs = self._bind(_as_mapping(arguments), context)
        except ArgumentsError as exc:
            return result(f"Invalid arguments for tool '{self.name}': {exc}", "error")
        except Exception as exc:  # a broken tool definition, e.g. an unsupported parameter type
            log.warning("tool %s could not be called: %s: %s", self.name, type(exc).__name__, exc)
            return result(self._failure_text(exc), "error")
        timeout = self.timeout
        try:
            value = await wait_or_abandon(self._call(args, kwargs), timeout)
        except WaitExpired:
            return result(f"Tool '{self.name}' timed out after {timeout:g} seconds.", "timeout")
        except Exception as exc:  # the model gets the failure (even a TimeoutError of its own) as a result
            log.info("tool %s failed: %s: %s", self.name, type(exc).__name__, exc)
            return result(self._failure_text(exc), "error")
        return result(self._to_text(value), "ok")

    # --- helpers a subclass may override ---

    def _bind(self, arguments: Mapping[str, Any], context: ToolContext | None) -> tuple[list[Any], dict[str, Any]]:
        """Validate the arguments and build the call, injecting the context where asked for."""
        if type(self).get_definition is Tool.get_definition:
            schema = self._schema()
            names, required = schema.context_params, schema.context_required
            args, kwargs = schema.bind(arguments, context)
        else:
            # A hand-written schema: check it, and pass the arguments on by name.
            names, required = context_params(self.execute, ToolContext)
            check_arguments(arguments, self.get_definition().parameters)
            args, kwargs = [], {**arguments, **{name: context for name in names}}
        if required and context is None:
            raise ArgumentsError("this tool needs the conversation's database and user, which were not given.")
        return args, kwargs

    async def _call(self, args: list[Any], kwargs: dict[str, Any]) -> Any:
        return await self.execute(*args, **kwargs)

    def _schema(self) -> SignatureSchema:
        if self._signature_schema is None:
            self._signature_schema = SignatureSchema(
                self.execute, model_name=f"{self.name or type(self).__name__}_arguments", context_type=ToolContext
            )
        return self._signature_schema

    def _failure_text(self, exc: BaseException) -> str:
        # Our typed errors carry a sentence written for a reader; other exceptions keep their type.
        detail = str(exc) if isinstance(exc, AgentError) else f"{type(exc).__name__}: {exc}"
        return f"Tool '{self.name}' failed: {detail}"

    def _to_text(self, value: Any) -> str:
        if isinstance(value, str):
            text = value
        elif isinstance(value, bytes):
            text = value.decode("utf-8", errors="replace")
        else:
            text = to_json(value, fallback=str).decode()
        if len(text) > self.max_output_chars:
            omitted = len(text) - self.max_output_chars
            text = text[: self.max_output_chars] + f"\n[output truncated: {omitted} more characters]"
        return text

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def _as_mapping(arguments: Mapping[str, Any] | str | None) -> Mapping[str, Any]:
    """Accept a dict, a JSON object string or nothing; anything else is the model's mistake."""
    if arguments is None:
        return {}
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except ValueError:
            raise ArgumentsError("the arguments are not valid JSON") from None
    if not isinstance(arguments, Mapping):
        raise ArgumentsError("the arguments must be a JSON object")
    return arguments

