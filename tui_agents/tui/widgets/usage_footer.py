"""A reply's usage line (tokens, time to first token, tokens per second, cost) and a thread's totals.

Figures come from what the runner stored: ``usage`` (the provider's exact
counts) and ``meta["ttft_ms"]`` / ``meta["duration_ms"]``; the cost from
``PriceTable`` ("cost unknown" when the model has no price, never a guess; local
models $0.00). A failed or stopped reply the provider reported no usage for shows no line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rich.text import Text
from textual.widgets import Static

__all__ = ["UsageFooter", "usage_line", "totals_line", "tokens_per_second"]


def tokens_per_second(output_tokens: int, ttft_ms: float | None, duration_ms: float | None) -> float | None:
    """Output tokens over the streaming time after the first token (None when it cannot be told)."""
    if not output_tokens or ttft_ms is None or duration_ms is None or duration_ms <= ttft_ms:
        return None
    return output_tokens / ((duration_ms - ttft_ms) / 1000)


def _cost(provider: str | None, model: str | None, input_tokens: int, output_tokens: int, prices: Any) -> str:
    cost = prices.cost(provider, model, input_tokens, output_tokens) if prices is not None else None
    return _cost_text(cost)


def _cost_text(cost: float | None) -> str:
    from ...pricing import format_cost

    return "cost unknown" if cost is None else format_cost(cost)


def usage_line(record: Mapping[str, Any], provider: str | None, prices: Any) -> str | None:
    """``in 1,234 · out 56 · first token 0.42 s · 38.1 tok/s · $0.0012`` for a reply with usage, else None."""
    usage = record.get("usage") or {}
    if not usage:
        return None
    meta = record.get("meta") or {}
    tokens_in, tokens_out = int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)
    if not tokens_in and not tokens_out and record.get("status", "complete") != "complete":
        return None  # a failed or stopped reply with nothing reported: no "in 0 · out 0 · $0.00"
    parts = [f"in {tokens_in:,}", f"out {tokens_out:,}"]
    ttft = meta.get("ttft_ms")
    if ttft is not None:
        parts.append(f"first token {ttft / 1000:.2f} s")
    rate = tokens_per_second(tokens_out, ttft, meta.get("duration_ms"))
    if rate is not None:
        parts.append(f"{rate:,.1f} tok/s")
    parts.append(_cost(provider, record.get("model"), tokens_in, tokens_out, prices))
    return " · ".join(parts)


def totals_line(rows: Iterable[Mapping[str, Any]], prices: Any) -> str:
    """A thread's totals from ``UsageStore.totals(by="thread")`` rows (one per model): replies, tokens, cost."""
    rows = list(rows)
    replies = sum(int(r["replies"]) for r in rows)
    tokens_in = sum(int(r["input_tokens"] or 0) for r in rows)
    tokens_out = sum(int(r["output_tokens"] or 0) for r in rows)
    costs = [prices.cost(r.get("provider"), r.get("model"), int(r["input_tokens"] or 0),
                         int(r["output_tokens"] or 0)) for r in rows]
    cost = _cost_text(None if any(c is None for c in costs) else sum(c for c in costs if c is not None))
    noun = "reply" if replies == 1 else "replies"
    return f"{replies:,} {noun} · in {tokens_in:,} · out {tokens_out:,} · {cost}"


class UsageFooter(Static):
    """The usage line under a finished reply."""

    # height auto: in a narrow pane the figures wrap instead of losing the cost at the end
    DEFAULT_CSS = "UsageFooter { color: $text-muted; padding: 0 1; height: auto; text-style: dim; }"

    def __init__(self, record: Mapping[str, Any], provider: str | None = None) -> None:
        super().__init__(markup=False, classes="usage")
        self.record = record
        self.provider = provider

    @staticmethod
    def line_for(app: Any, record: Mapping[str, Any], provider: str | None = None) -> str | None:
        """The usage line of ``record`` as the app prices it (None when there is nothing to show)."""
        from ...pricing import PriceTable

        return usage_line(record, provider or _pane_provider(app), PriceTable.from_config(getattr(app, "config", None)))

    def on_mount(self) -> None:
        line = self.line_for(self.app, self.record, self.provider)
        self.update(Text(line or ""))
        self.display = bool(line)


def _pane_provider(app: Any) -> str | None:
    """The provider of the thread in the chat pane (the replies' provider)."""
    try:
        return getattr(app.chat_pane, "provider", None)
    except Exception:  # noqa: BLE001 - a host app without a chat pane: no provider, the price may be unknown
        return None
