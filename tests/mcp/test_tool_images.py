"""An MCP tool's images and structured content reach the model on each wire, are stored, and travel in exports.

The MCP server is real (``tests/mcp/server.py``, a child process); the model is
the fake LLM server over loopback, which refuses (400) a body the real API
would refuse, so a passing turn also means a wire shape the API takes.
"""

from __future__ import annotations

import base64
import json

import pytest

from tests.engine.test_runner import (
    chat_requests,
    collect,
    conn,  # noqa: F401 - fixture
    new_thread,
    providers,  # noqa: F401 - fixture
    rows,
    runner_for,
)
from tests.fakes import Reply, ToolCallSpec
from tests.mcp.conftest import stdio_server
from tests.mcp.server import PNG
from tui_agents.events import ToolCallFinished, TurnFinished
from tui_agents.providers.openai import to_openai_messages
from tui_agents.types import Image, Message, ToolCall

B64 = base64.b64encode(PNG).decode("ascii")


async def _picture_turn(conn, provider, fake_llm, tool: str = "picture", prompt: str = "show me"):
    """A turn in which the model calls ``s__<tool>`` and then answers; returns (thread id, events)."""
    fake_llm.script(Reply(tool_calls=[ToolCallSpec(f"s__{tool}", {}, id="call_1")]), Reply(text="I see it."))
    thread_id = await new_thread(conn)
    runner = runner_for(conn, provider, tools=[stdio_server("s")])
    try:
        events = await collect(runner.run_stream(thread_id, "alice", prompt))
    finally:
        await runner.aclose()
    assert isinstance(events[-1], TurnFinished), events[-1]
    assert fake_llm.wire_errors == []
    return thread_id, events


async def test_anthropic_gets_the_image_inside_the_tool_result(conn, providers, fake_llm):
    thread_id, _ = await _picture_turn(conn, providers("anthropic"), fake_llm)
    second = chat_requests(fake_llm)[1].body
    result = next(b for m in second["messages"] if isinstance(m["content"], list)
                  for b in m["content"] if b.get("type") == "tool_result")
    text, image = result["content"]
    assert text["type"] == "text" and text["text"].startswith("[image image/png")
    assert image == {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": B64}}
    # stored with the tool result: the inspector's text names it, the bytes are kept once
    tool_row = next(r for r in await rows(conn, thread_id) if r["role"] == "tool")
    assert tool_row["content"].startswith("[image image/png") and tool_row["images"][0]["media_type"] == "image/png"


async def test_a_later_turn_sends_the_stored_image_again(conn, providers, fake_llm):
    provider = providers("anthropic")
    thread_id, _ = await _picture_turn(conn, provider, fake_llm)
    fake_llm.script(Reply(text="Still there."))
    runner = runner_for(conn, provider)  # a new runner: the image comes back from the database
    await collect(runner.run_stream(thread_id, "alice", "and now?"))
    third = chat_requests(fake_llm)[2].body
    results = [b for m in third["messages"] if isinstance(m["content"], list)
               for b in m["content"] if b.get("type") == "tool_result"]
    assert results[0]["content"][1]["source"]["data"] == B64
    assert fake_llm.wire_errors == []


async def test_openai_gets_the_text_in_the_tool_message_and_the_image_in_a_user_message_after(
        conn, providers, fake_llm):
    await _picture_turn(conn, providers("openai"), fake_llm)
    messages = chat_requests(fake_llm)[1].body["messages"]
    tool_at = next(i for i, m in enumerate(messages) if m["role"] == "tool")
    assert isinstance(messages[tool_at]["content"], str) and messages[tool_at]["content"].startswith("[image")
    after = messages[tool_at + 1]
    assert after["role"] == "user"
    assert "call_1" in after["content"][0]["text"]
    assert after["content"][1] == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{B64}"}}


def test_openai_puts_the_images_after_every_result_of_the_round():
    image = Image(media_type="image/png", data=PNG, sha256="x")
    calls = [ToolCall(id="a", name="s__picture"), ToolCall(id="b", name="s__picture")]
    messages = [Message(role="user", content="two pictures"), Message(role="assistant", tool_calls=calls),
                Message(role="tool", tool_call_id="a", content="[image]", images=[image]),
                Message(role="tool", tool_call_id="b", content="[image]", images=[image])]
    wire = to_openai_messages(messages)
    assert [m["role"] for m in wire] == ["user", "assistant", "tool", "tool", "user"]
    assert [p["type"] for p in wire[-1]["content"]] == ["text", "image_url", "text", "image_url"]


async def test_ollama_gets_the_image_on_the_tool_message(conn, providers, fake_llm):
    fake_llm.model_details["fake-model"] = {"capabilities": ["completion", "tools", "vision"]}
    await _picture_turn(conn, providers("ollama", model="fake-model"), fake_llm)
    tool = next(m for m in chat_requests(fake_llm)[1].body["messages"] if m["role"] == "tool")
    assert tool["images"] == [B64] and tool["tool_name"] == "s__picture"


async def test_a_model_that_cannot_see_images_gets_a_note_instead(conn, providers, fake_llm):
    fake_llm.model_details["text-only"] = {"capabilities": ["completion", "tools"]}
    thread_id, _ = await _picture_turn(conn, providers("ollama", model="text-only"), fake_llm)
    messages = chat_requests(fake_llm)[1].body["messages"]
    tool = next(m for m in messages if m["role"] == "tool")
    assert "images" not in tool and not any(m.get("images") for m in messages)
    assert "cannot see images" in tool["content"] and tool["content"].startswith("[image image/png")
    tool_row = next(r for r in await rows(conn, thread_id) if r["role"] == "tool")
    assert tool_row["images"]  # still stored: another model may see it later


@pytest.mark.parametrize("tool, text, note", [
    ("svg", "a drawing", "The image/svg+xml image was not sent"),  # a type no API takes
    ("broken_png", "a snapshot", "The image/png image was not sent to the model: it could not be read"),
])
async def test_an_image_the_api_would_refuse_becomes_a_note(conn, providers, fake_llm, tool, text, note):
    thread_id, events = await _picture_turn(conn, providers("anthropic"), fake_llm, tool=tool)
    result = next(b for m in chat_requests(fake_llm)[1].body["messages"] if isinstance(m["content"], list)
                  for b in m["content"] if b.get("type") == "tool_result")
    assert isinstance(result["content"], str)
    assert text in result["content"] and note in result["content"]
    assert next(r for r in await rows(conn, thread_id) if r["role"] == "tool")["images"] == []


@pytest.mark.parametrize("tool, expected", [
    ("summary", '3 items found\n{"items": [1, 2, 3]}'),  # the text does not carry it: the JSON follows
    ("add", None),  # the SDK mirrors it in the text: sent once
])
async def test_structured_content_is_sent_as_json_unless_a_text_block_carries_it(
        conn, providers, fake_llm, tool, expected):
    fake_llm.script(Reply(tool_calls=[ToolCallSpec(f"s__{tool}", {"a": 2, "b": 3} if tool == "add" else {})]),
                    Reply(text="ok"))
    thread_id = await new_thread(conn)
    runner = runner_for(conn, providers("openai"), tools=[stdio_server("s")])
    events = await collect(runner.run_stream(thread_id, "alice", "go"))
    await runner.aclose()
    result = next(e for e in events if isinstance(e, ToolCallFinished)).result
    if expected is not None:
        assert result == expected
    else:
        assert json.loads(result) == {"sum": 5}


async def test_a_tool_result_image_survives_export_and_import(conn, providers, fake_llm, tmp_path):
    from tui_agents.store import connect
    from tui_agents.store.images import ImageStore
    from tui_agents.store.transfer import export_thread, import_data, to_markdown

    thread_id, _ = await _picture_turn(conn, providers("anthropic"), fake_llm)
    doc = json.loads(json.dumps(await export_thread(conn, thread_id)))  # as the file holds it
    tool = next(m for m in doc["messages"] if m["role"] == "tool")
    assert tool["images"][0]["media_type"] == "image/png"
    assert base64.b64decode(doc["images"][0]["data"]) == PNG
    markdown = to_markdown(doc)
    assert "- Image: " in markdown.split("Tool result: s__picture")[1].split("## ")[0]  # listed under its result
    other = await connect(tmp_path / "other.db")
    try:
        report = await import_data(other, doc)
        imported = next(r for r in await rows(other, report.thread_ids[0]) if r["role"] == "tool")
        stored = await ImageStore(other).get_many(imported["images"])
    finally:
        await other.close()
    assert imported["content"] == tool["content"]
    assert [image.data for image in stored.values()] == [PNG]
