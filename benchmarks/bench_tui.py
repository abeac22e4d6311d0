"""Benchmarks of the aiagents-tui app, driven like a user in a real terminal (tmux).

Cases:
  startup      launch -> "aiagents-tui" on screen (ready marker), and -> the sidebar's first
               thread drawn, with a database of THREADS threads x 100 messages
  stream N     Enter -> the reply's end marker visible at the bottom (unlimited rate)
  cpu@50tok/s  CPU of the app process while a reply streams at 50 tokens/s (% of one core)
  peak RSS     VmHWM of the app after the 8,000-token reply
  open thread  open a 10,000-message thread -> its last screen painted (in-process, headless);
               the first open renders its Markdown, later ones find it in the render cache

The provider is the repository's fake server (tests/fakes) speaking the Ollama protocol on
127.0.0.1; one "token" is one streamed chunk of a few characters.

    python benchmarks/bench_tui.py            # full size (about 3 minutes)
    python benchmarks/bench_tui.py --small    # quick run
    python benchmarks/bench_tui.py --src DIR  # the app from another source tree, e.g. an older
                                              # commit from `git archive COMMIT tui_agents | tar -x -C DIR`
    python benchmarks/bench_tui.py --only open --small   # one case (startup, stream, cpu, open)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.llm_server import FakeLLMServer, Reply  # noqa: E402

APP = ROOT / ".venv" / "bin" / "aiagents-tui"
WIDTH, HEIGHT = 120, 40


def reply_text(tokens: int, marker: str) -> str:
    """Markdown of about ``tokens`` chunks: headings, paragraphs, lists and code, ending in ``marker``."""
    words = "stream buffer model screen composer search quick dog token latency server thread".split()
    out: list[str] = []
    n = 0
    section = 0
    while n < tokens:
        section += 1
        out.append(f"## Section {section}\n\n")
        para = " ".join(words[(section + i) % len(words)] for i in range(40))
        out.append(para + ".\n\n")
        out.append("".join(f"- item {section}.{i} {words[i]}\n" for i in range(4)) + "\n")
        out.append(f"```python\ndef handle_{section}(event):\n    return event.size * {section}\n```\n\n")
        n += 40 + 16 + 12
    out.append(marker + "\n")
    return "".join(out)


class Tmux:
    """One private tmux server with one window running the app."""

    _count = 0

    def __init__(self, workdir: Path) -> None:
        Tmux._count += 1
        self.sock = str(workdir / f"tmux{Tmux._count}.sock")

    def run(self, *args: str) -> str:
        return subprocess.run(["tmux", "-S", self.sock, *args], capture_output=True, text=True).stdout

    src: Path | None = None  # run the app from this source tree instead of the installed one

    def start(self, command: str, env: dict[str, str]) -> None:
        # Only these variables, like the shared harness: an inherited PYTHONDONTWRITEBYTECODE,
        # say, would make every launch compile the app's modules again.
        if Tmux.src is not None:
            env = {**env, "PYTHONPATH": Tmux.src}
        exports = " ".join(f"{k}={v!s}" for k, v in env.items())
        self.run("new-session", "-d", "-x", str(WIDTH), "-y", str(HEIGHT),
                 f"env -i PATH=/usr/local/bin:/usr/bin:/bin {exports} {command}; sleep 60")

    def screen(self) -> str:
        return self.run("capture-pane", "-p")

    def wait_for(self, text: str, timeout: float = 60.0) -> float:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if text in self.screen():
                return time.perf_counter()
            time.sleep(0.005)
        raise TimeoutError(f"{text!r} not on screen within {timeout}s; screen:\n{self.screen()}")

    def keys(self, *keys: str, literal: bool = False) -> None:
        self.run("send-keys", *(["-l"] if literal else []), *keys)

    def app_pid(self) -> int:
        pane_pid = int(self.run("display-message", "-p", "#{pane_pid}").strip())
        out = subprocess.run(["pgrep", "-P", str(pane_pid)], capture_output=True, text=True).stdout.split()
        return int(out[0]) if out else pane_pid

    def kill(self) -> None:
        self.run("kill-server")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def vm_hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def make_db(path: Path, threads: int, messages: int) -> tuple[str, str]:
    """A database with ``threads`` threads of ``messages`` messages (forks of one seeded thread)."""
    from tui_agents.store import AgentStore, MessageStore, ThreadStore, connect

    conn = await connect(str(path))
    agent = await AgentStore(conn).create("assistant", "You are helpful.")
    store, msgs = ThreadStore(conn), MessageStore(conn)
    seed = await store.create(agent["id"], title="Seed thread")
    for i in range(messages):
        role = "user" if i % 2 == 0 else "assistant"
        await msgs.add(seed["id"], role, f"message {i} " + "lorem ipsum dolor sit amet " * (4 if role == "user" else 30))
    for i in range(threads - 1):
        await store.fork(seed["id"], title=f"Thread {i}")
    big = await store.create(agent["id"], title="Big thread")
    for i in range(10_000 if messages >= 100 else 1_000):
        await msgs.add(big["id"], "user" if i % 2 == 0 else "assistant", f"big {i} " + "text " * 20)
    await conn.close()
    return seed["id"], big["id"]


def launch(tmux: Tmux, db: Path, home: Path, server: FakeLLMServer) -> float:
    env = {"OLLAMA_HOST": server.host_port, "HOME": home, "XDG_CONFIG_HOME": home / "c",
           "XDG_DATA_HOME": home / "d", "XDG_CACHE_HOME": home / "cache", "XDG_STATE_HOME": home / "s",
           "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring", "TERM": "xterm-256color",
           "TIKTOKEN_CACHE_DIR": home / "tiktoken", "NO_PROXY": "127.0.0.1,localhost"}
    t0 = time.perf_counter()
    tmux.start(f"{APP} --provider ollama --model bench --db {db}", env)
    return t0


def bench_startup(workdir: Path, db: Path, server: FakeLLMServer, repeats: int) -> list[tuple[str, list[float]]]:
    marker, usable = [], []
    for i in range(repeats):
        copy = workdir / f"start{i}.sqlite"
        shutil.copy(db, copy)
        tmux = Tmux(workdir)
        try:
            t0 = launch(tmux, copy, workdir / f"home{i}", server)
            marker.append(tmux.wait_for("aiagents-tui") - t0)
            usable.append(tmux.wait_for("Big thread") - t0)
        finally:
            tmux.kill()
    return [("startup: launch -> ready marker", marker), ("startup: launch -> sidebar drawn", usable)]


def bench_streams(workdir: Path, server: FakeLLMServer, sizes: list[int], repeats: int) -> list[tuple[str, list[float]]]:
    rows: list[tuple[str, list[float]]] = []
    rss: list[float] = []
    for size in sizes:
        times = []
        for r in range(repeats):
            tmux = Tmux(workdir)
            try:
                t0 = launch(tmux, workdir / f"s{size}-{r}.sqlite", workdir / f"hs{size}-{r}", server)
                tmux.wait_for("New chat with")
                server.script(Reply(text=reply_text(20, "WARMEND"), chunk_chars=5))
                tmux.keys("warm up", literal=True)
                tmux.keys("Enter")
                tmux.wait_for("WARMEND")
                time.sleep(0.5)
                marker = f"QZEND{size}x{r}"
                server.script(Reply(text=reply_text(size, marker), chunk_chars=5))
                tmux.keys(f"reply {size}", literal=True)
                time.sleep(0.2)
                t0 = time.perf_counter()
                tmux.keys("Enter")
                times.append(tmux.wait_for(marker) - t0)
                if size == max(sizes):
                    time.sleep(0.5)
                    rss.append(vm_hwm_mib(tmux.app_pid()))
            finally:
                tmux.kill()
        rows.append((f"stream {size} tok: Enter -> end visible", times))
    rows.append((f"peak RSS after {max(sizes)} tok (MiB)", rss))
    return rows


def bench_cpu_at_rate(workdir: Path, server: FakeLLMServer, seconds: float) -> list[tuple[str, list[float]]]:
    tmux = Tmux(workdir)
    try:
        launch(tmux, workdir / "rate.sqlite", workdir / "hrate", server)
        tmux.wait_for("aiagents-tui")
        pid = tmux.app_pid()
        time.sleep(0.5)  # what the shared harness does: idle from half a second after the ready marker
        s0, ts = cpu_seconds(pid), time.perf_counter()
        time.sleep(3)
        idle_start = 100 * (cpu_seconds(pid) - s0) / (time.perf_counter() - ts)
        rss_start = vm_hwm_mib(pid)
        tmux.wait_for("New chat with")
        tokens = int((seconds + 4) * 50)
        server.script(Reply(text=reply_text(tokens, "RATEEND"), chunk_chars=5, delay=0.02))
        tmux.keys("rate test", literal=True)
        tmux.keys("Enter")
        time.sleep(2.0)
        c0, t0 = cpu_seconds(pid), time.perf_counter()
        time.sleep(seconds)
        pct = 100 * (cpu_seconds(pid) - c0) / (time.perf_counter() - t0)
        tmux.wait_for("RATEEND", timeout=120)
        time.sleep(2)
        i0, t1 = cpu_seconds(pid), time.perf_counter()
        time.sleep(3)
        idle = 100 * (cpu_seconds(pid) - i0) / (time.perf_counter() - t1)
    finally:
        tmux.kill()
    return [("CPU while streaming at 50 tok/s (% of a core)", [pct]),
            ("CPU idle 0.5-3.5 s after start (%)", [idle_start]),
            ("CPU idle after the reply (%)", [idle]),
            ("peak RSS 3.5 s after start, before any key (MiB)", [rss_start])]


def bench_open_thread(db: Path, thread_id: str, repeats: int, server: FakeLLMServer) -> list[tuple[str, list[float]]]:
    """In-process: open_thread -> the chat pane's first refresh with the last messages.

    The app talks to the fake server (as the tmux cases do), and the opens start once its warm-up
    (engine, HTTP client, the model's window) is done, so they measure the open, not the warm-up.
    Each open tells the idle collector that the user is busy, as the key or click that opens a
    thread does.
    """
    from tui_agents.config import AppConfig
    from tui_agents.tui.app import AiAgentsApp

    times: list[float] = []
    cpu: list[float] = []

    async def run() -> None:
        import inspect

        # as the command line runs it (an older tree given with --src may not know the option)
        extra = {"freeze_gc": True} if "freeze_gc" in inspect.signature(AiAgentsApp).parameters else {}
        app = AiAgentsApp(db_path=db, provider="ollama", model="bench", config=AppConfig(), background_jobs=False,
                          **extra)
        async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
            await app.wait_ready()
            if hasattr(app, "warm_up"):
                await app.warm_up()
            # the chat screen owns these since the app was split; an older tree (--src) has them on the app
            chat = getattr(app.screen_main, "threads", None)
            new_chat = app.screen_main.action_new_thread if chat else app.action_new_thread
            open_thread = chat.open_thread if chat else app.open_thread
            for _ in range(repeats):
                await new_chat()
                await pilot.pause(0.2)
                if getattr(app, "idle_gc", None) is not None:
                    app.idle_gc.key()
                painted = asyncio.get_running_loop().create_future()
                t0, c0 = time.perf_counter(), time.process_time()
                await open_thread(thread_id)
                app.call_after_refresh(lambda: painted.done() or painted.set_result(time.perf_counter()))
                times.append(await painted - t0)
                cpu.append(time.process_time() - c0)

    saved = {name: os.environ.get(name) for name in ("OLLAMA_HOST", "NO_PROXY")}
    os.environ.update(OLLAMA_HOST=server.host_port, NO_PROXY="127.0.0.1,localhost")
    try:
        asyncio.run(run())
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return [("open 10,000-message thread -> last screen painted", times),
            ("  the first open (nothing cached)", times[:1]),
            ("  CPU of an open (s)", cpu)]


def fmt(values: list[float]) -> tuple[str, str, str]:
    if not values:
        return "0", "-", "-"
    p50 = statistics.median(values)
    p95 = sorted(values)[max(0, int(round(0.95 * len(values))) - 1)]
    return str(len(values)), f"{p50:.3f}", f"{p95:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true", help="100 threads, one repeat, short streams")
    parser.add_argument("--src", type=Path, help="source tree holding the tui_agents package to run")
    parser.add_argument("--only", choices=["startup", "stream", "cpu", "open"], action="append",
                        help="run only this case (repeatable)")
    args = parser.parse_args()
    only = set(args.only or ["startup", "stream", "cpu", "open"])
    if args.src is not None:
        Tmux.src = args.src.resolve()
        sys.path.insert(0, str(Tmux.src))
    threads, repeats = (100, 1) if args.small else (1000, 3)
    sizes = [500, 2000] if args.small else [2000, 8000]
    server = FakeLLMServer().start()
    workdir = Path(tempfile.mkdtemp(prefix="bench-tui-"))
    rows: list[tuple[str, list[float]]] = []
    try:
        db = workdir / "big.sqlite"
        _seed, big = asyncio.run(make_db(db, threads, 100))
        if "startup" in only:
            rows += bench_startup(workdir, db, server, repeats)
        if "stream" in only:
            rows += bench_streams(workdir, server, sizes, repeats)
        if "cpu" in only:
            rows += bench_cpu_at_rate(workdir, server, 4 if args.small else 8)
        if "open" in only:
            rows += bench_open_thread(db, big, 5 if args.small else 10, server)
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"{'case':55} {'n':>3} {'p50':>9} {'p95':>9}")
    for name, values in rows:
        n, p50, p95 = fmt(values)
        print(f"{name:55} {n:>3} {p50:>9} {p95:>9}")
    print(f"(threads={threads} x 100 messages; times in seconds unless stated; app from {args.src or ROOT}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
