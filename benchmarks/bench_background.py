"""Benchmarks of issue 16's app parts, in a real terminal (tmux) like bench_tui.py.

Cases (each run alternates them, RUNS times; medians reported):
  cpu one      CPU of the app while one reply streams at 50 tokens/s in the open thread
  cpu two      CPU while two replies stream at 50 tokens/s each (one in the open thread, one in the background)
  startup      launch -> "New chat with" on screen, without and with an [mcp_servers] entry in the config
               (the server is the repository's MCP test server; lazy start means it must cost nothing)

    python benchmarks/bench_background.py [--runs 3] [--seconds 6]

Target (issue 16): two streams cost no more than twice one; MCP adds nothing to start-up.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_tui  # noqa: E402
from bench_tui import Tmux, cpu_seconds, reply_text  # noqa: E402
from tests.fakes.llm_server import FakeLLMServer, Reply  # noqa: E402

if not bench_tui.APP.exists():  # a worktree without its own venv: the shared venv's script, this tree's code
    bench_tui.APP = Path(sys.executable).with_name("aiagents-tui")
Tmux.src = ROOT  # type: ignore[assignment]

MCP_CONFIG = f"""
[mcp_servers.test]
command = "{sys.executable}"
args = ["-m", "tests.mcp.server", "stdio"]
cwd = "{ROOT}"
"""


def launch(tmux: Tmux, db: Path, home: Path, server: FakeLLMServer, config: str = "") -> float:
    """Start the app in tmux (its own config file; ``config`` is its TOML text)."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / "config.toml"
    path.write_text(config)
    env = {"OLLAMA_HOST": server.host_port, "HOME": home, "XDG_CONFIG_HOME": home / "c",
           "XDG_DATA_HOME": home / "d", "XDG_CACHE_HOME": home / "cache", "XDG_STATE_HOME": home / "s",
           "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring", "TERM": "xterm-256color",
           "NO_PROXY": "127.0.0.1,localhost", "AIAGENTS_CONFIG": path}
    t0 = time.perf_counter()
    tmux.start(f"{bench_tui.APP} --provider ollama --model bench --db {db}", env)
    return t0


def send(tmux: Tmux, text: str) -> None:
    tmux.keys(text, literal=True)
    time.sleep(0.1)
    tmux.keys("Enter")


def cpu_case(workdir: Path, server: FakeLLMServer, streams: int, seconds: float, tag: str) -> float:
    """% of one core used by the app while ``streams`` replies stream at 50 tokens/s."""
    tmux = Tmux(workdir)
    try:
        launch(tmux, workdir / f"{tag}.sqlite", workdir / f"h{tag}", server)
        tmux.wait_for("New chat with")
        pid = tmux.app_pid()
        server.script(Reply(text=reply_text(20, "WARMEND"), chunk_chars=5))
        send(tmux, "warm up")
        tmux.wait_for("WARMEND")
        time.sleep(1.5)  # the title job asks the server too: let it take the default reply, not ours
        tokens = int((seconds + 6) * 50)
        for i in range(streams):
            if i:
                tmux.keys("C-n")
                time.sleep(0.3)
            server.script(Reply(text=reply_text(tokens, f"END{i}"), chunk_chars=5, delay=0.02))
            send(tmux, f"stream {i}")
            time.sleep(0.5)
        time.sleep(1.0)
        c0, t0 = cpu_seconds(pid), time.perf_counter()
        time.sleep(seconds)
        pct = 100 * (cpu_seconds(pid) - c0) / (time.perf_counter() - t0)
        marks = tmux.screen().count("⋯")  # the sidebar marks each thread whose reply streams
        if marks < streams:
            raise RuntimeError(f"expected {streams} streaming threads at the end of the window, saw {marks}")
        tmux.wait_for(f"END{streams - 1}", timeout=120)
        return pct
    finally:
        tmux.kill()


def startup_case(workdir: Path, server: FakeLLMServer, config: str, tag: str) -> tuple[float, bool]:
    """Seconds from launch to the welcome text; whether an MCP server process was running then."""
    tmux = Tmux(workdir)
    try:
        t0 = launch(tmux, workdir / f"{tag}.sqlite", workdir / f"h{tag}", server, config)
        took = tmux.wait_for("New chat with") - t0
        time.sleep(1.0)
        children = subprocess.run(["pgrep", "-P", str(tmux.app_pid())], capture_output=True, text=True).stdout
        return took, bool(children.strip())
    finally:
        tmux.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()
    print("load:", Path("/proc/loadavg").read_text().split()[:3], time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    rows: dict[str, list[float]] = {"cpu one (%)": [], "cpu two (%)": [], "startup plain (s)": [],
                                    "startup with MCP (s)": []}
    started_servers = 0
    with tempfile.TemporaryDirectory() as tmp, FakeLLMServer() as server:
        workdir = Path(tmp)
        for run in range(args.runs):
            rows["cpu one (%)"].append(cpu_case(workdir, server, 1, args.seconds, f"one{run}"))
            rows["cpu two (%)"].append(cpu_case(workdir, server, 2, args.seconds, f"two{run}"))
            rows["startup plain (s)"].append(startup_case(workdir, server, "", f"plain{run}")[0])
            took, child = startup_case(workdir, server, MCP_CONFIG, f"mcp{run}")
            rows["startup with MCP (s)"].append(took)
            started_servers += child
            print(f"run {run + 1}:", {k: round(v[-1], 3) for k, v in rows.items()}, flush=True)
    print(f"{'case':28} {'n':>3} {'median':>9}  runs")
    for name, values in rows.items():
        print(f"{name:28} {len(values):>3} {statistics.median(values):>9.3f}  {[round(v, 3) for v in values]}")
    one, two = statistics.median(rows["cpu one (%)"]), statistics.median(rows["cpu two (%)"])
    print(f"two / one = {two / one:.2f} (target <= 2.00: {'met' if two <= 2 * one else 'MISSED'})")
    print(f"MCP server processes running after start-up: {started_servers} (target 0)")


if __name__ == "__main__":
    main()
