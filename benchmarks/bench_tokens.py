"""What a tiktoken encoding costs the app: time and RSS to load it, and what freeing the Python ranks gives back.

    PYTHONPATH=. python benchmarks/bench_tokens.py [--runs 3]

Each run is a fresh interpreter per encoding (o200k_base, cl100k_base): RSS before the load, after
parsing the ranks, after tiktoken built its encoder (the Rust side keeps its own copy), and after
``TokenCounter``'s load (which drops the Python copy of the ranks). Also: what an estimating
counter (the one local models get) costs: it never imports tiktoken.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent(
    """
    import gc, json, sys, time
    def rss():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS"):
                    return int(line.split()[1]) / 1024
    name = sys.argv[1]
    from tui_agents.memory import tokens as T
    out = {"base": rss()}
    if name == "estimate":
        t = time.perf_counter()
        counter = T.TokenCounter.for_model("ollama", "llama3.2")
        counter.count("hello world " * 100)
        out.update(load_ms=(time.perf_counter() - t) * 1000, after=rss(), tiktoken="tiktoken" in sys.modules)
        print(json.dumps(out)); raise SystemExit
    import tiktoken
    spec = T.ENCODINGS[name]
    out["import"] = rss()
    t0 = time.perf_counter()
    data = T._read_verified(spec)
    t1 = time.perf_counter()
    ranks = T._parse_ranks(data)
    t2 = time.perf_counter()
    out["parsed"] = rss()
    enc = tiktoken.Encoding(spec.name, pat_str=spec.pat_str, mergeable_ranks=ranks,
                            special_tokens=dict(spec.special_tokens))
    t3 = time.perf_counter()
    del data, ranks
    gc.collect()
    out["built"] = rss()
    enc._mergeable_ranks = {}
    gc.collect()
    out["freed"] = rss()
    out.update(read_ms=(t1 - t0) * 1000, parse_ms=(t2 - t1) * 1000, build_ms=(t3 - t2) * 1000)
    assert enc.encode_ordinary("hello world") == enc.encode_ordinary("hello world")
    print(json.dumps(out))
    """
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load {os.getloadavg()[0]:.2f}; "
          f"{os.cpu_count()} CPUs; medians of {args.runs} fresh processes")
    for name in ("o200k_base", "cl100k_base", "estimate"):
        runs = [json.loads(subprocess.run([sys.executable, "-c", CHILD, name], env=env, capture_output=True,
                                          text=True, check=True).stdout) for _ in range(args.runs)]
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0] if not isinstance(runs[0][k], bool)}
        if name == "estimate":
            print(f"estimate (local models): {med['load_ms']:.1f} ms, RSS +{med['after'] - med['base']:.1f} MiB, "
                  f"tiktoken imported: {runs[0]['tiktoken']}")
            continue
        print(f"{name}: read+verify {med['read_ms']:.0f} ms, parse {med['parse_ms']:.0f} ms, build "
              f"{med['build_ms']:.0f} ms; RSS after import {med['import']:.1f}, parsed {med['parsed']:.1f}, "
              f"built {med['built']:.1f} (+{med['built'] - med['import']:.1f}), Python ranks freed "
              f"{med['freed']:.1f} (+{med['freed'] - med['import']:.1f}) MiB")


if __name__ == "__main__":
    main()
