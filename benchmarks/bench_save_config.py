"""What saving the settings costs: ``save_config`` of this tree (tomlkit, merged into the user's file)
beside another tree's (e.g. the baseline, which dumped every setting with tomli-w), interleaved.

    .venv/bin/python benchmarks/bench_save_config.py --base /tmp/base-9484498
    .venv/bin/python benchmarks/bench_save_config.py --base /tmp/base-9484498 --rounds 3 --saves 20   # quick

Each round runs one process per tree, A then B, on the same hand-written file (comments, an MCP
server, a price, always_allow): the first save (it imports the TOML writer) and then ``--saves``
saves, each changing one setting, as "allow always" or the settings screen does. CPU time of the
save alone (``time.process_time``), in ms; the table gives the median and p95 of all rounds.
Saving runs in a thread (``asyncio.to_thread``), off the UI's event loop.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FILE = '''\
# My settings
user_id = "ana"        # who I am
theme = "nord"   # dark at night
default_model = "qwen3"

[tools]
always_allow = [
    "files:read_file",   # harmless
]

[mcp_servers.files]   # my notes
command = "npx"
args = ["-y", "@modelcontextprotocol/server-filesystem", "/home/ana/notes"]
env = { LOG_LEVEL = "warn" }

[prices."my-model"]
input = 1.0
output = 2.0
'''

WORKER = '''
import json, sys, time
from pathlib import Path
path, saves = Path(sys.argv[1]), int(sys.argv[2])
from tui_agents.config import load_config, save_config
config = load_config(path)
out = {"first": 0.0, "each": []}
config.theme = "dracula"
start = time.process_time(); save_config(config, path); out["first"] = (time.process_time() - start) * 1000
for i in range(saves):
    config = load_config(path)  # as "allow always" does: read, change one thing, save
    config.tools.always_allow.append(f"files:tool_{i}")
    start = time.process_time(); save_config(config, path); out["each"].append((time.process_time() - start) * 1000)
print(json.dumps(out))
'''


def run(tree: Path, saves: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.toml"
        path.write_text(FILE, encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
        done = subprocess.run([sys.executable, "-c", WORKER, str(path), str(saves)], env=env, cwd=tmp,
                              capture_output=True, text=True, check=True)
        return json.loads(done.stdout)


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", type=Path, required=True, help="the other tree (e.g. /tmp/base-9484498)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--saves", type=int, default=40)
    args = ap.parse_args()
    trees = {"base": args.base, "this tree": ROOT}
    first: dict[str, list[float]] = {name: [] for name in trees}
    each: dict[str, list[float]] = {name: [] for name in trees}
    for _ in range(args.rounds):
        for name, tree in trees.items():  # interleaved: A, B, A, B...
            result = run(tree, args.saves)
            first[name].append(result["first"])
            each[name].extend(result["each"])
    print(f"load: {os.getloadavg()[0]:.2f}  rounds: {args.rounds}  saves per round: {args.saves}")
    print(f"{'case':<40} {'n':>5} {'p50 ms':>8} {'p95 ms':>8}")
    for name in trees:
        print(f"{'first save (imports its writer), ' + name:<40} {len(first[name]):>5} "
              f"{statistics.median(first[name]):>8.2f} {p95(first[name]):>8.2f}")
        print(f"{'a save, ' + name:<40} {len(each[name]):>5} {statistics.median(each[name]):>8.2f} "
              f"{p95(each[name]):>8.2f}")
    ratio = statistics.median(each["this tree"]) / statistics.median(each["base"])
    print(f"ratio of the medians (this tree / base), a save: {ratio:.2f}")


if __name__ == "__main__":
    main()
