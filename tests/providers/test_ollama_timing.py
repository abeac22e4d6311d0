"""Ollama provider: one /api/show per model at a time, and the request-sent callback an app can wait for."""

from __future__ import annotations

import asyncio

from tests.fakes.llm_server import FakeLLMServer
from tui_agents.providers.ollama import OllamaProvider


async def test_concurrent_context_window_questions_share_one_show_request() -> None:
    server = FakeLLMServer().start()
    try:
        provider = OllamaProvider(model="llama3", base_url=server.base_url)
        windows = await asyncio.gather(provider.get_context_window(), provider.get_context_window(),
                                       provider.capabilities())
        assert windows[0] == windows[1]
        assert [r.path for r in server.requests].count("/api/show") == 1
        provider.forget("llama3")  # after a pull: asked again
        await provider.get_context_window()
        assert [r.path for r in server.requests].count("/api/show") == 2
        await provider.aclose()
    finally:
        server.stop()


async def test_on_request_sent_fires_once_the_chat_request_has_gone_out_and_only_once() -> None:
    from tests.fakes.llm_server import Reply
    from tui_agents.types import Message

    server = FakeLLMServer().start()
    try:
        server.script(Reply(text="first", first_delay=0.3), Reply(text="second"))
        provider = OllamaProvider(model="llama3", base_url=server.base_url)
        fired: list[float] = []
        provider.on_request_sent(lambda: fired.append(asyncio.get_running_loop().time()))
        started = asyncio.get_running_loop().time()
        events = [e async for e in provider.stream([Message(role="user", content="hi")])]
        assert events and len(fired) == 1
        assert fired[0] - started < 0.25  # when the request left, not when the delayed answer came
        [e async for e in provider.stream([Message(role="user", content="again")])]
        assert len(fired) == 1  # a callback is for the next request only
        await provider.aclose()
    finally:
        server.stop()
