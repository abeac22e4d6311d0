"""``aiagents-tui usage``: tokens and cost of the saved replies, as a table.

    aiagents-tui usage                      # by model, all time
    aiagents-tui usage --since 2026-12-01 --by day

Token counts are exact (thousands separators, never 12.5k). Costs come from
``tui_agents.pricing``; a model without a known price shows "unknown".
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["add_parser", "run", "summarize", "render_table"]


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register the ``usage`` subcommand on the CLI's subparsers."""
    usage = sub.add_parser("usage", help="tokens and cost of saved replies")
    usage.add_argument("--since", metavar="YYYY-MM-DD", help="only replies from this local date on")
    usage.add_argument("--by", choices=("model", "day", "thread"), default="model", help="how to group (model)")
    usage.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS,
                       help="SQLite database (default: $AIAGENTS_DB, else the app's)")
    usage.set_defaults(func=run)
    return usage


def _since(text: str | None) -> float | None:
    """Local midnight of an ISO date as a Unix time."""
    if not text:
        return None
    from datetime import date, datetime

    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--since takes a date as YYYY-MM-DD (e.g. 2026-12-01), not {text!r}.") from None
    return datetime(day.year, day.month, day.day).timestamp()


def summarize(rows: list[dict[str, Any]], prices: Any) -> list[dict[str, Any]]:
    """Rows per key (the store gives one per key and model) with their cost; None cost when any part is unknown."""
    merged: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = merged.setdefault(row["key"], {"key": row["key"], "title": row.get("title"), "replies": 0,
                                               "input_tokens": 0, "output_tokens": 0, "cost": 0.0, "unknown": False})
        entry["replies"] += row["replies"]
        entry["input_tokens"] += row["input_tokens"]
        entry["output_tokens"] += row["output_tokens"]
        cost = prices.cost(row["provider"], row["model"], row["input_tokens"], row["output_tokens"])
        if cost is None:
            entry["unknown"] = True
        else:
            entry["cost"] += cost
    return list(merged.values())


def _cost_text(entry: dict[str, Any]) -> str:
    from .pricing import format_cost

    if not entry["unknown"]:
        return format_cost(entry["cost"])
    return "unknown" if entry["cost"] == 0 else f"{format_cost(entry['cost'])} + unknown"


def render_table(entries: list[dict[str, Any]], by: str) -> str:
    """A plain, aligned table with a total row."""
    heading = {"model": "MODEL", "day": "DAY", "thread": "THREAD"}[by]
    total = {"key": "TOTAL", "replies": 0, "input_tokens": 0, "output_tokens": 0, "cost": 0.0, "unknown": False}
    lines = [[heading, "REPLIES", "INPUT TOKENS", "OUTPUT TOKENS", "COST"]]
    for entry in entries:
        label = entry["key"] or "(no model)"
        if by == "thread" and entry.get("title"):
            label = f"{entry['title'][:40]} ({entry['key']})"
        lines.append([label, f"{entry['replies']:,}", f"{entry['input_tokens']:,}", f"{entry['output_tokens']:,}",
                      _cost_text(entry)])
        for field in ("replies", "input_tokens", "output_tokens", "cost"):
            total[field] += entry[field]
        total["unknown"] = total["unknown"] or entry["unknown"]
    lines.append(["TOTAL", f"{total['replies']:,}", f"{total['input_tokens']:,}", f"{total['output_tokens']:,}",
                  _cost_text(total)])
    widths = [max(len(line[i]) for line in lines) for i in range(5)]

    def fmt(line: list[str]) -> str:
        return "  ".join([line[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(line[1:], widths[1:])])

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([fmt(lines[0]), rule, *(fmt(line) for line in lines[1:-1]), rule, fmt(lines[-1])])


async def run(args: argparse.Namespace) -> int:
    """Print the usage table; one plain line on stderr and status 1 on failure."""
    from .config import load_config
    from .errors import AgentError
    from .pricing import PRICES_AS_OF, PriceTable
    from .store import connect
    from .store.usage import UsageStore

    try:
        since = _since(args.since)
        prices = PriceTable.from_config(load_config())
        if not args.db_path.exists():
            rows: list[dict[str, Any]] = []
        else:
            conn = await connect(args.db_path)
            try:
                rows = await UsageStore(conn).totals(args.by, since=since)
            finally:
                await conn.close()
    except (AgentError, ValueError) as exc:
        print(f"aiagents-tui: {exc}", file=sys.stderr)
        return 1
    if not rows:
        print("No replies with token usage" + (f" since {args.since}." if args.since else " yet."))
        return 0
    print(render_table(summarize(rows, prices), args.by))
    print(f"\nCosts use list prices in US dollars as of {PRICES_AS_OF} (override them under [prices] in the config); "
          "local models cost 0.", file=sys.stderr)
    return 0
