"""Enter -> the chat request at the server, per app, from a shared-harness run kept with ``--keep``.

The harness (``../shared/bench/run_tui_bench.py``) times "Enter -> request at server" with the *last*
request whose last user message carries the prompt's marker. An app that sends background requests
quoting the conversation after a reply (ours: the title and memory jobs, 0.1-0.15 s after the reply)
gets the time of that background request instead of its chat request. This reads the fake server's
log of the same run and moves each sample back to the *first* request carrying its marker: both times
are on the server's monotonic clock, so ``first = reported - (last_start - first_start)``.

    python3 ../shared/bench/run_tui_bench.py ... --keep --work-root /tmp/hk --out DIR
    python benchmarks/harness_request_latency.py DIR /tmp/hk/tuibench-*/fake_llm.log.jsonl
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path


def request_starts(log: Path) -> dict[str, list[float]]:
    """Monotonic times of every request_start, by the reply marker it carried."""
    starts: dict[str, list[float]] = {}
    for line in log.read_text().splitlines():
        event = json.loads(line)
        if event.get("event") == "request_start" and event.get("marker"):
            starts.setdefault(event["marker"], []).append(event["mono"])
    return starts


def corrected(reply: dict, starts: dict[str, list[float]]) -> tuple[float, int] | None:
    """(seconds from Enter to the first request with this reply's marker, requests with the marker)."""
    times = starts.get("QZEND" + str(reply.get("id")))
    if not times or reply.get("request_latency_s") is None:
        return None
    return reply["request_latency_s"] - (max(times) - min(times)), len(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="the harness's --out folder (results.json)")
    parser.add_argument("logs", type=Path, nargs="+", help="fake_llm.log.jsonl of the same run (--keep)")
    args = parser.parse_args()
    starts: dict[str, list[float]] = {}
    for log in args.logs:
        for marker, times in request_starts(log).items():
            starts.setdefault(marker, []).extend(times)
    results = json.loads((args.results / "results.json").read_text())
    print("| app | reply | n | harness (last request with the marker) | first request with the marker | "
          "requests per marker |")
    print("|---|---|---:|---:|---:|---:|")
    for app, samples in results["samples"].items():
        for kind in ("first_reply", "stream"):
            rows = [(s[kind].get("request_latency_s"), corrected(s[kind], starts)) for s in samples
                    if isinstance(s.get(kind), dict) and (kind == "first_reply" or s.get("scenario") != "rate")]
            rows = [(reported, fixed) for reported, fixed in rows if reported is not None and fixed is not None]
            if not rows:
                continue
            label = "first reply" if kind == "first_reply" else "unlimited-rate streams"
            print(f"| {app} | {label} | {len(rows)} | {statistics.median(r for r, _ in rows):.3f} s | "
                  f"{statistics.median(f for _, (f, _) in rows):.3f} s | "
                  f"{statistics.median(k for _, (_, k) in rows):g} |")


if __name__ == "__main__":
    main()
