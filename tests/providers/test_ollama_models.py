"""Ollama model management against the fake server: list, show, ps, pull progress and errors, delete."""

from __future__ import annotations

import asyncio
import socket

import pytest

from tui_agents.errors import CapabilityError, ModelNotFoundError, ProviderConnectionError
from tui_agents.providers.ollama_models import DiskFullError, OllamaModels, PullProgress


@pytest.fixture
async def models(fake_llm):
    client = OllamaModels(base_url=fake_llm.base_url)
    yield client
    await client.aclose()


async def test_list_gives_size_parameters_quantization_family_and_date(models, fake_llm):
    fake_llm.models = ["qwen3:4b"]
    [model] = await models.list()
    assert (model.name, model.size, model.parameter_size, model.quantization, model.family) == (
        "qwen3:4b", 2019393189, "3.2B", "Q4_K_M", "llama")
    assert model.modified_at is not None and model.modified_at.year == 2025


async def test_show_gives_context_length_and_capabilities(models, fake_llm):
    fake_llm.model_details["gemma3"] = {"context_length": 32768, "capabilities": ["completion", "vision"],
                                        "family": "gemma3"}
    details = await models.show("gemma3")
    assert (details.context_length, details.vision, details.tools, details.family) == (32768, True, False, "gemma3")
    with pytest.raises(CapabilityError, match="cannot call tools"):
        await models.require("gemma3", vision=True, tools=True)


async def test_show_of_a_missing_model_says_so(models, fake_llm):
    fake_llm.model_details["gone"] = {"missing": True}
    with pytest.raises(ModelNotFoundError, match="no model called gone"):
        await models.show("gone")


async def test_loaded_lists_what_api_ps_reports(models, fake_llm):
    fake_llm.loaded = ["qwen3:4b"]
    [loaded] = await models.loaded()
    assert loaded.name == "qwen3:4b" and loaded.size_vram > 0 and loaded.expires_at is not None


async def test_pull_streams_progress_to_success_and_installs(models, fake_llm):
    fake_llm.pullable["qwen3:4b"] = 1_000_000
    steps = [step async for step in models.pull("qwen3:4b")]
    assert steps[0].status == "pulling manifest"
    layer = [s for s in steps if s.digest]
    assert layer[0].fraction == 0.0 and layer[-1].fraction == 1.0
    assert [s.status for s in steps[-3:]] == ["verifying sha256 digest", "writing manifest", "success"]
    assert steps[-1].done and "qwen3:4b" in [m.name for m in await models.list()]
    body = [r for r in fake_llm.requests if r.path == "/api/pull"][0].body
    assert body == {"model": "qwen3:4b", "stream": True}


async def test_pull_of_an_unknown_model_is_a_plain_not_found(models):
    with pytest.raises(ModelNotFoundError, match="Ollama has no model called nope:1b"):
        async for _ in models.pull("nope:1b"):
            pass


async def test_pull_that_runs_out_of_disk_says_so(models, fake_llm):
    fake_llm.pullable["big"] = 10_000
    fake_llm.pull_error = "write /root/.ollama/models/blobs/sha256-x-partial: no space left on device"
    seen: list[PullProgress] = []
    with pytest.raises(DiskFullError, match="ran out of disk space while pulling big"):
        async for step in models.pull("big"):
            seen.append(step)
    assert any(s.completed for s in seen)


async def test_pull_can_be_cancelled_and_closes_the_connection(models, fake_llm):
    fake_llm.pullable["slow"] = 10_000
    fake_llm.pull_delay = 0.2

    async def consume() -> None:
        async for _ in models.pull("slow"):
            pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await models.provider.aclose()  # the pooled keep-alive connections go too
    await asyncio.to_thread(fake_llm.wait_until_connections, 0)
    assert "slow" not in fake_llm.models


async def test_ollama_not_running_is_a_plain_connection_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with OllamaModels(base_url=f"http://127.0.0.1:{port}") as models:
        with pytest.raises(ProviderConnectionError, match="Could not connect to Ollama"):
            async for _ in models.pull("x"):
                pass
        with pytest.raises(ProviderConnectionError):
            await models.list()


async def test_delete_removes_and_a_second_delete_is_not_found(models, fake_llm):
    fake_llm.models = ["old:1b", "keep:1b"]
    await models.delete("old:1b")
    assert [m.name for m in await models.list()] == ["keep:1b"]
    with pytest.raises(ModelNotFoundError, match="no model called old:1b"):
        await models.delete("old:1b")
    assert [r.method for r in fake_llm.requests if r.path == "/api/delete"] == ["DELETE", "DELETE"]
