"""CPU-seconds of the real app per 1,000 tokens streamed at a fixed rate, one or more source trees interleaved.

    python3 benchmarks/bench_stream_cpu.py --tree new=. --tree old=/tmp/old-4226985 [--runs 3] [--rate 50]
    python3 benchmarks/bench_stream_cpu.py --tree new=. --tree old=/tmp/old-4226985 --full 2000

Each run launches ``aiagents-tui`` (the shared venv's interpreter, ``PYTHONPATH`` = the tree) in a
120x40 pseudo-terminal whose output is read and dropped, against the shared harness's fake Ollama
server (``../shared/bench/fake_llm_server.py``, markdown replies, one token per chunk). A prompt asks
for ``--tokens`` at ``--rate`` tok/s; the app's CPU (utime+stime from /proc) is read over a window
from ``--skip`` s after the request reached the server, for ``--window`` s. Reported per tree: the
median CPU-seconds per 1,000 tokens streamed in the window and the same as % of a core. Trees are
run in turn (A B A B ...) so that the machine's load falls on each alike. With ``--full N`` each run is
instead one reply of N tokens sent as fast as the server can: Enter -> its end marker in the terminal's
output, wall time and the app's CPU meanwhile.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import select
import signal
import statistics
import struct
import subprocess
import tempfile
import termios
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAKE = Path("/work/shared/bench/fake_llm_server.py")
PYTHON = "/work/main/.venv/bin/python"
TICK = os.sysconf("SC_CLK_TCK")
# The app's main thread (its event loop) under cProfile between SIGUSR1 and SIGUSR2 (which writes the file).
PROFILED = """
import cProfile, signal
p = cProfile.Profile()
signal.signal(signal.SIGUSR1, lambda *a: p.enable())
def stop(*a):
    p.disable()
    p.dump_stats({out!r})
signal.signal(signal.SIGUSR2, stop)
from tui_agents.cli import main
main()
"""

# The app's own CPU (all threads, clock resolution) between SIGUSR1 and SIGUSR2, written to a file: --full's figure
# (/proc's utime+stime count 10 ms ticks, too coarse for a 0.2 s reply).
TIMED = """
import signal, time
c0 = [0.0]
signal.signal(signal.SIGUSR1, lambda *a: c0.__setitem__(0, time.process_time()))
def stop(*a):
    with open({out!r}, "w") as f:
        f.write(repr(time.process_time() - c0[0]))
signal.signal(signal.SIGUSR2, stop)
from tui_agents.cli import main
main()
"""


def proc_cpu(pid: int, task: int | None = None) -> float:
    """utime + stime of one process (all its threads), or of its thread ``task``, in seconds."""
    path = f"/proc/{pid}/stat" if task is None else f"/proc/{pid}/task/{task}/stat"
    with open(path, "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def main_thread_cpu(pid: int) -> float:
    """CPU of the process's main thread (the app's event loop); the rest is its other threads."""
    return proc_cpu(pid, pid)


class FakeServer:
    """The shared harness's fake LLM server in a subprocess, its JSON-lines log read back."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="bench-stream-")
        self.log = Path(self.dir) / "server.log"
        env = dict(os.environ, FAKE_LLM_PORT="0", FAKE_LLM_LOG=str(self.log))
        self.proc = subprocess.Popen([PYTHON, str(FAKE)], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline().split()
        self.port = int(line[2])

    def event(self, name: str, **match) -> dict | None:
        if not self.log.exists():
            return None
        for line in self.log.read_text().splitlines():
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if ev.get("event") == name and all(ev.get(k) == v for k, v in match.items()):
                return ev
        return None

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)


class App:
    """aiagents-tui from one tree in a pseudo-terminal; its output is drained in a thread."""

    def __init__(self, tree: Path, port: int, cols: int = 120, rows: int = 40, profile: str | None = None,
                 extra: dict[str, str] | None = None, timed: bool = False) -> None:
        self.home = tempfile.mkdtemp(prefix="bench-app-")
        self.cpu_file = Path(self.home) / "cpu.txt" if timed else None
        env = {
            "PATH": os.environ["PATH"], "HOME": self.home, "TERM": "xterm-256color", "COLORTERM": "truecolor",
            "XDG_CONFIG_HOME": f"{self.home}/config", "XDG_DATA_HOME": f"{self.home}/data",
            "XDG_CACHE_HOME": f"{self.home}/cache", "XDG_STATE_HOME": f"{self.home}/state",
            "TIKTOKEN_CACHE_DIR": f"{self.home}/cache/tiktoken", "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
            "OLLAMA_HOST": f"127.0.0.1:{port}", "PYTHONPATH": str(tree), "NO_PROXY": "127.0.0.1,localhost",
            **(extra or {}),
        }
        boot = (PROFILED.format(out=profile) if profile else TIMED.format(out=str(self.cpu_file)) if timed
                else "from tui_agents.cli import main; main()")
        cmd = [PYTHON, "-c", boot,
               "--provider", "ollama", "--model", "bench-model", "--db", f"{self.home}/db.sqlite"]
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            # `python -c` puts the working directory first on sys.path, ahead of PYTHONPATH: start
            # in the empty home so that the tree named by PYTHONPATH is the one imported.
            os.chdir(self.home)
            os.execve(PYTHON, cmd, env)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.out = bytearray()
        self.bytes = 0
        self._stop = False
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        while not self._stop:
            r, _, _ = select.select([self.fd], [], [], 0.1)
            if not r:
                continue
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                return
            self.bytes += len(data)
            if len(self.out) < 50_000_000:
                self.out += data

    def wait_for(self, text: bytes, timeout: float = 60, start: int = 0, step: float = 0.05) -> None:
        deadline = time.monotonic() + timeout
        while self.out.find(text, start) < 0:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{text!r} not seen")
            time.sleep(step)

    def type(self, text: str) -> None:
        for ch in text:
            os.write(self.fd, ch.encode())
            time.sleep(0.005)

    def cpu(self) -> float:
        return proc_cpu(self.pid)

    def quit(self) -> None:
        try:
            os.write(self.fd, b"\x11")
            for _ in range(50):
                if os.waitpid(self.pid, os.WNOHANG)[0]:
                    break
                time.sleep(0.1)
            else:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
        except (OSError, ChildProcessError):
            pass
        self._stop = True
        os.close(self.fd)


def full_speed_run(app: App, args: argparse.Namespace, run_id: str) -> dict:
    """A reply of ``--full`` tokens as fast as the server sends: Enter -> its end marker drawn, and the CPU meanwhile.

    With ``--first N`` a reply of N tokens comes first in the same thread, as in the shared harness.
    """
    if args.first:
        app.type(f"go bench:tokens={args.first} bench:rate=0 bench:id=w{run_id}\r")
        app.wait_for(f"QZENDw{run_id}".encode(), timeout=60)
        time.sleep(args.settle)
    app.type(f"go bench:tokens={args.full} bench:rate=0 bench:id={run_id}")
    time.sleep(0.3)
    start = len(app.out)
    signals = args.profile or args.mark or app.cpu_file
    if signals:
        os.kill(app.pid, signal.SIGUSR1)
    c0, t0 = app.cpu(), time.monotonic()
    app.type("\r")
    app.wait_for(f"QZEND{run_id}".encode(), timeout=60, start=start, step=0.002)
    t1, c1 = time.monotonic(), app.cpu()
    if signals:
        os.kill(app.pid, signal.SIGUSR2)
    res = {"wall_s": t1 - t0, "cpu_s": c1 - c0}
    if app.cpu_file is not None:
        deadline = time.monotonic() + 5
        while not (app.cpu_file.exists() and app.cpu_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.01)
        res["app_cpu_s"] = float(app.cpu_file.read_text())
    return res


def one_run(spec: str, server: FakeServer, args: argparse.Namespace, run_id: str) -> dict:
    profile = f"{args.profile}.{run_id}.prof" if args.profile else None
    path, *extra = spec.split(",")
    app = App(Path(path).resolve(), server.port, profile=profile, extra=dict(e.split("=", 1) for e in extra),
              timed=bool(args.full) and not (profile or args.mark))
    try:
        app.wait_for(b"aiagents-tui")
        time.sleep(args.settle)
        if args.full:
            return full_speed_run(app, args, run_id)
        idle0 = app.cpu()
        time.sleep(1.0)
        idle = app.cpu() - idle0
        app.type(f"go bench:tokens={args.tokens} bench:rate={args.rate:g} bench:id={run_id}")
        time.sleep(0.3)
        app.type("\r")
        deadline = time.monotonic() + 30
        while (req := server.event("request_start", bench_id=run_id)) is None:
            if time.monotonic() > deadline:
                raise TimeoutError("no request at the server")
            time.sleep(0.02)
        # the log's "mono" is time.monotonic(), comparable across processes
        t_a = req["mono"] + args.skip
        time.sleep(max(0.0, t_a - time.monotonic()))
        if profile or args.mark:
            os.kill(app.pid, signal.SIGUSR1)
        c_a, m_a, w_a, b_a = app.cpu(), main_thread_cpu(app.pid), time.monotonic(), app.bytes
        time.sleep(args.window)
        c_b, m_b, w_b, b_b = app.cpu(), main_thread_cpu(app.pid), time.monotonic(), app.bytes
        if profile or args.mark:
            os.kill(app.pid, signal.SIGUSR2)
        if profile:
            print(f"profile of the window: {profile}")
        while server.event("last_byte", req=req["req"]) is None and time.monotonic() < w_b + 60:
            time.sleep(0.1)
        cpu = c_b - c_a
        tokens = args.rate * (w_b - w_a)
        return {"cpu_s": cpu, "pct": 100 * cpu / (w_b - w_a), "main_pct": 100 * (m_b - m_a) / (w_b - w_a), "cpu_per_1k": 1000 * cpu / tokens,
                "out_kib_s": (b_b - b_a) / 1024 / (w_b - w_a), "idle_pct": 100 * idle}
    finally:
        app.quit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", required=True, metavar="LABEL=PATH[,VAR=VALUE...]",
                        help="a source tree to run, with environment variables of its own (e.g. an experiment's switch)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--tokens", type=int, default=600)
    parser.add_argument("--skip", type=float, default=2.0, help="seconds after the request before the window")
    parser.add_argument("--window", type=float, default=8.0)
    parser.add_argument("--settle", type=float, default=3.0, help="seconds after the first screen before typing")
    parser.add_argument("--full", type=int, default=0, metavar="TOKENS",
                        help="instead: one reply of TOKENS at full speed per run, Enter -> end marker drawn (wall and CPU s)")
    parser.add_argument("--first", type=int, default=0, metavar="TOKENS",
                        help="with --full: a reply of TOKENS first in the same thread (the shared harness sends 20)")
    parser.add_argument("--json", metavar="FILE", help="write every run to FILE")
    parser.add_argument("--mark", action="store_true",
                        help="send the app SIGUSR1 at the window's start and SIGUSR2 at its end (for a hook of your own)")
    parser.add_argument("--profile", metavar="PREFIX", help="cProfile the app's event loop over the window into PREFIX.<run>.prof")
    args = parser.parse_args()
    trees = [(label, spec) for label, spec in (t.split("=", 1) for t in args.tree)]
    server = FakeServer()
    results: dict[str, list[dict]] = {label: [] for label, _ in trees}
    loads = [os.getloadavg()[0]]
    try:
        for i in range(args.runs):
            for label, tree in trees:
                res = one_run(tree, server, args, f"{label}{i}x{os.getpid()}")
                results[label].append(res)
                loads.append(os.getloadavg()[0])
                if args.full:
                    exact = f" (in the app {res['app_cpu_s']:.4f} s)" if "app_cpu_s" in res else ""
                    print(f"run {i} {label}: Enter -> end drawn {res['wall_s']:.3f} s, CPU {res['cpu_s']:.3f} s{exact}, "
                          f"load {loads[-1]:.2f}", flush=True)
                    continue
                print(f"run {i} {label}: {res['cpu_per_1k']:.3f} CPU-s/1k tok, {res['pct']:.1f} % (main thread {res['main_pct']:.1f}), "
                      f"out {res['out_kib_s']:.1f} KiB/s, idle {res['idle_pct']:.1f} %, load {loads[-1]:.2f}", flush=True)
    finally:
        server.stop()
    what = (f"{args.full} tokens at full speed" if args.full
            else f"{args.rate:g} tok/s, window {args.window:g} s after {args.skip:g} s")
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load {loads[0]:.2f} -> {loads[-1]:.2f} "
          f"(max {max(loads):.2f}); {what}; {args.runs} runs")
    first = first_exact = None
    for label, runs in results.items():
        if args.full:
            wall = statistics.median(r["wall_s"] for r in runs)
            cpu = statistics.median(r["cpu_s"] for r in runs)
            first = first or cpu
            print(f"{label:>12}: {args.full} tokens at full speed, Enter -> end drawn {wall:.3f} s, CPU {cpu:.3f} s "
                  f"(medians; CPU all " + ", ".join(f"{r['cpu_s']:.3f}" for r in runs) + f"), CPU x{cpu / first:.2f}")
            exact = [r["app_cpu_s"] for r in runs if "app_cpu_s" in r]
            if exact:
                first_exact = first_exact or statistics.median(exact)
                print(f"{'':>12}  CPU in the app (process_time, all threads) {statistics.median(exact) * 1000:.1f} ms "
                      f"(median; all " + ", ".join(f"{x * 1000:.0f}" for x in exact)
                      + f"), x{statistics.median(exact) / first_exact:.2f}")
            continue
        med = statistics.median(r["cpu_per_1k"] for r in runs)
        pct = statistics.median(r["pct"] for r in runs)
        first = first or med
        print(f"{label:>12}: {med:.3f} CPU-s per 1,000 tokens (median; all "
              + ", ".join(f"{r['cpu_per_1k']:.3f}" for r in runs) + f"), {pct:.1f} % of a core, x{med / first:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "loads": loads, "results": results}, indent=1))


if __name__ == "__main__":
    main()
