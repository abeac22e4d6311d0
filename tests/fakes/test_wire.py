"""The fake refuses, with the API's own 400, the request bodies the real APIs refuse."""

from __future__ import annotations

import base64

import httpx
import pytest

PNG_B64 = base64.b64encode(b"\x89PNG\r\n\x1a\n....").decode()
CALL = {"id": "c1", "type": "function", "function": {"name": "t", "arguments": "{}"}}


def _openai(fake, messages):
    return httpx.post(f"{fake.base_url}/v1/chat/completions", json={"model": "g", "messages": messages})


def _anthropic(fake, messages):
    return httpx.post(f"{fake.base_url}/v1/messages", json={"model": "c", "max_tokens": 5, "messages": messages},
                      headers={"anthropic-version": "2023-06-01"})


def _ollama(fake, messages):
    return httpx.post(f"{fake.base_url}/api/chat", json={"model": "m", "stream": False, "messages": messages})


@pytest.mark.parametrize("messages, says", [
    ([{"role": "user", "content": "hi"}, {"role": "assistant", "content": None, "tool_calls": [CALL]},
      {"role": "tool", "tool_call_id": "c1", "content": [
          {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}}]}],
     "Supported values for tool messages are: text"),
    ([{"role": "user", "content": "hi"}, {"role": "assistant", "content": None, "tool_calls": [CALL]},
      {"role": "user", "content": "next"}], "did not have response messages: c1"),
    ([{"role": "user", "content": "hi"}, {"role": "tool", "tool_call_id": "c9", "content": "x"}],
     "must be a response to a preceeding message with 'tool_calls'"),
    ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,@@@"}}]}],
     "not valid base64"),
])
def test_openai_refuses_what_chat_completions_refuses(fake_llm, messages, says):
    response = _openai(fake_llm, messages)
    assert response.status_code == 400
    assert says in response.json()["error"]["message"] and response.json()["error"]["type"] == "invalid_request_error"
    assert fake_llm.wire_errors and fake_llm.pending == 0


def test_openai_takes_tool_results_then_a_user_message_with_their_images(fake_llm):
    response = _openai(fake_llm, [
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "c1", "content": "[image]"},
        {"role": "user", "content": [{"type": "text", "text": "from c1:"},
                                     {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}}]},
    ])
    assert response.status_code == 200 and fake_llm.wire_errors == []


TOOL_USE = {"role": "assistant", "content": [{"type": "tool_use", "id": "u1", "name": "t", "input": {}}]}


@pytest.mark.parametrize("messages, says", [
    ([{"role": "user", "content": "hi"}, TOOL_USE, {"role": "user", "content": "no result"}],
     "`tool_use` ids were found without `tool_result` blocks immediately after: u1"),
    ([{"role": "user", "content": "hi"}, TOOL_USE, {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "u1", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/svg+xml", "data": PNG_B64}}]}]}],
     "media_type"),
    ([{"role": "user", "content": "hi"}, TOOL_USE, {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "u1", "content": [{"type": "text", "text": ""}]}]}],
     "text content blocks must be non-empty"),
])
def test_anthropic_refuses_what_the_messages_api_refuses(fake_llm, messages, says):
    response = _anthropic(fake_llm, messages)
    assert response.status_code == 400 and says in response.json()["error"]["message"]


def test_anthropic_takes_a_tool_result_with_text_and_an_image(fake_llm):
    response = _anthropic(fake_llm, [{"role": "user", "content": "hi"}, TOOL_USE, {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "u1", "content": [
            {"type": "text", "text": "[image]"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}}]}]}])
    assert response.status_code == 200 and fake_llm.wire_errors == []


def test_ollama_refuses_images_that_are_not_base64_and_takes_them_on_a_tool_message(fake_llm):
    bad = _ollama(fake_llm, [{"role": "user", "content": "hi", "images": ["not base64!"]}])
    assert bad.status_code == 400 and "illegal base64" in bad.json()["error"]
    good = _ollama(fake_llm, [{"role": "user", "content": "hi"}, {"role": "tool", "content": "[image]",
                                                                 "tool_name": "t", "images": [PNG_B64]}])
    assert good.status_code == 200
