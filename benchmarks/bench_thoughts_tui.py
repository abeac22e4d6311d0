#!/usr/bin/env python3
"""Thoughts in the app: does a streamed thought cost per token what the reply costs? (tmux, like a user)

Cases, alternated in each round so both see the same machine load:
  reply N          Enter -> the end marker of an N-token reply visible
  think N + reply N  the same reply after an N-token thought (Ollama ``message.thinking``), which streams
                   into the thoughts block and folds when the reply starts

Target (issue #15): "think N + reply N" within 2x "reply N". The app is the one of this source tree,
run by the shared venv's console script; the provider is the fake server of tests/fakes on 127.0.0.1.

    python benchmarks/bench_thoughts_tui.py [--tokens 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
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
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_tui  # noqa: E402
from bench_tui import Tmux, launch, reply_text  # noqa: E402

from tests.fakes.llm_server import FakeLLMServer, Reply  # noqa: E402


def one_turn(workdir: Path, server: FakeLLMServer, tokens: int, think: bool, tag: str) -> float:
    """Seconds from Enter to the reply's end marker on screen, in a freshly started app."""
    tmux = Tmux(workdir)
    try:
        launch(tmux, workdir / f"{tag}.sqlite", workdir / f"home-{tag}", server)
        tmux.wait_for("New chat with")
        server.script(Reply(text=reply_text(20, "WARMEND"), chunk_chars=5))
        tmux.keys("warm up", literal=True)
        tmux.keys("Enter")
        tmux.wait_for("WARMEND")
        time.sleep(0.5)
        marker = f"QZEND{tag}"
        thought = reply_text(tokens, "THOUGHTEND") if think else None
        server.script(Reply(text=reply_text(tokens, marker), thinking=thought, chunk_chars=5))
        tmux.keys(f"go {tag}", literal=True)
        time.sleep(0.2)
        t0 = time.perf_counter()
        tmux.keys("Enter")
        return tmux.wait_for(marker) - t0
    finally:
        tmux.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if not bench_tui.APP.exists():  # a worktree has no venv of its own: the shared one, this tree's code
        bench_tui.APP = Path(sys.executable).with_name("aiagents-tui")
    Tmux.src = ROOT
    load = os.getloadavg()[0]
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    server = FakeLLMServer().start()
    workdir = Path(tempfile.mkdtemp(prefix="bench-thoughts-"))
    plain: list[float] = []
    thinking: list[float] = []
    try:
        for r in range(args.rounds):
            plain.append(one_turn(workdir, server, args.tokens, False, f"r{r}"))
            thinking.append(one_turn(workdir, server, args.tokens, True, f"t{r}"))
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    p_plain, p_think = statistics.median(plain), statistics.median(thinking)
    print(f"uptime: {uptime} (load {load:.2f})")
    print(f"reply {args.tokens}:            " + " ".join(f"{v:.3f}" for v in plain) + f"  median {p_plain:.3f} s")
    print(f"think {args.tokens} + reply {args.tokens}: " + " ".join(f"{v:.3f}" for v in thinking)
          + f"  median {p_think:.3f} s")
    ratio = p_think / p_plain
    print(f"ratio {ratio:.2f} (target at most 2.00: {'met' if ratio <= 2 else 'MISSED'})")


if __name__ == "__main__":
    main()
