"""An MCP tool call through ``tui_agents.mcp`` beside the same call made with the SDK's ``Client`` directly.

    PYTHONPATH=. python benchmarks/bench_mcp.py [--calls 200]

Both clients talk to their own copy of ``tests/mcp/server.py`` (the SDK's own server) over
stdio, then to one streamable-HTTP copy on loopback. The calls alternate between the two
clients so load changes hit both alike. ``overhead`` = our p50 - the SDK's p50: what
``MCPTool.run`` adds (argument handling, lifecycle checks, timeout, result conversion).
Target: overhead <= 5 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mcp import Client, StdioServerParameters  # noqa: E402

from tui_agents.mcp import MCPServer  # noqa: E402


def _stats(values: list[float]) -> tuple[float, float]:
    ms = sorted(v * 1000 for v in values)
    return statistics.median(ms), ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]


async def _compare(label: str, ours: MCPServer, sdk_target, calls: int) -> list[str]:
    async with Client(sdk_target) as sdk:
        tools = {tool.remote_name: tool for tool in await ours.load_tools()}
        echo = tools["echo"]
        for _ in range(20):  # warm both paths
            await sdk.call_tool("echo", {"text": "warm"})
            await echo.run({"text": "warm"})
        sdk_times, our_times = [], []
        for i in range(calls):
            text = f"call {i}"
            started = time.perf_counter()
            result = await sdk.call_tool("echo", {"text": text})
            sdk_times.append(time.perf_counter() - started)
            assert result.content[0].text == text
            started = time.perf_counter()
            mine = await echo.run({"text": text})
            our_times.append(time.perf_counter() - started)
            assert mine.content == text
    sdk50, sdk95 = _stats(sdk_times)
    our50, our95 = _stats(our_times)
    overhead = our50 - sdk50
    verdict = "met" if overhead <= 5 else "MISSED"
    return [
        f"| {label}: SDK Client.call_tool | {calls} | {sdk50:.2f} | {sdk95:.2f} | | |",
        f"| {label}: MCPTool.run | {calls} | {our50:.2f} | {our95:.2f} | {overhead:+.2f} | {verdict} |",
    ]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _start_time(runs: int) -> list[str]:
    """Spawn -> tools listed, for a stdio server (what the first turn that uses it waits)."""
    times = []
    for _ in range(runs):
        server = MCPServer("bench", command=sys.executable, args=["-m", "tests.mcp.server", "stdio"], cwd=str(ROOT),
                           start_timeout=60)
        started = time.perf_counter()
        await server.load_tools()
        times.append(time.perf_counter() - started)
        await server.aclose()
    p50, p95 = _stats(times)
    return [f"| stdio server start (spawn -> tools listed; first use only) | {runs} | {p50:.0f} | {p95:.0f} | | |"]


async def main(calls: int) -> None:
    command = [sys.executable, "-m", "tests.mcp.server"]
    rows = []
    stdio_ours = MCPServer("bench", command=command[0], args=command[1:] + ["stdio"], cwd=str(ROOT), start_timeout=60)
    stdio_sdk = StdioServerParameters(command=command[0], args=command[1:] + ["stdio"], cwd=str(ROOT))
    try:
        rows += await _compare("stdio", stdio_ours, stdio_sdk, calls)
    finally:
        await stdio_ours.aclose()
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([*command, "http", str(port)], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        for _ in range(600):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                await asyncio.sleep(0.1)
        http_ours = MCPServer("bench", url=url, start_timeout=60)
        try:
            rows += await _compare("streamable HTTP", http_ours, url, calls)
        finally:
            await http_ours.aclose()
    finally:
        process.terminate()
        process.wait(10)
    rows += await _start_time(5)
    print(f"date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load {os.getloadavg()[0]:.2f} "
          f"(1-min avg); {os.cpu_count()} CPUs; Python {sys.version.split()[0]}")
    print("| case | n | p50 ms | p95 ms | overhead p50 ms (target <= 5) | |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    asyncio.run(main(parser.parse_args().calls))
