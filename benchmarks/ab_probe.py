"""Big-history start-up, A/B interleaved: the shared probe run one launch at a time, alternating the apps.

``../shared/bench/bigdb/probe_startup.py`` measures its apps one after the other; on a shared machine
whose load changes by the minute that favours whichever ran in the quieter minute. This runs the
probe for one launch of each spec per round, alternating which goes first, and prints the medians
of every marker (first screen, thread list drawn), of the time a word typed at the first screen
took to show, and of the CPU seconds until the app went quiet, with the load before and after.

    AIAGENTS_DIR=$PWD AIAGENTS_BIGDB=/tmp/bigdb-copy.sqlite python benchmarks/ab_probe.py \\
        --app /tmp/before-bigdb.toml --app benchmarks/harness/aiagents-tui-bigdb.toml --rounds 5 --out /tmp/ab
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

PROBE = Path(__file__).resolve().parents[1].parent / "shared" / "bench" / "bigdb" / "probe_startup.py"


def load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def one_launch(probe: Path, spec: str, out: Path) -> tuple[str, dict]:
    """One measured launch of ``spec`` (after the probe's own warm-up launch): (app name, sample)."""
    subprocess.run([sys.executable, str(probe), "--app", spec, "--repeats", "1", "--out", str(out)],
                   check=True, capture_output=True, text=True)
    result = json.loads((out / "probe.json").read_text())
    (name, entry), = result["apps"].items()
    samples = entry.get("samples") or [{"error": entry.get("error", "no sample")}]
    return name, samples[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--app", action="append", required=True, metavar="SPEC.toml")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--probe", type=Path, default=PROBE)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    samples: dict[str, list[dict]] = {}
    loads = [load()]
    for r in range(args.rounds):
        order = args.app if r % 2 == 0 else list(reversed(args.app))
        for i, spec in enumerate(order):
            name, sample = one_launch(args.probe, spec, args.out / f"round{r}-{i}")
            samples.setdefault(name, []).append(sample)
            print(f"round {r + 1} {name}: {json.dumps(sample)}", file=sys.stderr, flush=True)
    loads.append(load())
    (args.out / "ab.json").write_text(json.dumps({"load": loads, "samples": samples}, indent=2) + "\n")
    print(f"load (1-min average) before / after: {loads[0]} / {loads[1]}; {args.rounds} launches per app")
    print("| app | first screen | thread list drawn | word typed at first screen shown after | CPU s until quiet |")
    print("|---|---|---|---|---|")
    for name, rows in samples.items():
        ok = [s for s in rows if "error" not in s and not s.get("timed_out")]

        def med(values: list) -> str:
            values = [v for v in values if v is not None]
            return f"{statistics.median(values):.3f}" if values else "-"

        markers = [m for m in (ok[0]["markers_s"] if ok else {})]
        cells = [med([s["markers_s"].get(m) for s in ok]) for m in markers]
        print(f"| {name} | {' | '.join(cells)} | {med([s.get('typed_early_shown_after_s') for s in ok])} "
              f"| {med([s.get('cpu_s') for s in ok])} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
