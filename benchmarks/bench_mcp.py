"""An MCP tool call through ``tui_agents.mcp`` beside the same call made with the SDK's ``Client`` directly.

    PYTHONPATH=. python benchmarks/bench_mcp.py [--calls 200]

Both clients talk to their own copy of ``tests/mcp/server.py`` (the SDK's own server) over
stdio, then to one streamable-HTTP copy on loopback. The calls alternate between the two
clients so load changes hit both alike. ``overhead`` = our p50 - the SDK's p50: what
``MCPTool.run`` adds (argument handling, lifecycle checks, timeout, result conversion),
for a text result (``echo``) and an image result (``picture``, where "ours" also includes
the runner's typing and size check of the image in a thread). Target: overhead <= 5 ms.
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
from tui_agents.tool_rounds import prepare_images as _sendable_images  # noqa: E402 - the runner's step for a result's images


def _stats(values: list[float]) -> tuple[float, float]:
    ms = sorted(v * 1000 for v in values)
    return statistics.median(ms), ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]


async def _ours_with_images(tool, arguments: dict) -> object:
    """``MCPTool.run`` plus what the runner does with a result's images before sending them (typed, sized)."""
    result = await tool.run(arguments)
    if result.images:
        await asyncio.to_thread(_sendable_images, result.images, 5 * 1024 * 1024)
    return result


async def _compare(label: str, ours: MCPServer, sdk_target, calls: int) -> list[str]:
    rows = []
    async with Client(sdk_target) as sdk:
        tools = {tool.remote_name: tool for tool in await ours.load_tools()}
        for name, case in (("echo", "text result"), ("picture", "image result, + runner's image prep")):
            rows += await _compare_tool(f"{label}, {case}", sdk, tools[name], calls)
    return rows


async def _compare_tool(label: str, sdk: Client, tool, calls: int) -> list[str]:
    name = tool.remote_name
    args = (lambda i: {"text": f"call {i}"}) if name == "echo" else (lambda i: {})
    for i in range(20):  # warm both paths
        await sdk.call_tool(name, args(i))
        await _ours_with_images(tool, args(i))
    sdk_times, our_times = [], []
    for i in range(calls):
        started = time.perf_counter()
        result = await sdk.call_tool(name, args(i))
        sdk_times.append(time.perf_counter() - started)
        assert not result.is_error
        started = time.perf_counter()
        mine = await _ours_with_images(tool, args(i))
        our_times.append(time.perf_counter() - started)
        assert mine.status == "ok" and (name != "echo" or mine.content == args(i)["text"])
    sdk50, sdk95 = _stats(sdk_times)
    our50, our95 = _stats(our_times)
    overhead = our50 - sdk50
    verdict = "met" if overhead <= 5 else "MISSED"
    return [
        f"| {label}: SDK Client.call_tool | {calls} | {sdk50:.2f} | {sdk95:.2f} | | |",
        f"| {label}: ours | {calls} | {our50:.2f} | {our95:.2f} | {overhead:+.2f} | {verdict} |",
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
    load_start = os.getloadavg()[0]
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
    cpu = time.process_time()
    print(f"date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load {load_start:.2f} at start, "
          f"{os.getloadavg()[0]:.2f} at end (1-min avg); {os.cpu_count()} CPUs; Python {sys.version.split()[0]}; "
          f"this process {cpu:.1f} CPU-s")
    print("| case | n | p50 ms | p95 ms | overhead p50 ms (target <= 5) | |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    asyncio.run(main(parser.parse_args().calls))
