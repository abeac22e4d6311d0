"""Profile the app while replies stream (in-process, headless Textual at 120x40, fake Ollama server on loopback).

    PYTHONPATH=. python benchmarks/profile_stream.py [--tokens 2000] [--rate 50] [--profile out.prof]

Reports, for one fresh app: Enter -> the first request at the server (after the first-paint warm-up),
CPU of the process while a reply streams at ``--rate`` tokens/s (a window in the middle), a
full-speed reply of ``--tokens`` Enter -> the end in the chat pane, and peak RSS. With ``--profile``
the streaming window is run under cProfile. Headless: Textual composes every frame as in a
terminal but writes it nowhere, so figures are a floor of the real app's (the tmux harness is the
reference); use it to find where the time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_tui import reply_text  # noqa: E402
from tests.fakes.llm_server import FakeLLMServer, Reply  # noqa: E402


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


async def _wait(predicate, timeout: float = 60.0, step: float = 0.005) -> None:
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(step)


async def _send(app, pilot, text: str) -> float:
    app.composer.text = text
    await pilot.pause()
    t0 = time.time()
    await pilot.press("enter")
    return t0


def _shown(app, marker: str) -> bool:
    try:
        return any(marker in str(getattr(view, "text", "") or "") for view in app.chat_pane.query("MessageView"))
    except Exception:
        return False


def _turn_done(app) -> bool:
    return not any(state.running for state in app.turns.values())


async def run(args: argparse.Namespace, server: FakeLLMServer, db: Path) -> dict[str, float]:
    from tui_agents.config import AppConfig
    from tui_agents.tui.app import AiAgentsApp

    out: dict[str, float] = {}
    app = AiAgentsApp(db_path=db, provider="ollama", model="bench-model", config=AppConfig(), background_jobs=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.wait_ready()
        ready = time.perf_counter()
        if args.verbose and app._warm_task is not None:
            app._warm_task.add_done_callback(lambda _: print(f"warm-up took {time.perf_counter() - ready:.3f} s"))
        await pilot.pause(args.pause)  # what the harness does: the prompt is typed and sent a while after the first screen
        out["warm-up done after ready"] = 0.0 if app._warm_task is None else float(app._warm_task.done())
        server.script(Reply(text="Hello. WARMEND", chunk_chars=5))
        n = len(server.requests)
        modules = set(sys.modules)
        first = cProfile.Profile() if args.first_profile else None
        if first:
            first.enable()
        t0 = await _send(app, pilot, "hello")
        await _wait(lambda: any(r.path == "/api/chat" for r in server.requests[n:]))
        if first:
            first.disable()
            first.dump_stats(args.first_profile)
        out["first request (s)"] = next(r.received_at for r in server.requests[n:] if r.path == "/api/chat") - t0
        if args.verbose:
            print("imported by the first turn:", sorted(set(sys.modules) - modules))
            print("requests:", [(r.path, round(r.received_at - t0, 3)) for r in server.requests])
        await _wait(lambda: _turn_done(app))
        await pilot.pause(0.3)

        tokens = int(args.rate * 10)
        server.script(Reply(text=reply_text(tokens, "RATEEND"), chunk_chars=5, delay=1 / args.rate))
        await _send(app, pilot, "rate test")
        await asyncio.sleep(2.0)
        profiler = cProfile.Profile() if args.profile else None
        c0, w0 = time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        await asyncio.sleep(5.0)
        if profiler:
            profiler.disable()
            profiler.dump_stats(args.profile)
        out[f"CPU at {args.rate:g} tok/s (% of a core)"] = 100 * (time.process_time() - c0) / (time.perf_counter() - w0)
        await _wait(lambda: _turn_done(app), timeout=120)
        await pilot.pause(0.3)

        server.script(Reply(text=reply_text(args.tokens, "FULLEND"), chunk_chars=5))
        full = cProfile.Profile() if args.full_profile else None
        c0 = time.process_time()
        n = len(server.requests)
        t_enter = time.perf_counter()
        if full:
            full.enable()
        await _send(app, pilot, "full speed")
        await _wait(lambda: any(r.path == "/api/chat" for r in server.requests[n:]))
        out[f"{args.tokens}-token reply, Enter -> request (s)"] = time.perf_counter() - t_enter
        await _wait(lambda: _turn_done(app), timeout=120)
        out[f"{args.tokens}-token reply, Enter -> turn ended (s)"] = time.perf_counter() - t_enter
        done = asyncio.get_running_loop().create_future()
        app.call_after_refresh(lambda: done.done() or done.set_result(time.perf_counter()))
        out[f"{args.tokens}-token reply, Enter -> end painted (s)"] = await done - t_enter
        if full:
            full.disable()
            full.dump_stats(args.full_profile)
        out[f"{args.tokens}-token reply, CPU (s)"] = time.process_time() - c0
        out["RSS now (MiB)"] = rss_mib()
        out["peak RSS (MiB)"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--profile", metavar="FILE", help="cProfile the rate window into FILE")
    parser.add_argument("--first-profile", metavar="FILE", help="cProfile the first turn (Enter -> request) into FILE")
    parser.add_argument("--full-profile", metavar="FILE", help="cProfile the full-speed reply (Enter -> end painted) into FILE")
    parser.add_argument("--pause", type=float, default=0.6, help="seconds from ready to the first Enter")
    parser.add_argument("--verbose", action="store_true", help="list the requests of the first turn")
    args = parser.parse_args()
    server = FakeLLMServer().start()
    os.environ["OLLAMA_HOST"] = server.base_url
    try:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ.update({"HOME": tmp, "XDG_CONFIG_HOME": f"{tmp}/config", "XDG_DATA_HOME": f"{tmp}/data"})
            results = asyncio.run(run(args, server, Path(tmp) / "db.sqlite"))
    finally:
        server.stop()
    load = os.getloadavg()[0]
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load {load:.2f}; {os.cpu_count()} CPUs")
    for name, value in results.items():
        print(f"{name}: {value:.3f}")


if __name__ == "__main__":
    main()
