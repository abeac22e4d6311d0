"""Real MCP servers (``tests/mcp/server.py``, written with the ``mcp`` SDK) over stdio and streamable HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def stdio_server(name: str = "test", mode: str = "stdio", **options):
    """An ``MCPServer`` that runs the test server as a child process over stdin/stdout."""
    from tui_agents.mcp import MCPServer

    options.setdefault("start_timeout", 60)
    return MCPServer(name, command=sys.executable, args=["-m", "tests.mcp.server", mode], cwd=str(ROOT), **options)


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists (a zombie counts as gone: it has exited)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _spawn_http(port: int) -> subprocess.Popen:
    """The test server over streamable HTTP on ``port``, once it answers."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "tests.mcp.server", "http", str(port)], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/mcp", timeout=1)
            return process
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                _stop(process)
                raise RuntimeError("the HTTP test server did not start") from None
            time.sleep(0.1)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def http_server_process() -> Iterator[tuple[str, Callable[..., None]]]:
    """(url, switch): the HTTP test server of one test; ``switch(down=True)`` stops it, ``down=False`` starts
    it again on the same port, as a server that goes away and comes back."""
    port = _free_port()
    process: subprocess.Popen | None = _spawn_http(port)

    def switch(down: bool) -> None:
        nonlocal process
        if process is not None:
            _stop(process)
            process = None
        if not down:
            process = _spawn_http(port)

    try:
        yield f"http://127.0.0.1:{port}/mcp", switch
    finally:
        if process is not None:
            _stop(process)


@pytest.fixture(scope="session")
def http_server_url() -> Iterator[str]:
    """The test server on a loopback port over streamable HTTP, for the whole session."""
    with http_server_process() as (url, _):
        yield url
