"""Usage totals: the price table, the store query (forks not counted twice) and the ``usage`` command's table."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import pytest

from tui_agents.config import AppConfig, PriceConfig
from tui_agents.pricing import Price, PriceTable, format_cost
from tui_agents.store import AgentStore, MessageStore, ThreadStore, connect
from tui_agents.store.usage import UsageStore


def test_prices_known_snapshot_local_override_and_unknown():
    table = PriceTable.from_config(AppConfig(prices={"my-model": PriceConfig(input=1, output=2),
                                                     "gpt-4o": PriceConfig(input=3, output=4)}))
    assert table.price("anthropic", "claude-sonnet-4-5") == Price(3.0, 15.0)
    assert table.price("anthropic", "claude-3-5-haiku-20241022") == Price(0.8, 4.0)
    assert table.price("openai", "gpt-4o-2024-08-06") == Price(3.0, 4.0)  # the user's price wins
    assert table.price("openai", "my-model") == Price(1.0, 2.0)
    assert table.cost("ollama", "llama3.2", 10**6, 10**6) == 0
    assert table.price("openai", "gpt-4o-audio-preview") is None  # never a guess from a prefix
    assert table.cost("openai", "mystery", 1, 1) is None
    assert table.cost("anthropic", "claude-sonnet-4-5", 1_000_000, 100_000) == pytest.approx(4.5)
    assert (format_cost(None), format_cost(0), format_cost(0.0042), format_cost(1234.5)) == \
        ("unknown", "$0.00", "$0.0042", "$1,234.50")


async def _seed(path):
    """Two models over two days; a fork of the first thread (its copies must not count again)."""
    conn = await connect(path)
    agent = await AgentStore(conn).create("a", "")
    threads, messages = ThreadStore(conn), MessageStore(conn)
    first = await threads.create(agent["id"], title="Monads")
    await threads.set_model(first["id"], "anthropic", "claude-sonnet-4-5")
    await messages.add(first["id"], "user", "q")
    await messages.add(first["id"], "assistant", "a", model="claude-sonnet-4-5",
                       usage={"input_tokens": 1_234_567, "output_tokens": 1_000})
    second = await threads.create(agent["id"], title="Local")
    await threads.set_model(second["id"], "ollama", "llama3.2")
    await messages.add(second["id"], "user", "q")
    await messages.add(second["id"], "assistant", "a", model="llama3.2", usage={"input_tokens": 10, "output_tokens": 5})
    third = await threads.create(agent["id"], title="Compatible server")
    await threads.set_model(third["id"], "openai", "mystery")
    await messages.add(third["id"], "assistant", "b", model="mystery", usage={"input_tokens": 1, "output_tokens": 1})
    await threads.fork(first["id"])
    # an old reply, two days ago
    old = await messages.add(first["id"], "assistant", "old", model="claude-sonnet-4-5",
                             usage={"input_tokens": 100, "output_tokens": 100})
    two_days_ago = time.time() - 2 * 86400
    await conn.execute("UPDATE messages SET created_at = ? WHERE id = ?", (two_days_ago, old["id"]))
    return conn, first["id"]


async def test_store_totals_by_model_day_and_thread(tmp_path):
    conn, first = await _seed(tmp_path / "u.db")
    store = UsageStore(conn)
    by_model = {(r["key"], r["provider"]): (r["replies"], r["input_tokens"], r["output_tokens"])
                for r in await store.totals("model")}
    assert by_model == {("claude-sonnet-4-5", "anthropic"): (2, 1_234_667, 1_100),
                        ("llama3.2", "ollama"): (1, 10, 5), ("mystery", "openai"): (1, 1, 1)}
    today = datetime.now().date().isoformat()
    since = datetime.now().replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    recent = await store.totals("day", since=since)
    assert {r["key"] for r in recent} == {today}
    assert sum(r["input_tokens"] for r in recent) == 1_234_567 + 10 + 1
    assert await store.thread_totals(first) == {"replies": 2, "input_tokens": 1_234_667, "output_tokens": 1_100}
    await conn.close()


def test_usage_command_prints_exact_counts_and_unknown_costs(cli, tmp_path):
    async def seed():
        conn, _ = await _seed(cli.db)
        await conn.close()

    asyncio.run(seed())
    cloud = {"OPENAI_BASE_URL": "https://api.example.invalid/v1", "ANTHROPIC_BASE_URL": "https://api.example.invalid"}
    result = cli("usage", env=cloud)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["MODEL", "REPLIES", "INPUT", "TOKENS", "OUTPUT", "TOKENS", "COST"]
    row = next(line for line in lines if line.startswith("claude-sonnet-4-5"))
    assert row.split()[1:] == ["2", "1,234,667", "1,100", "$3.72"]
    assert next(line for line in lines if line.startswith("mystery")).split()[-1] == "unknown"
    assert next(line for line in lines if line.startswith("llama3.2")).split()[-1] == "$0.00"
    assert lines[-1].split() == ["TOTAL", "4", "1,234,678", "1,106", "$3.72", "+", "unknown"]
    assert "k " not in result.stdout
    # the same model served by a local OpenAI-compatible server costs 0, as in the app
    local = cli("usage", env={**cloud, "OPENAI_BASE_URL": "http://127.0.0.1:8080/v1"})
    assert next(line for line in local.stdout.splitlines() if line.startswith("mystery")).split()[-1] == "$0.00"

    by_thread = cli("usage", "--by", "thread", "--since", datetime.now().date().isoformat())
    assert by_thread.returncode == 0 and "Monads (thr_" in by_thread.stdout
    assert "1,234,567" in by_thread.stdout

    bad = cli("usage", "--since", "last week")
    assert bad.returncode == 1 and bad.stderr.strip().startswith("aiagents-tui: --since takes a date")


def test_usage_with_no_database_yet(cli):
    result = cli("usage")
    assert result.returncode == 0 and "No replies" in result.stdout


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/v1", "http://localhost:1234/v1", "http://[::1]:8000/v1"])
def test_a_model_on_a_loopback_openai_server_costs_nothing(monkeypatch, url):
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    assert PriceTable.from_config(AppConfig()).cost("openai", "qwen2.5-7b-instruct", 10**6, 10**6) == 0
    monkeypatch.setenv("OPENAI_BASE_URL", "https://api.example.com/v1")
    assert PriceTable.from_config(AppConfig()).cost("openai", "qwen2.5-7b-instruct", 1, 1) is None


def test_a_loopback_base_url_in_the_settings_costs_nothing(monkeypatch):
    from tui_agents.config import ProviderSettings, ProvidersConfig

    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    config = AppConfig(providers=ProvidersConfig({"openai": ProviderSettings(base_url="http://127.0.0.1:8080/v1")}))
    assert PriceTable.from_config(config).cost("openai", "local-gguf", 5, 5) == 0
    config.prices = {"local-gguf": PriceConfig(input=1, output=1)}  # a price the user set still counts
    assert PriceTable.from_config(config).cost("openai", "local-gguf", 10**6, 0) == 1
    assert PriceTable.from_config(AppConfig()).cost("openai", "local-gguf", 5, 5) is None


async def test_failed_replies_without_usage_are_not_counted_as_zero_usage_replies(tmp_path):
    conn = await connect(tmp_path / "f.db")
    agent = await AgentStore(conn).create("a", "")
    thread = await ThreadStore(conn).create(agent["id"], title="t")
    messages = MessageStore(conn)
    await messages.add(thread["id"], "assistant", "ok", model="m", usage={"input_tokens": 3, "output_tokens": 2})
    await messages.add(thread["id"], "assistant", "", model="m", status="error",
                       usage={"input_tokens": 0, "output_tokens": 0})  # an older row of a failed reply
    totals = await UsageStore(conn).thread_totals(thread["id"])
    await conn.close()
    assert totals == {"replies": 1, "input_tokens": 3, "output_tokens": 2}
