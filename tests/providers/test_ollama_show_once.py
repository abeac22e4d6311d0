"""Two callers asking a local model's details at once (the provider check and the warm-up, at start) make one request."""

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
