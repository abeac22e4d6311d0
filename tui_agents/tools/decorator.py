"""The ``@tool`` decorator: a plain function becomes a tool the model can call.

    @tool(description="Get current weather for a city")
    async def get_weather(city: Annotated[str, Field(description="City name")]) -> str:
        ...

The JSON schema is built from the signature and type hints with pydantic
(``Annotated[..., Field(description=...)]`` gives a parameter its description;
defaults, ``X | None``, ``Literal``, ``Enum`` and ``list[...]`` all work). The
function is registered in the global registry under its name and returned
unchanged, so it stays callable as before; its tool is ``func.tool``.
Registering a name that is already taken replaces the earlier tool: a user's
``calculate`` wins over the builtin one.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar, overload

from ..errors import ToolDefinitionError
from .base import Tool, ToolContext, run_in_daemon_thread, validate_tool_name
from .schema import SignatureSchema

__all__ = ["FunctionTool", "tool"]

F = TypeVar("F", bound=Callable[..., Any])


class FunctionTool(Tool):
    """A tool made from a function by ``@tool``."""

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = 30.0,
    ) -> None:
        if inspect.isasyncgenfunction(func) or inspect.isgeneratorfunction(func):
            raise ToolDefinitionError(f"The tool function {func.__qualname__} yields; a tool must return its result.")
        self.func = func
        self.name = validate_tool_name(name or func.__name__)
        self.description = (description if description is not None else _first_paragraph(func)).strip()
        self.timeout = timeout
        self.is_async = inspect.iscoroutinefunction(func)
        self._signature_schema = SignatureSchema(
            func, model_name=f"{self.name}_arguments", context_type=ToolContext
        )

    async def execute(self, **kwargs: Any) -> Any:
        """Call the function with keyword arguments (sync functions run in a worker thread)."""
        return await self._call([], kwargs)

    async def _call(self, args: list[Any], kwargs: dict[str, Any]) -> Any:
        if self.is_async:
            return await self.func(*args, **kwargs)
        # Sync code runs in a thread so a slow tool cannot stall the event loop. On timeout the
        # thread is abandoned, not killed (Python cannot stop it); a daemon thread, so exit is not delayed.
        value = await run_in_daemon_thread(self.func, *args, **kwargs)
        if inspect.isawaitable(value):
            value = await value
        return value


def _first_paragraph(func: Callable[..., Any]) -> str:
    doc = inspect.getdoc(func) or ""
    return doc.split("\n\n", 1)[0].replace("\n", " ")


@overload
def tool(func: F, /) -> F: ...


@overload
def tool(
    *,
    description: str | None = None,
    name: str | None = None,
    timeout: float | None = 30.0,
    register: bool = True,
) -> Callable[[F], F]: ...


def tool(
    func: Callable[..., Any] | None = None,
    /,
    *,
    description: str | None = None,
    name: str | None = None,
    timeout: float | None = 30.0,
    register: bool = True,
) -> Any:
    """Make a function a tool: build its schema, register it, and return the function unchanged.

    ``description`` defaults to the docstring's first paragraph, ``name`` to the
    function's name; ``timeout`` is in seconds (``None``: no limit). With
    ``register=False`` the tool is only attached as ``func.tool``.
    """

    def decorate(fn: F) -> F:
        built = FunctionTool(fn, name=name, description=description, timeout=timeout)
        fn.tool = built  # type: ignore[attr-defined]
        if register:
            from .registry import register_tool

            register_tool(built)
        return fn

    if func is not None:
        return decorate(func)
    return decorate
