"""A real MCP server for the tests, written with the official ``mcp`` SDK.

    python -m tests.mcp.server stdio            # over stdin/stdout
    python -m tests.mcp.server http PORT        # streamable HTTP on 127.0.0.1:PORT/mcp
    python -m tests.mcp.server fail-start       # writes to stderr (MCP_TEST_LEAK too) and exits 2 before speaking

Tools: ``echo``, ``add`` (structured output), ``picture`` (an image), ``svg`` (an image no
provider takes), ``broken_png`` (not a readable image), ``summary`` (text plus structured content the text does not carry), ``fail``
(an error result), ``crash`` (the process exits), ``hang`` (never answers),
``pid`` (the server's process id), ``getenv`` and ``sleep_ms``.
"""

from __future__ import annotations

import asyncio
import base64
import os
import sys

from mcp.server.mcpserver import Image, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, ImageContent, TextContent

# A 1x1 transparent PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)

server = MCPServer("test-server")


@server.tool()
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


@server.tool()
def add(a: int, b: int) -> dict[str, int]:
    """Add two numbers; the sum comes back as structured output."""
    return {"sum": a + b}


@server.tool()
def picture() -> Image:
    """A tiny PNG image."""
    return Image(data=PNG, format="png")


@server.tool()
def svg() -> CallToolResult:
    """An SVG drawing, a type of image the model APIs do not take."""
    drawing = base64.b64encode(b'<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>').decode()
    return CallToolResult(content=[TextContent(type="text", text="a drawing"),
                                   ImageContent(type="image", data=drawing, mime_type="image/svg+xml")])


@server.tool()
def broken_png() -> CallToolResult:
    """Bytes that start like a PNG but are not one."""
    data = base64.b64encode(PNG[:16] + b"not the rest of a png").decode()
    return CallToolResult(content=[TextContent(type="text", text="a snapshot"),
                                   ImageContent(type="image", data=data, mime_type="image/png")])


@server.tool()
def summary() -> CallToolResult:
    """A text summary beside structured details the text does not carry."""
    return CallToolResult(content=[TextContent(type="text", text="3 items found")],
                          structured_content={"items": [1, 2, 3]})


@server.tool()
def fail(reason: str = "it went wrong") -> str:
    """Always fails with ``reason`` (an error result, not a protocol error)."""
    raise ToolError(reason)


@server.tool()
def crash() -> str:
    """Exit the server process at once, as a crash would."""
    sys.stderr.write("test server: crashing on purpose\n")
    sys.stderr.flush()
    os._exit(3)


@server.tool()
async def hang() -> str:
    """Never answer."""
    await asyncio.sleep(3600)
    return "never"


@server.tool()
def pid() -> int:
    """The server's process id."""
    return os.getpid()


@server.tool()
def getenv(name: str) -> str:
    """The value of an environment variable of the server process ('' when unset)."""
    return os.environ.get(name, "")


@server.tool()
async def sleep_ms(ms: float) -> str:
    """Sleep ``ms`` milliseconds, then answer."""
    await asyncio.sleep(ms / 1000)
    return "slept"


def main(argv: list[str]) -> None:
    mode = argv[1] if len(argv) > 1 else "stdio"
    if os.environ.get("MCP_TEST_PIDFILE"):  # lets a test find this process after its parent is gone
        with open(os.environ["MCP_TEST_PIDFILE"], "w") as pidfile:
            pidfile.write(str(os.getpid()))
    sys.stderr.write(f"test server: starting ({mode})\n")
    sys.stderr.flush()
    if mode == "fail-start":
        if os.environ.get("MCP_TEST_LEAK"):  # a careless server that prints its token
            sys.stderr.write(f"test server: token {os.environ['MCP_TEST_LEAK']} refused\n")
        sys.stderr.write("test server: missing configuration, giving up\n")
        sys.exit(2)
    if mode == "http":
        server.run("streamable-http", host="127.0.0.1", port=int(argv[2]))
    else:
        server.run("stdio")


if __name__ == "__main__":
    main(sys.argv)
