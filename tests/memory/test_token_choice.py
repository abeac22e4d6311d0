"""Which counter a model gets: tiktoken only where it is the model's own tokenizer, else a safe estimate."""

from __future__ import annotations

import json
import time
import subprocess
import sys
import textwrap
from typing import Any

from tests.engine.test_runner import new_thread, provider_for
from tests.fakes import Reply
from tui_agents.memory import TokenCounter, get_memory_strategy
from tui_agents.memory.context import build_context
from tui_agents.memory.tokens import ESTIMATE_MARGIN, encoding_for
from tui_agents.runner import AgentRunner
from tui_agents.store import MessageStore, ThreadStore, connect


def test_only_openai_models_get_a_tiktoken_encoding() -> None:
    assert encoding_for("openai", "gpt-4o-mini") == "o200k_base"
    assert encoding_for("openai", "o3-mini") == "o200k_base"
    assert encoding_for("openai", "gpt-4-turbo") == "cl100k_base"
    assert encoding_for("anthropic", "claude-sonnet-4-5") is None
    # a local server's model is estimated even when it is named like an OpenAI one
    assert encoding_for("ollama", "gpt-4o") is None
    assert encoding_for("ollama", "llama3.2:3b") is None
    assert encoding_for("openai", "library/llama3.2") is None  # an OpenAI-compatible local server


def test_counting_for_a_local_model_never_loads_tiktoken() -> None:
    child = textwrap.dedent(
        """
        import json, sys
        from tui_agents.memory import TokenCounter
        counter = TokenCounter().model_counter("ollama", "llama3.2")
        n = counter.count("The quick brown fox jumps over the lazy dog.")
        print(json.dumps({"n": n, "estimated": counter.estimated, "tiktoken": "tiktoken" in sys.modules}))
        """
    )
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=60, check=True)
    out = json.loads(done.stdout)
    assert out == {"n": out["n"], "estimated": True, "tiktoken": False}
    assert 9 <= out["n"] <= 14


async def _thread_of_counted_messages(conn: Any, n: int, tokens: int) -> dict[str, Any]:
    thread_id = await new_thread(conn)
    messages = MessageStore(conn)
    for i in range(n):
        await messages.add(thread_id, "user" if i % 2 == 0 else "assistant", f"message {i}", token_count=tokens)
    thread = await ThreadStore(conn).get(thread_id)
    assert thread is not None
    return thread


async def test_an_estimated_window_keeps_a_margin_free_so_it_still_fits(tmp_path: Any) -> None:
    conn = await connect(tmp_path / "app.db")
    thread = await _thread_of_counted_messages(conn, 120, 100)
    window = 8_192
    sizes = {}
    for name, counter in (("exact", TokenCounter("o200k_base")), ("estimate", TokenCounter(None))):
        context = await build_context(
            messages=MessageStore(conn), facts=None, user_id="local", thread=thread, prompt="",
            strategy=get_memory_strategy("token_window", max_tokens=100_000), counter=counter,
            provider="ollama", model="llama3.2", window=window,
        )
        sizes[name] = context.tokens
        assert context.estimated is (name == "estimate")
    budget = window - window // 4  # the reply's reserve on an 8k window
    assert budget - 100 < sizes["exact"] <= budget
    assert sizes["estimate"] <= budget / ESTIMATE_MARGIN < sizes["exact"]
    await conn.close()


async def test_an_ollama_turn_stores_estimated_counts_and_says_so(tmp_path: Any, fake_llm: Any) -> None:
    conn = await connect(tmp_path / "app.db")
    thread_id = await new_thread(conn)
    provider = provider_for("ollama", fake_llm)
    runner = AgentRunner(conn, None, provider, get_memory_strategy("last_n", n=20))
    fake_llm.script(Reply(text="Fine, thanks."))
    await runner.run(thread_id, "local", "Is internationalization of 1234567 characters hard?")

    records = await MessageStore(conn).list(thread_id)
    user = next(r for r in records if r["role"] == "user")
    assert user["token_count"] == TokenCounter.estimate_message(user)
    assert user["token_count"] != TokenCounter("o200k_base").count_message(user)
    context = await runner.context(await ThreadStore(conn).get(thread_id), user_id="local")
    assert context.estimated is True
    await provider.aclose()
    await conn.close()


class _LoadSpy:
    """Wraps ``tokens._get_encoding`` to note when an encoding was first asked for (``time.time()``)."""

    def __init__(self, monkeypatch: Any) -> None:
        from tui_agents.memory import tokens

        self.first: float | None = None
        real = tokens._get_encoding

        def spy(name: str) -> Any:
            if self.first is None:
                self.first = time.time()
            return real(name)

        monkeypatch.setattr(tokens, "_get_encoding", spy)


def _exact(text: str) -> int:
    return TokenCounter("o200k_base").count_message({"role": "user", "content": text})


async def test_a_new_threads_first_message_goes_out_before_the_tokenizer_loads_and_is_counted_exactly_after(
        tmp_path: Any, fake_llm: Any, monkeypatch: Any) -> None:
    conn = await connect(tmp_path / "app.db")
    thread_id = await new_thread(conn)
    provider = provider_for("openai", fake_llm, model="gpt-4o")
    runner = AgentRunner(conn, None, provider, get_memory_strategy("last_n", n=20))
    spy = _LoadSpy(monkeypatch)
    fake_llm.script(Reply(text="Fine, thanks."))
    text = "Is internationalization of 1234567 characters hard?"
    assert await runner.run(thread_id, "local", text) == "Fine, thanks."

    request = fake_llm.chat_requests()[0]
    assert spy.first is not None and spy.first > request.received_at  # loaded for the reply, after the request
    assert request.body["messages"][-1]["content"] == text  # the same message went out
    user = next(r for r in await MessageStore(conn).list(thread_id) if r["role"] == "user")
    assert user["token_count"] == _exact(text) != TokenCounter.estimate_message(user)  # exact, once the reply is in
    await provider.aclose()
    await conn.close()


async def test_a_continued_thread_is_still_counted_before_its_request(
        tmp_path: Any, fake_llm: Any, monkeypatch: Any) -> None:
    conn = await connect(tmp_path / "app.db")
    thread_id = await new_thread(conn)
    messages = MessageStore(conn)
    await messages.add(thread_id, "user", "Hello there", token_count=_exact("Hello there"))
    await messages.add(thread_id, "assistant", "Hi.", token_count=7)
    provider = provider_for("openai", fake_llm, model="gpt-4o")
    runner = AgentRunner(conn, None, provider, get_memory_strategy("token_window", max_tokens=100_000))
    spy = _LoadSpy(monkeypatch)
    fake_llm.script(Reply(text="Sure."))
    await runner.run(thread_id, "local", "And in French?")

    request = fake_llm.chat_requests()[0]
    assert spy.first is not None and spy.first < request.received_at  # its window is chosen on exact counts
    records = await messages.list(thread_id)
    assert [r["token_count"] for r in records if r["role"] == "user"] == [_exact("Hello there"),
                                                                         _exact("And in French?")]
    await provider.aclose()
    await conn.close()


async def test_a_first_message_whose_reply_fails_keeps_no_guess_and_the_next_turn_counts_it_exactly(
        tmp_path: Any, fake_llm: Any) -> None:
    conn = await connect(tmp_path / "app.db")
    thread_id = await new_thread(conn)
    provider = provider_for("openai", fake_llm, model="gpt-4o")
    fake_llm.script(Reply(status=500))
    runner = AgentRunner(conn, None, provider, get_memory_strategy("last_n", n=20))
    text = "Is internationalization of 1234567 characters hard?"
    try:
        await runner.run(thread_id, "local", text)
    except Exception:  # noqa: BLE001 - the server's error ends this turn
        pass
    messages = MessageStore(conn)
    user = next(r for r in await messages.list(thread_id) if r["role"] == "user")
    assert user["content"] == text and user["token_count"] is None  # saved, but no estimate kept as its count

    fake_llm.script(Reply(text="Fine."))
    await AgentRunner(conn, None, provider, get_memory_strategy("last_n", n=20)).run(thread_id, "local", "Again?")
    first = next(r for r in await messages.list(thread_id) if r["role"] == "user")
    assert first["token_count"] == _exact(text)
    await provider.aclose()
    await conn.close()
