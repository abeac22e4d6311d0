"""``aiagents-tui ask``: start-up and first-token latency, against the fake LLM server on loopback.

    PYTHONPATH=. python benchmarks/bench_ask.py [--runs 15]

Cases (each a fresh ``python -m tui_agents.cli ask`` process, a real SQLite file):
- ``startup``: process spawn -> the chat request arrives at the server (interpreter, imports,
  config, database open, user message saved). Target <= 300 ms.
- ``first token (pipe)``: the server's first reply byte -> the first reply byte read from the
  child's stdout (plain text into a pipe). Target <= 150 ms.
- ``first token (tty)``: the same on a pseudo-terminal, where the reply is rendered Markdown.
- ``whole run``: spawn -> exit for a two-sentence reply (includes the title request).
- ``CPU time``: user + sys seconds of the whole ``ask`` process, less sensitive to load than wall time.
- ``bare python``: the interpreter alone, to read the others against this machine's load.

The server's first byte is taken as the request's arrival time (the fake records it) plus the
scripted ``first_delay``: the fake sends the first frame right after that sleep.
"""

from __future__ import annotations

import argparse
import os
import pty
import resource
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.llm_server import FakeLLMServer, Reply  # noqa: E402

FIRST_DELAY = 0.4
REPLY = "Hello there. This is a **short** reply."


def _env(fake: FakeLLMServer, tmp: str) -> dict[str, str]:
    # Byte-code caching on, as in an installed package (this machine's shells set PYTHONDONTWRITEBYTECODE).
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and k != "PYTHONDONTWRITEBYTECODE"}
    env.update({"PYTHONPATH": str(ROOT), "AIAGENTS_CONFIG": f"{tmp}/config.toml", "AIAGENTS_DB": f"{tmp}/bench.db",
                "ANTHROPIC_BASE_URL": fake.base_url, "ANTHROPIC_API_KEY": "bench", "TERM": "xterm-256color"})
    return env


def _command() -> list[str]:
    return [sys.executable, "-m", "tui_agents.cli", "ask", "--provider", "anthropic", "Say hello"]


def _read_first_byte(fd: int, timeout: float = 30) -> float:
    ready, _, _ = select.select([fd], [], [], timeout)
    if not ready:
        raise RuntimeError("no output")
    stamp = time.time()
    os.read(fd, 1)
    return stamp


def run_once(fake: FakeLLMServer, env: dict[str, str], tty: bool) -> dict[str, float]:
    fake.reset()
    fake.script(Reply(text=REPLY, first_delay=FIRST_DELAY, chunk_chars=6), Reply(text="Greeting"))
    if tty:
        master, slave = pty.openpty()
        spawned = time.time()
        process = subprocess.Popen(_command(), stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.DEVNULL,
                                   env=env, cwd=ROOT)
        os.close(slave)
        out_fd = master
    else:
        spawned = time.time()
        process = subprocess.Popen(_command(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
        out_fd = process.stdout.fileno()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    first_out = _read_first_byte(out_fd)
    while True:  # drain to the end
        ready, _, _ = select.select([out_fd], [], [], 30)
        try:
            if not ready or not os.read(out_fd, 65536):
                break
        except OSError:  # a pty reports EIO once the child has gone
            break
    process.wait(30)
    ended = time.time()
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    if tty:
        os.close(master)
    if process.returncode != 0:
        raise RuntimeError(f"ask exited with {process.returncode}")
    arrived = fake.requests[0].received_at
    return {"startup": arrived - spawned, "first": first_out - (arrived + FIRST_DELAY), "whole": ended - spawned,
            "cpu": cpu}


def _bare_python(env: dict[str, str]) -> tuple[float, float]:
    """The interpreter alone, for scale: (wall, CPU) seconds any Python CLI pays on this machine now."""
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.time()
    subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
    wall = time.time() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)


def _row(case: str, values: list[float], target: float | None) -> str:
    ms = sorted(v * 1000 for v in values)
    p50 = statistics.median(ms)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    verdict = "" if target is None else ("met" if p50 <= target else "MISSED")
    goal = "" if target is None else f"<= {target:.0f}"
    return f"| {case} | {len(ms)} | {p50:.0f} | {p95:.0f} | {goal} | {verdict} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    fake = FakeLLMServer().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = _env(fake, tmp)
            run_once(fake, env, tty=False)  # warm the file cache and create the database
            pipe = [run_once(fake, env, tty=False) for _ in range(args.runs)]
            tty = [run_once(fake, env, tty=True) for _ in range(args.runs)]
            bare = [_bare_python(env) for _ in range(args.runs)]
    finally:
        fake.stop()
    print(f"date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load {os.getloadavg()[0]:.2f} "
          f"(1-min avg); {os.cpu_count()} CPUs; Python {sys.version.split()[0]}")
    print("| case | n | p50 ms | p95 ms | target | |")
    print("|---|---|---|---|---|---|")
    print(_row("startup (spawn -> request at server)", [r["startup"] for r in pipe], 300))
    print(_row("first token, pipe (server byte -> stdout)", [r["first"] for r in pipe], 150))
    print(_row("first token, tty (rendered Markdown)", [r["first"] for r in tty], 150))
    print(_row("startup, tty", [r["startup"] for r in tty], 300))
    print(_row("whole run, pipe (incl. title request)", [r["whole"] for r in pipe], None))
    print(_row("whole run, pipe: CPU time of the process (user + sys)", [r["cpu"] for r in pipe], None))
    print(_row("reference: bare `python -c pass` (spawn -> exit)", [b[0] for b in bare], None))
    print(_row("reference: bare `python -c pass`, CPU time", [b[1] for b in bare], None))


if __name__ == "__main__":
    main()
