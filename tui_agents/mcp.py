"""MCP servers as tools, through the official ``mcp`` SDK (the ``mcp`` extra).

    files = MCPServer("files", command="npx", args=["-y", "@modelcontextprotocol/server-filesystem", "/notes"])
    agent = Agent(role="...", tools=[files])   # started on first use, stopped by agent.aclose()

    async with MCPServer("search", url="http://127.0.0.1:8931/mcp") as search:
        tools = await search.load_tools()

A server contributes one ``MCPTool`` per tool it lists, named ``<server>__<tool>``
on the wire (cut to the providers' 64-character rule). A call never raises into
the turn: an MCP error, a timeout or a server that died become error results,
and a server that cannot start raises ``MCPServerError`` (with the tail of its
stderr) from ``start``/``load_tools``, which the runner reports and goes on
without its tools.

A server that stopped (crashed, or its HTTP endpoint went away) is started
again at its next use: by ``load_tools`` (the runner's once per turn), and by
one call in between. One that could not start stays failed until ``retry()``.
Each failure is logged once, as a warning, with its env and header values masked.

One background task owns each connection: the SDK's transports are anyio task
groups that must be entered and left by the same task, while turns call tools
from tasks of their own.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import importlib.util
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import IO, Any

from .errors import ConfigError, InvalidArgumentError, MCPServerError
from .tools.base import Tool, ToolContext, ToolResult, ToolStatus
from .types import ToolDefinition

if importlib.util.find_spec("mcp") is None:  # checked without importing the SDK: it is slow to import
    raise ImportError("MCP servers need the optional 'mcp' package: pip install 'tui-agents[mcp]'.")

__all__ = [
    "MCPServer", "MCPTool", "MCPToolResult", "MCPServerError", "wire_name", "expand_env", "servers_from_config",
]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0
MAX_NAME = 64
_BAD_CHARS = re.compile(r"[^A-Za-z0-9_-]")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_STDERR_TAIL_BYTES = 4000
_MASK = "****"
_MIN_SECRET = 8  # shorter values ("warn", "1") are not tokens, and masking them would garble the text
_STOP_GRACE = 10.0  # the SDK's own shutdown is bounded by ~6 s (close stdin, SIGTERM, SIGKILL)


def wire_name(server: str, tool: str, taken: Iterable[str] = ()) -> str:
    """``<server>__<tool>`` as providers accept it: invalid characters become ``_``, cut to 64, unique in ``taken``."""
    name = _BAD_CHARS.sub("_", f"{server}__{tool}")
    taken = set(taken)
    if len(name) <= MAX_NAME and name not in taken:
        return name
    # A cut or clash keeps a readable start and adds a hash of the full name, so it stays unique and stable.
    digest = hashlib.sha1(f"{server}\0{tool}".encode()).hexdigest()
    for width in range(8, 41):
        candidate = f"{name[: MAX_NAME - width - 1]}_{digest[:width]}"
        if candidate not in taken:
            return candidate
    raise InvalidArgumentError(f"Cannot give the tool {tool!r} of server {server!r} a unique name.")


def expand_env(value: str, server: str) -> str:
    """Replace ``${VAR}`` by the environment variable's value; a missing one is a ``ConfigError`` naming it."""

    def one(match: re.Match[str]) -> str:
        var = match.group(1)
        if var not in os.environ:
            raise ConfigError(f"The MCP server {server!r} needs the environment variable {var}, which is not set.")
        return os.environ[var]

    return _ENV_REF.sub(one, value)


def _as_arguments(arguments: Mapping[str, Any] | str | None) -> dict[str, Any]:
    """The model's arguments as a dict: a JSON object string, a mapping or nothing."""
    if arguments is None:
        return {}
    if isinstance(arguments, str):
        arguments = json.loads(arguments) if arguments.strip() else {}
    if not isinstance(arguments, Mapping):
        raise ValueError("the arguments must be a JSON object")
    return dict(arguments)


def _block_text(block: Any) -> str:
    """One content block of a result as text for the model."""
    kind = getattr(block, "type", "")
    if kind == "text":
        return block.text
    if kind in ("image", "audio"):
        size = len(block.data) * 3 // 4
        return f"[{kind} {block.mime_type}, {size:,} bytes]"
    if kind == "resource_link":
        return f"[resource {block.uri}" + (f" ({block.name})" if getattr(block, "name", None) else "") + "]"
    if kind == "resource":
        resource = block.resource
        text = getattr(resource, "text", None)
        if text is not None:
            return text
        return f"[resource {resource.uri}, {getattr(resource, 'mime_type', None) or 'binary'}]"
    return f"[{kind or 'unknown'} content]"


_Images = tuple[tuple[str, bytes], ...]


def result_images(result: Any) -> _Images:
    """The images of a ``CallToolResult`` as (MIME type, bytes); undecodable ones are left out."""
    images = []
    for block in result.content:
        if getattr(block, "type", "") == "image":
            try:
                images.append((block.mime_type, base64.b64decode(block.data, validate=True)))
            except (binascii.Error, ValueError):
                log.info("An MCP image result was not valid base64; it is described in text only.")
    return tuple(images)


@dataclass(frozen=True)
class MCPToolResult(ToolResult):
    """A ``ToolResult`` that also carries the call's images as (MIME type, bytes).

    The text names each image (``[image image/png, 68 bytes]``); the bytes are
    here for a runner and provider that can send images in tool results.
    """

    images: _Images = ()


def result_text(result: Any) -> str:
    """A ``CallToolResult`` as the text the model gets: its blocks, plus its structured content as JSON
    unless a text block already carries it."""
    parts = [_block_text(block) for block in result.content]
    structured = result.structured_content
    if structured is not None and not _carried(structured, result.content):
        # The spec asks servers to mirror structured output in a text block; when one does not, send the JSON.
        parts.append(json.dumps(structured, ensure_ascii=False))
    return "\n".join(parts)


def _carried(structured: Any, blocks: Sequence[Any]) -> bool:
    """Whether a text block says what ``structured`` says: the same JSON, or the value the SDK wrapped
    as ``{"result": value}`` (a tool that returns a plain string or number)."""
    wanted = [structured]
    if isinstance(structured, dict) and list(structured) == ["result"]:
        wanted.append(structured["result"])
    for block in blocks:
        text = getattr(block, "text", None) if getattr(block, "type", "") == "text" else None
        if text is None:
            continue
        if text in wanted:
            return True
        try:
            if json.loads(text) in wanted:
                return True
        except ValueError:
            continue
    return False


class MCPTool(Tool):
    """One tool of an MCP server, callable by the model like any other tool."""

    def __init__(self, server: "MCPServer", name: str, remote_name: str, description: str,
                 parameters: Mapping[str, Any]) -> None:
        self.server = server
        self.server_name = server.name
        self.remote_name = remote_name
        self.name = name
        self.description = description
        self.parameters = dict(parameters) or {"type": "object", "properties": {}}
        self.parameters.setdefault("type", "object")
        self.timeout = server.timeout

    def get_definition(self) -> ToolDefinition:
        """The server's own schema, under the wire name."""
        return ToolDefinition(name=self.name, description=self.description, parameters=self.parameters)

    async def execute(self, **kwargs: Any) -> Any:
        """Call the tool on its server and return its text (an error result raises ``MCPServerError``)."""
        result = await self.run(kwargs)
        if result.is_error:
            raise MCPServerError(result.content, server=self.server_name)
        return result.content

    async def run(self, arguments: Mapping[str, Any] | str | None, context: ToolContext | None = None) -> ToolResult:
        """Call the server; every failure (bad arguments, MCP error, timeout, dead server) is an error result."""
        started = time.perf_counter()
        try:
            args = _as_arguments(arguments)
        except ValueError as exc:
            return MCPToolResult(f"Invalid arguments for tool '{self.name}': {exc}", True, "error",
                              (time.perf_counter() - started) * 1000)
        text, status, images = await self.server.call(self.remote_name, args)
        return MCPToolResult(text, status != "ok", status, (time.perf_counter() - started) * 1000, images)

    def __repr__(self) -> str:
        return f"<MCPTool {self.name!r} of {self.server_name!r}>"


class MCPServer:
    """An MCP server over stdio (``command``) or streamable HTTP (``url``), started on first use.

    ``tools`` keeps a subset of the server's tools (by their own names);
    ``timeout`` bounds each call in seconds. Use it in ``tools=[...]`` of an
    ``Agent`` or ``AgentRunner``, or as an async context manager.
    """

    def __init__(
        self,
        name: str,
        *,
        command: str | None = None,
        args: Sequence[str] | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        url: str | None = None,
        headers: Mapping[str, str] | None = None,
        tools: Sequence[str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        start_timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise InvalidArgumentError("An MCP server needs a name.")
        if (command is None) == (url is None):
            raise InvalidArgumentError(f"The MCP server {name!r} needs either a command (stdio) or a url (HTTP), "
                                       "not both.")
        if timeout <= 0 or start_timeout <= 0:
            raise InvalidArgumentError("MCP timeouts must be positive numbers of seconds.")
        self.name = name
        self.command = command
        self.args = list(args or [])
        self.env = dict(env) if env is not None else None
        self.cwd = os.fspath(cwd) if cwd is not None else None
        self.url = url
        self._headers = dict(headers or {})  # may hold tokens: kept out of repr and errors
        self.only = list(tools) if tools is not None else None
        self.timeout = float(timeout)
        self.start_timeout = float(start_timeout)
        self._client: Any = None
        self._tools: list[MCPTool] | None = None
        self._error: MCPServerError | None = None
        self._failed_start = False  # _error is a failed start: no new attempt until retry()
        self._may_restart = True  # a call may start a stopped server again, once between two load_tools()
        self._task: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        self._lock = asyncio.Lock()
        self._stderr: IO[bytes] | None = None

    # ---- state

    @property
    def transport(self) -> str:
        """``"stdio"`` or ``"http"``."""
        return "stdio" if self.command is not None else "http"

    @property
    def running(self) -> bool:
        """Whether the server is connected now."""
        return self._client is not None

    @property
    def error(self) -> MCPServerError | None:
        """Why the server failed to start or stopped, until it runs again or ``retry()``; None otherwise."""
        return self._error

    @property
    def state(self) -> str:
        """``"idle"`` (not started), ``"running"``, ``"stopped"`` (died; started again at its next use)
        or ``"failed"`` (could not start; not tried again until ``retry()``)."""
        if self._client is not None:
            return "running"
        if self._error is None:
            return "idle"
        return "failed" if self._failed_start else "stopped"

    @property
    def stderr_tail(self) -> str:
        """The last lines the server process wrote to stderr ('' for HTTP servers or none yet)."""
        if self._stderr is None or self._stderr.closed:
            return ""
        fd = self._stderr.fileno()
        size = os.fstat(fd).st_size
        start = max(0, size - _STDERR_TAIL_BYTES)
        # pread leaves the shared file offset alone: the child process writes through the same description.
        data = os.pread(fd, size - start, start).decode("utf-8", errors="replace")
        if start:
            data = data.split("\n", 1)[-1]
        return self._masked(data.strip())

    def _secrets(self) -> list[str]:
        """The env and header values (as written, expanded, and each ``${VAR}`` they use), to keep out of text."""
        values: set[str] = set()
        for value in [*(self.env or {}).values(), *self._headers.values()]:
            values.add(value)
            values.update(os.environ.get(var, "") for var in _ENV_REF.findall(value))
            values.add(_ENV_REF.sub(lambda m: os.environ.get(m.group(1), ""), value))
            values.update(value.split())  # "Bearer abc...": the token alone may be printed too
        return sorted((v for v in values if len(v) >= _MIN_SECRET), key=len, reverse=True)

    def _masked(self, text: str) -> str:
        """``text`` with every env and header value of this server replaced by ****."""
        for secret in self._secrets():
            text = text.replace(secret, _MASK)
        return text

    def _describe(self) -> str:
        """What runs, for a log line: the command and args (masked) or the URL without its query; env and
        header names only."""
        if self.command is not None:
            where = self._masked(" ".join([self.command, *self.args]))
            names = sorted(self.env or {})
            return f"stdio: {where}" + (f"; env {', '.join(names)}" if names else "")
        where = self._masked((self.url or "").split("?", 1)[0])
        return f"http: {where}" + (f"; headers {', '.join(sorted(self._headers))}" if self._headers else "")

    # ---- lifecycle

    async def start(self) -> None:
        """Connect (spawn the process or open the HTTP session) and list the tools; idempotent.

        A server that stopped is started again. Raises ``MCPServerError`` if the
        server cannot start; a failed server stays failed (without new attempts) until ``retry()``.
        """
        async with self._lock:
            await self._start_unless_failed()

    async def _start_unless_failed(self) -> None:
        if self._client is not None:
            return
        if self._failed_start and self._error is not None:
            raise self._error
        await self._start_locked()

    async def _start_for_call(self) -> None:
        """Start the server for a call: a stopped one only if no restart was made since the last ``load_tools``
        (a server that dies on every call is not restarted over and over within one turn)."""
        async with self._lock:
            if self.state == "stopped":
                if not self._may_restart:
                    assert self._error is not None
                    raise MCPServerError(f"{self._error.reason} It is started again with the next message.",
                                         server=self.name, stderr_tail=self._error.stderr_tail,
                                         reason=self._error.reason)
                self._may_restart = False
            await self._start_unless_failed()

    async def _start_locked(self) -> None:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[list[MCPTool]] = loop.create_future()
        ready.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved, even after a timeout
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._serve(ready), name=f"mcp-server-{self.name}")
        try:
            async with asyncio.timeout(self.start_timeout):
                self._tools = await asyncio.shield(ready)
        except BaseException as exc:
            await self._stop_task(now=True)
            if isinstance(exc, asyncio.CancelledError):
                raise
            self._error, self._failed_start = self._failure("could not start", exc), True
            raise self._error from exc
        self._error, self._failed_start = None, False

    async def _serve(self, ready: asyncio.Future[list[MCPTool]]) -> None:
        """Own the connection: open it, hand over the tools, hold it until asked to stop."""
        from mcp import Client
        from mcp.types import Implementation

        from . import __version__

        try:
            async with AsyncExitStack() as stack:
                transport = await self._transport(stack)
                client = Client(transport, client_info=Implementation(name="aiagents-tui", version=__version__),
                                read_timeout_seconds=self.timeout)
                await stack.enter_async_context(client)
                tools = await self._list_tools(client)
                self._client = client
                if not ready.done():
                    ready.set_result(tools)
                assert self._stop is not None
                await self._stop.wait()
        except BaseException as exc:
            if not ready.done():
                if isinstance(exc, asyncio.CancelledError):
                    ready.cancel()
                else:
                    ready.set_exception(exc)
            elif not isinstance(exc, asyncio.CancelledError) and self._error is None:
                self._error = self._failure("stopped", exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            self._client = None

    async def _transport(self, stack: AsyncExitStack) -> Any:
        """The SDK transport for this server (entered by the ``Client``)."""
        if self.command is not None:
            from mcp.client.stdio import StdioServerParameters, stdio_client

            # A new file per attempt: the tail shows this attempt's output only, in the order it was written.
            if self._stderr is not None:
                self._stderr.close()
            self._stderr = tempfile.TemporaryFile()
            env = {key: expand_env(value, self.name) for key, value in (self.env or {}).items()}
            params = StdioServerParameters(command=self.command, args=self.args, env=env or None, cwd=self.cwd)
            return stdio_client(params, errlog=self._stderr)  # type: ignore[arg-type]
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        headers = {key: expand_env(value, self.name) for key, value in self._headers.items()}
        http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(self.start_timeout, read=300.0))
        await stack.enter_async_context(http)
        assert self.url is not None
        return streamable_http_client(self.url, http_client=http)

    async def _list_tools(self, client: Any) -> list[MCPTool]:
        """Every tool the server lists (all pages), or the ``tools=`` subset, with wire names."""
        specs: list[Any] = []
        cursor: str | None = None
        while True:
            page = await client.list_tools(cursor=cursor)
            specs.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                break
        if self.only is not None:
            known = {spec.name for spec in specs}
            missing = [name for name in self.only if name not in known]
            if missing:
                log.warning("MCP server %s has no tool named %s.", self.name, ", ".join(missing))
            specs = [spec for spec in specs if spec.name in self.only]
        taken: set[str] = set()
        tools = []
        for spec in specs:
            name = wire_name(self.name, spec.name, taken)
            taken.add(name)
            tools.append(MCPTool(self, name, spec.name, spec.description or "", spec.input_schema or {}))
        return tools

    async def load_tools(self) -> list[MCPTool]:
        """The server's tools, starting it (again, if it stopped) when needed; raises ``MCPServerError`` when
        it cannot start. Until the next ``load_tools``, one call may start it again should it stop."""
        async with self._lock:
            restarting = self.state == "stopped"
            await self._start_unless_failed()
            self._may_restart = not restarting
        return list(self._tools or [])

    async def call(self, tool: str, arguments: Mapping[str, Any]) -> tuple[str, ToolStatus, _Images]:
        """Call ``tool`` (its own name): (text for the model, status, images); never raises for server failures."""
        from mcp import MCPError
        from mcp.types import CONNECTION_CLOSED, REQUEST_TIMEOUT

        try:
            await self._start_for_call()
            client = self._client
            if client is None:
                raise self._error or MCPServerError(f"The MCP server {self.name} is not running.", server=self.name)
            async with asyncio.timeout(self.timeout + 5):  # a safety net over the SDK's own timeout
                result = await client.call_tool(tool, dict(arguments), read_timeout_seconds=self.timeout)
        except MCPServerError as exc:
            return str(exc), "error", ()
        except (MCPError, TimeoutError) as exc:
            code = getattr(exc, "code", REQUEST_TIMEOUT)
            if code == REQUEST_TIMEOUT:
                return (f"The tool {tool} of MCP server {self.name} did not answer within {self.timeout:g} seconds.",
                        "timeout", ())
            if code == CONNECTION_CLOSED:
                return str(await self._died(exc)), "error", ()
            refused = getattr(exc, "message", str(exc))
            return f"The MCP server {self.name} refused the call of {tool}: {refused}", "error", ()
        except Exception as exc:  # transport failures: the connection is no longer usable
            log.warning("MCP server %s failed during a call of %s.", self.name, tool, exc_info=True)
            return str(await self._died(exc)), "error", ()
        text = result_text(result)
        if result.is_error:
            return text or f"The tool {tool} of MCP server {self.name} failed.", "error", ()
        return text, "ok", result_images(result)

    async def _died(self, exc: BaseException) -> MCPServerError:
        """Record that the connection is gone and stop what is left of it."""
        task = self._task
        if self._error is None:
            await asyncio.sleep(0.05)  # let the dying process's last stderr lines land
        if self._task is not task:  # another call started it again meanwhile: leave the new connection alone
            return self._error or MCPServerError(f"The MCP server {self.name} stopped during the call.",
                                                 server=self.name)
        if self._error is None:  # the connection's own task may have recorded why meanwhile
            self._error = self._failure("stopped", exc)
        await self._stop_task()
        return self._error

    def _failure(self, what: str, exc: BaseException) -> MCPServerError:
        """An ``MCPServerError`` saying what happened, with the cause and the stderr tail; logged as a warning."""
        cause = self._masked(_plain_cause(exc))
        tail = self.stderr_tail
        reason = f"The MCP server {self.name} {what}" + (f": {cause}" if cause else "") + "."
        message = reason + (f" Its last output: {tail.splitlines()[-1][:300]}" if tail else "")
        log.warning("%s (%s)%s", reason, self._describe(), f" Its last output:\n{tail}" if tail else "")
        return MCPServerError(message, server=self.name, stderr_tail=tail, reason=reason)

    def retry(self) -> None:
        """Forget a failure, so the next use starts the server again."""
        self._error, self._failed_start = None, False

    async def aclose(self) -> None:
        """Stop the server (and its process) if it runs; safe to call more than once."""
        async with self._lock:
            await self._stop_task()
            self._tools = None
            if self._stderr is not None:
                self._stderr.close()
                self._stderr = None

    async def _stop_task(self, now: bool = False) -> None:
        """End the owner task: asked to stop (the SDK then closes the session and the process), or
        cancelled at once when ``now`` (a start that failed half way has no session to close politely)."""
        task, self._task = self._task, None
        if task is None:
            return
        if now:
            task.cancel()
        elif self._stop is not None:
            self._stop.set()
        try:
            async with asyncio.timeout(_STOP_GRACE):
                await asyncio.shield(task)
        except TimeoutError:
            task.cancel()
            await asyncio.wait([task])
        except BaseException:  # its failure is already recorded in self._error; a cancel of it is ours
            if not task.done():
                raise
        self._client = None

    async def __aenter__(self) -> "MCPServer":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        where = f"command={self.command!r}" if self.command is not None else f"url={self.url!r}"
        return f"MCPServer({self.name!r}, {where})"


def _plain_cause(exc: BaseException) -> str:
    """A short description of an exception (the first leaf of an exception group)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, FileNotFoundError):
        return f"the command was not found ({exc.filename or exc})"
    if isinstance(exc, TimeoutError):
        return "it did not answer in time"
    text = getattr(exc, "message", None) or str(exc)
    if type(exc).__name__ == "MCPError" and text:  # the SDK's own words, e.g. "Connection closed"
        return f"its {text[0].lower()}{text[1:]}" if text.startswith("Connection") else text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def servers_from_config(config: Any) -> list[MCPServer]:
    """``MCPServer`` objects for the enabled ``[mcp_servers.NAME]`` tables of an ``AppConfig``."""
    servers = []
    for name, entry in (getattr(config, "mcp_servers", None) or {}).items():
        if not entry.enabled:
            continue
        servers.append(MCPServer(
            name, command=entry.command, args=entry.args, env=entry.env or None, cwd=entry.cwd,
            url=entry.url, headers=entry.headers or None, tools=entry.tools or None, timeout=entry.timeout,
        ))
    return servers

