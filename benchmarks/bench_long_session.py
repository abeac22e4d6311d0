"""An hour-long session, compressed: 100 replies of 500 tokens in one thread, then 50 thread switches.

    PYTHONPATH=. python benchmarks/bench_long_session.py [--replies 100] [--tokens 500] [--switches 50]
        [--src DIR]  # the app from another source tree, e.g. `git archive COMMIT tui_agents | tar -x -C DIR`

In-process, headless Textual at 120x40, the repository's fake Ollama server on loopback (in the
same process: its share of RSS is small and constant). Reports the process's RSS after the 1st,
10th and last reply (goal: at most 20 MiB growth over the first ten), CPU seconds of the replies,
and the time and the process's CPU of each thread switch (open -> the thread's last screen painted;
goal: under 100 ms at the end), medians and p95 over the switches (``--verbose``: every switch).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_tui import reply_text  # noqa: E402
from profile_stream import _send, _turn_done, _wait, rss_mib  # noqa: E402
from tests.fakes.llm_server import FakeLLMServer, Reply  # noqa: E402


async def _reply(app, pilot, server: FakeLLMServer, tokens: int, i: int) -> None:
    server.script(Reply(text=reply_text(tokens, f"END{i}"), chunk_chars=5))
    n = len(server.requests)
    await _send(app, pilot, f"question {i}")
    await _wait(lambda: any(r.path == "/api/chat" for r in server.requests[n:]), timeout=60)
    await _wait(lambda: _turn_done(app), timeout=120)


async def _painted(app) -> float:
    done = asyncio.get_running_loop().create_future()
    app.call_after_refresh(lambda: done.done() or done.set_result(time.perf_counter()))
    return await done


async def run(args: argparse.Namespace, server: FakeLLMServer, db: Path) -> dict[str, object]:
    from tui_agents.config import AppConfig
    from tui_agents.tui.app import AiAgentsApp

    out: dict[str, object] = {}
    import tui_agents

    if args.src is not None and not Path(tui_agents.__file__).resolve().is_relative_to(args.src.resolve()):
        raise SystemExit(f"tui_agents was imported from {tui_agents.__file__}, not from --src")
    app = AiAgentsApp(db_path=db, provider="ollama", model="bench-model", config=AppConfig(), background_jobs=False,
                      freeze_gc=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.wait_ready()
        await pilot.pause(0.5)
        rss: dict[int, float] = {}
        c0 = time.process_time()
        for i in range(1, args.replies + 1):
            await _reply(app, pilot, server, args.tokens, i)
            if i in (1, 10, args.replies):
                await pilot.pause(0.2)
                rss[i] = rss_mib()
        out["CPU of the replies (s)"] = time.process_time() - c0
        long_thread = app.current_thread_id
        await app.screen_main.action_new_thread()
        await pilot.pause(0.2)
        await _reply(app, pilot, server, 50, 0)
        short_thread = app.current_thread_id
        threads = app.screen_main.threads
        times: list[float] = []
        cpu: list[float] = []
        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        c_all = time.process_time()
        for k in range(args.switches):
            target = long_thread if k % 2 == 0 else short_thread
            if getattr(app, "idle_gc", None) is not None:
                app.idle_gc.key()  # a person switches with a key
            t0, c0 = time.perf_counter(), time.process_time()
            await threads.open_thread(target)
            times.append(await _painted(app) - t0)
            cpu.append(time.process_time() - c0)
            await pilot.pause(args.think)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        gc.collect()
        out["RSS after reply 1 (MiB)"] = rss[1]
        out["RSS after reply 10 (MiB)"] = rss[10]
        out[f"RSS after reply {args.replies} (MiB)"] = rss[args.replies]
        out["RSS growth over the first ten replies (MiB)"] = rss[10] - rss[1]
        out["RSS after the switches (MiB)"] = rss_mib()
        long_times = times[0::2]
        out["first switch to the long thread (ms)"] = 1000 * long_times[0]
        out["switch to the long thread, p50 (ms)"] = 1000 * statistics.median(long_times)
        out["switch, all, p50 / p95 (ms)"] = (1000 * statistics.median(times),
                                              1000 * statistics.quantiles(times, n=20)[-1])
        out["last 10 switches, max (ms)"] = 1000 * max(times[-10:])
        out["CPU of a switch (open -> painted), p50 / p95 (ms)"] = (1000 * statistics.median(cpu),
                                                                    1000 * statistics.quantiles(cpu, n=20)[-1])
        out["CPU of the switches and the pauses after them (s)"] = time.process_time() - c_all
        if args.verbose:
            print("switches (ms):", " ".join(f"{1000 * t:.0f}" for t in times))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=100)
    parser.add_argument("--tokens", type=int, default=500)
    parser.add_argument("--switches", type=int, default=50)
    parser.add_argument("--think", type=float, default=0.05,
                        help="seconds between two switches (a person reads a while: try 2)")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the thread switches into FILE")
    parser.add_argument("--verbose", action="store_true", help="print every switch's time")
    parser.add_argument("--src", type=Path, help="source tree holding the tui_agents package to run")
    args = parser.parse_args()
    if args.src is not None:
        sys.path.insert(0, str(args.src.resolve()))
    server = FakeLLMServer().start()
    os.environ["OLLAMA_HOST"] = server.base_url
    start_load = os.getloadavg()[0]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ.update({"HOME": tmp, "XDG_CONFIG_HOME": f"{tmp}/config", "XDG_DATA_HOME": f"{tmp}/data"})
            results = asyncio.run(run(args, server, Path(tmp) / "db.sqlite"))
    finally:
        server.stop()
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load {start_load:.2f} at start, "
          f"{os.getloadavg()[0]:.2f} at end; {os.cpu_count()} CPUs; app from {args.src or ROOT}")
    for name, value in results.items():
        shown = " / ".join(f"{v:.1f}" for v in value) if isinstance(value, tuple) else f"{value:.1f}"
        print(f"{name}: {shown}")


if __name__ == "__main__":
    main()
