"""The first reply of a session: Enter -> the chat request at the server, the real app in tmux, trees alternated.

The shared harness (``../shared/bench/run_tui_bench.py``) measures this row beside the peers, but only three
launches per app and with its own apps list. This runs the same user story many times, one launch of each
tree per round (the order alternating), so that a change can be compared with the tree before it on a
machine whose load moves by the minute: launch on an empty database, wait for the first screen, type a
prompt at once, wait ``--settle`` seconds (the harness waits 0.5 s), press Enter, and time the request's
arrival at the fake Ollama server on loopback.

    PYTHONPATH=. python benchmarks/bench_first_request.py --rounds 9 --baseline /tmp/base
    PYTHONPATH=. python benchmarks/bench_first_request.py --settle 3   # an engine long warm
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.llm_server import FakeLLMServer, Reply  # noqa: E402

PROMPT = "hello there, how are you"
TMUX = ["tmux", "-L", f"firstreq{os.getpid()}"]  # a server of its own, kept up by a "keeper" session


def _screen(session: str) -> str:
    return subprocess.run([*TMUX, "capture-pane", "-p", "-t", session], capture_output=True, text=True, check=False).stdout


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.005)


def one_launch(tree: Path, server: FakeLLMServer, settle: float, python: str) -> float:
    """Seconds from Enter (tmux send-keys) to the chat request at the server, for one fresh launch."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {"PATH": "/usr/bin:/bin", "TERM": "xterm-256color", "HOME": tmp, "XDG_CONFIG_HOME": f"{tmp}/config",
               "XDG_DATA_HOME": f"{tmp}/data", "XDG_STATE_HOME": f"{tmp}/state", "XDG_CACHE_HOME": f"{tmp}/cache",
               "PYTHONPATH": str(tree), "OLLAMA_HOST": server.base_url,
               "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring", "TIKTOKEN_CACHE_DIR": f"{tmp}/tiktoken"}
        command = " ".join(["env", "-i", *(f"{k}={shlex.quote(v)}" for k, v in env.items()), shlex.quote(python),
                            "-c", shlex.quote("import sys; from tui_agents.cli import main; sys.exit(main())"), "--provider", "ollama", "--model", "bench-model",
                            "--db", shlex.quote(f"{tmp}/db.sqlite")])
        session = f"firstreq{os.getpid()}"
        subprocess.run([*TMUX, "new-session", "-d", "-s", session, "-x", "120", "-y", "40", "-c", tmp, command],
                       check=True)
        try:
            _wait(lambda: "aiagents-tui" in _screen(session), 30, "the first screen")
            subprocess.run([*TMUX, "send-keys", "-t", session, "-l", PROMPT], check=True)
            _wait(lambda: PROMPT in _screen(session), 15, "the prompt on screen")
            time.sleep(settle)
            server.script(Reply(text="fine, thanks " * 5, chunk_chars=4))
            seen = len(server.requests)
            t0 = time.time()
            subprocess.run([*TMUX, "send-keys", "-t", session, "Enter"], check=True)
            _wait(lambda: any(r.path == "/api/chat" for r in server.requests[seen:]), 30, "the chat request")
            request = next(r for r in server.requests[seen:] if r.path == "/api/chat")
            time.sleep(0.3)  # the reply lands before the app is killed
            return request.received_at - t0
        finally:
            subprocess.run([*TMUX, "kill-session", "-t", session], capture_output=True, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--settle", type=float, default=0.5, help="seconds between the prompt on screen and Enter")
    parser.add_argument("--baseline", type=Path, help="another tree's tui_agents, run alternated as 'before'")
    parser.add_argument("--python", default=sys.executable, help="the interpreter with the app's dependencies")
    args = parser.parse_args()
    trees = {"after": ROOT}
    if args.baseline is not None:
        trees = {"before": args.baseline.resolve(), "after": ROOT}
    server = FakeLLMServer().start()
    subprocess.run([*TMUX, "new-session", "-d", "-s", "keeper"], check=True)
    times: dict[str, list[float]] = {name: [] for name in trees}
    load0 = os.getloadavg()[0]
    try:
        one_launch(ROOT, server, args.settle, args.python)  # unmeasured: the page cache warm for every tree
        for r in range(args.rounds):
            order = list(trees.items()) if r % 2 == 0 else list(reversed(trees.items()))
            for name, tree in order:
                times[name].append(one_launch(tree, server, args.settle, args.python))
    finally:
        server.stop()
        subprocess.run([*TMUX, "kill-server"], capture_output=True, check=False)
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load {load0:.2f} at start, "
          f"{os.getloadavg()[0]:.2f} at end; {os.cpu_count()} CPUs; settle {args.settle} s; {args.rounds} rounds")
    for name, values in times.items():
        print(f"{name:7} Enter -> request at the server: p50 {1000 * statistics.median(values):6.1f} ms   "
              f"min {1000 * min(values):6.1f}   max {1000 * max(values):6.1f}   ({trees[name]})")
    if "before" in times:
        print(f"after / before (medians): {statistics.median(times['after']) / statistics.median(times['before']):.2f}")


if __name__ == "__main__":
    main()
