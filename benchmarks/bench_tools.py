"""Worst cases of the ``calculate`` tool, and what a tool call costs since sync tools run in daemon threads.

    .venv/bin/python benchmarks/bench_tools.py           # 200 calls per calculator case, 2,000 tool calls
    .venv/bin/python benchmarks/bench_tools.py --small   # 20 and 200, quick check
    .venv/bin/python benchmarks/bench_tools.py --only calls   # the tool-call part alone

Calculator: each hostile expression is evaluated ``n`` times in this process
(``evaluate``, the tool's body); the table gives wall-clock p50, p95 and max in
milliseconds. Target: every call under 1,000 ms (the promise), whatever the
expression.

Tool call: ``Tool.run`` of a sync tool that returns at once (argument
validation, the timeout wrapper, one daemon thread per call), beside the same
function awaited through ``asyncio.to_thread`` (the pool the tools used
before), in the same run. Prints plain tables: case, n, p50, p95, max.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui_agents.tools import tool  # noqa: E402
from tui_agents.tools.builtin.calculator import CalculationError, evaluate  # noqa: E402

HOSTILE = {
    "round(5, -10**300)": "round(5, -10**300)",
    "round(10**999, -999)": "round(10**999, -999)",
    "9**9**9**9": "9**9**9**9",
    "factorial(1000)*factorial(1000)": "factorial(1000)*factorial(1000)",
    "10**999 // 7 % 3": "10**999 // 7 % 3",
    "product of 300 × 99": "*".join(["99"] * 300),
    "sum of 120 × 10**999": "+".join(["10**999"] * 120),
    "hypot of 100 × 10**300": "hypot(" + ",".join(["10**300"] * 100) + ")",
    "1,000-digit literal": "9" * 999,
    "150 nested sqrt": "sqrt(" * 150 + "2" + ")" * 150,
    "999 unary minus": "-" * 999 + "1",
}


def stats(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return statistics.median(ordered), p95, ordered[-1]


def bench_calculator(n: int) -> list[tuple[str, int, float, float, float]]:
    rows = []
    for name, expression in HOSTILE.items():
        samples = []
        for _ in range(n):
            started = time.perf_counter()
            try:
                evaluate(expression)
            except CalculationError:
                pass
            samples.append((time.perf_counter() - started) * 1000)
        rows.append((name, n, *stats(samples)))
    return rows


@tool(register=False, timeout=30)
def echo(text: str) -> str:
    """Returns its argument."""
    return text


def plain_echo(text: str) -> str:
    return text


async def bench_tool_calls(n: int) -> list[tuple[str, int, float, float, float]]:
    daemon, pooled = [], []
    for _ in range(n):  # interleaved, so load from elsewhere hits both alike
        started = time.perf_counter()
        await echo.tool.run({"text": "hi"})
        daemon.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        await asyncio.to_thread(plain_echo, "hi")
        pooled.append((time.perf_counter() - started) * 1000)
    return [
        ("Tool.run of a sync tool (daemon thread, validation, timeout)", n, *stats(daemon)),
        ("asyncio.to_thread of the bare function (for scale)", n, *stats(pooled)),
    ]


def table(title: str, rows: list[tuple[str, int, float, float, float]]) -> None:
    print(f"\n{title}\n")
    print("| case | n | p50 ms | p95 ms | max ms |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, n, p50, p95, worst in rows:
        print(f"| {name} | {n} | {p50:.3f} | {p95:.3f} | {worst:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="fewer calls, for a quick check")
    parser.add_argument("--only", choices=("calculator", "calls"),
                        help="one part (calls alone also runs against older trees, whose calculator hangs)")
    args = parser.parse_args()
    if args.only != "calls":
        table("calculate, hostile expressions", bench_calculator(20 if args.small else 200))
    if args.only != "calculator":
        table("one tool call", asyncio.run(bench_tool_calls(200 if args.small else 2000)))


if __name__ == "__main__":
    main()
