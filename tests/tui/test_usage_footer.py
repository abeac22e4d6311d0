"""Each reply's usage line and the thread's totals in the title bar, from what the runner stored."""

from __future__ import annotations

import pytest

from tests.fakes.llm_server import Reply
from tui_agents.config import AppConfig
from tui_agents.pricing import PriceTable
from tui_agents.tui.widgets.usage_footer import tokens_per_second, totals_line, usage_line

from .conftest import last_reply, ready, screen_text, send, wait_until

pytestmark = pytest.mark.timeout(90)


def _footer(view) -> str:
    from tui_agents.tui.widgets.usage_footer import UsageFooter

    footers = list(view.query(UsageFooter))
    return str(footers[0].render()) if footers else ""


async def test_a_reply_shows_its_tokens_timing_and_cost_and_the_header_the_threads_totals(make_app, ollama_env):
    ollama_env.script(Reply(text="One two three four five six seven eight.", usage=(1234, 56), first_delay=0.2,
                            chunk_chars=4, delay=0.02),
                      Reply(text="Again.", usage=(1300, 7)))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "count")
        await wait_until(pilot, lambda: _footer(last_reply(app)), timeout=30, what="the usage line")
        record = (await app.session.messages.list(app.current_thread_id, limit=5))[-1]
        meta = record["meta"]
        assert meta["ttft_ms"] >= 200 and meta["duration_ms"] > meta["ttft_ms"]
        rate = 56 / ((meta["duration_ms"] - meta["ttft_ms"]) / 1000)
        line = _footer(last_reply(app))
        assert line.startswith(f"in 1,234 · out 56 · first token {meta['ttft_ms'] / 1000:.2f} s · {rate:,.1f} tok/s")
        assert line.endswith("· $0.00")  # Ollama runs locally: it costs nothing
        await wait_until(pilot, lambda: "1 reply · in 1,234 · out 56 · $0.00" in screen_text(app), what="totals")

        await send(pilot, "again")
        await wait_until(pilot, lambda: "2 replies · in 2,534 · out 63 · $0.00" in screen_text(app), what="totals")
        thread_id = app.current_thread_id
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: "2 replies" not in screen_text(app), what="a new chat without totals")
        await app.screen_main.threads.open_thread(thread_id)  # reopened: lines and totals from the store
        await wait_until(pilot, lambda: "2 replies · in 2,534" in screen_text(app), what="totals again")
        assert "in 1,234 · out 56 · first token" in screen_text(app)


def test_the_cost_is_exact_for_a_priced_model_and_unknown_never_guessed():
    config = AppConfig.model_validate({"prices": {"my-model": {"input": 3.0, "output": 15.0}}})
    prices = PriceTable.from_config(config)
    record = {"model": "my-model", "usage": {"input_tokens": 1_000_000, "output_tokens": 2000},
              "meta": {"ttft_ms": 500.0, "duration_ms": 2500.0}}
    assert usage_line(record, "openai", prices) == "in 1,000,000 · out 2,000 · first token 0.50 s · 1,000.0 tok/s · $3.03"
    unknown = {**record, "model": "nobody-knows-this-model"}
    assert usage_line(unknown, "openai", prices).endswith("· cost unknown")
    assert usage_line({"model": "my-model", "usage": None}, "openai", prices) is None
    rows = [{"replies": 2, "provider": "openai", "model": "my-model", "input_tokens": 1_000_000, "output_tokens": 0},
            {"replies": 1, "provider": "openai", "model": "nobody-knows-this-model", "input_tokens": 5,
             "output_tokens": 5}]
    assert totals_line(rows[:1], prices) == "2 replies · in 1,000,000 · out 0 · $3.00"
    assert totals_line(rows, prices).endswith("· cost unknown")  # one unpriced model: the sum is not known
    failed = {"model": "my-model", "status": "error", "usage": {"input_tokens": 0, "output_tokens": 0}}
    assert usage_line(failed, "openai", prices) is None  # no "in 0 · out 0 · $0.00" for a failed reply
    assert tokens_per_second(10, None, 1000.0) is None and tokens_per_second(10, 1000.0, 1000.0) is None
