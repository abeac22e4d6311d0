"""A private ``redis-server`` on a free loopback port, for tests and benchmarks.

Persistence is off (``--save '' --appendonly no``) and the server runs in a
temporary directory, so nothing is written beside the code. Import it from any
test: ``from tests.limits.redis_server import RedisServer, require_redis_server``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time

__all__ = ["RedisServer", "redis_server_binary", "require_redis_server", "free_port"]


def redis_server_binary() -> str | None:
    """The redis-server to run: ``$REDIS_SERVER`` or the one on PATH; None when there is none."""
    return os.environ.get("REDIS_SERVER") or shutil.which("redis-server")


def require_redis_server() -> str:
    """The binary, or skip the test (fail it under ``CI=true``, where redis-server must be installed)."""
    import pytest

    binary = redis_server_binary()
    if binary is None:
        reason = "redis-server is not installed (apt-get install redis-server)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(reason + "; CI must install it")
        pytest.skip(reason)
    return binary


def free_port() -> int:
    """A TCP port on 127.0.0.1 that the OS says is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _command(port: int, *parts: str, timeout: float = 1.0) -> bytes:
    """Send one inline command and return the first reply line."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall((" ".join(parts) + "\r\n").encode())
        reply = b""
        while not reply.endswith(b"\r\n"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
        return reply


class RedisServer:
    """Start with ``start()`` (or ``with RedisServer() as server``); ``url`` points at database 0."""

    def __init__(self, binary: str | None = None, start_timeout: float = 20.0) -> None:
        self.binary = binary or redis_server_binary() or "redis-server"
        self.start_timeout = start_timeout
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        """Run the server and return once it answers PING (tries another port if one is taken)."""
        self._dir = tempfile.TemporaryDirectory(prefix="redis-test-")
        for _ in range(5):
            self.port = free_port()
            self.process = subprocess.Popen(
                [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", self._dir.name, "--daemonize", "no", "--loglevel", "warning"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            if self._wait_ready():
                return self
            self._kill()
        raise RuntimeError(f"{self.binary} did not answer PING within {self.start_timeout} s")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False  # exited: most likely the port was taken meanwhile
            try:
                if _command(self.port, "PING").startswith(b"+PONG"):
                    return True
            except OSError:
                pass
            time.sleep(0.02)
        return False

    def flush(self) -> None:
        """Empty every database (between tests)."""
        _command(self.port, "FLUSHALL")

    def _kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def stop(self) -> None:
        """Stop the server and remove its directory."""
        self._kill()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
