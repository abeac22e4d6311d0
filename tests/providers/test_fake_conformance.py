"""The fake server's new wire shapes, read by the vendors' own SDKs: if they parse, our fakes speak the real thing.

(The SDKs are the bench extra's peers, installed in the dev environment; the module is skipped without them.)
"""

from __future__ import annotations

import pytest

from tests.fakes import Reply, ToolCallSpec

ollama = pytest.importorskip("ollama")
anthropic = pytest.importorskip("anthropic")


async def test_ollama_sdk_reads_show_ps_pull_delete_and_thinking(fake_llm):
    fake_llm.model_details["qwen3:4b"] = {"context_length": 40960, "capabilities": ["completion", "thinking"]}
    fake_llm.loaded = ["qwen3:4b"]
    fake_llm.pullable["gemma3:1b"] = 5000
    client = ollama.AsyncClient(host=fake_llm.base_url)
    shown = await client.show("qwen3:4b")
    assert shown.capabilities == ["completion", "thinking"]
    assert shown.modelinfo["llama.context_length"] == 40960
    [running] = (await client.ps()).models
    assert running.model == "qwen3:4b"
    steps = [step async for step in await client.pull("gemma3:1b", stream=True)]
    assert steps[-1].status == "success" and any(s.completed for s in steps)
    await client.delete("gemma3:1b")
    assert "gemma3:1b" not in fake_llm.models
    fake_llm.script(Reply(thinking="Let me think.", text="Hi."))
    parts = [part async for part in await client.chat("qwen3:4b", messages=[{"role": "user", "content": "x"}],
                                                       stream=True, think=True)]
    assert "".join(p.message.thinking or "" for p in parts) == "Let me think."
    assert "".join(p.message.content for p in parts) == "Hi."


async def test_anthropic_sdk_reads_thinking_signature_and_redacted_blocks(fake_llm):
    fake_llm.script(Reply(thinking="Plan it.", signature="sig-x", redacted_thinking=("ENC==",),
                          tool_calls=[ToolCallSpec("lookup", {"q": 1}, id="toolu_9")]))
    client = anthropic.AsyncAnthropic(api_key="k", base_url=fake_llm.base_url, max_retries=0)
    async with client.messages.stream(model="claude-x", max_tokens=2000, messages=[{"role": "user", "content": "x"}],
                                      thinking={"type": "enabled", "budget_tokens": 1024}) as stream:
        message = await stream.get_final_message()
    kinds = [block.type for block in message.content]
    assert kinds == ["thinking", "redacted_thinking", "tool_use"]
    assert (message.content[0].thinking, message.content[0].signature) == ("Plan it.", "sig-x")
    assert message.content[1].data == "ENC=="
    await client.close()
