"""What each provider sends: headers and the exact body shape its API expects."""

from __future__ import annotations

from tui_agents.types import Message, ToolCall, ToolDefinition

from .conftest import TEST_KEY, collect

WEATHER = ToolDefinition(name="get_weather", description="Weather for a city.",
                         parameters={"type": "object", "properties": {"city": {"type": "string"}},
                                     "required": ["city"]})

HISTORY = [
    Message(role="user", content="Weather in Paris and Rome?"),
    Message(role="assistant", content="Checking.", tool_calls=[
        ToolCall(id="call_1", name="get_weather", arguments={"city": "Paris"}),
        ToolCall(id="call_2", name="get_weather", arguments={"city": "Rome"}),
    ]),
    Message(role="tool", tool_call_id="call_1", content="18°C"),
    Message(role="tool", tool_call_id="call_2", content="city not found", is_error=True),
    Message(role="user", content="Thanks!"),
]


async def test_anthropic_request_shape(fake_llm, make_provider):
    provider = make_provider("anthropic", model="claude-test")
    await collect(provider.stream(HISTORY, system="Be brief.", tools=[WEATHER], temperature=0.2, stop="END"))
    [request] = fake_llm.chat_requests()
    assert request.path == "/v1/messages"
    assert request.headers["x-api-key"] == TEST_KEY
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in request.headers
    assert request.body == {
        "model": "claude-test",
        "max_tokens": 4096,
        "stream": True,
        "system": "Be brief.",
        "temperature": 0.2,
        "stop_sequences": ["END"],
        "tools": [{"name": "get_weather", "description": "Weather for a city.", "input_schema": WEATHER.parameters}],
        "messages": [
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"city": "Rome"}},
            ]},
            # consecutive tool results and the next user text merge into one user message
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "18°C"},
                {"type": "tool_result", "tool_use_id": "call_2", "content": "city not found", "is_error": True},
                {"type": "text", "text": "Thanks!"},
            ]},
        ],
    }


async def test_anthropic_merges_system_messages_and_same_role_runs(fake_llm, make_provider):
    messages = [Message(role="system", content="Extra rule."), Message(role="user", content="a"),
                Message(role="user", content="b"), Message(role="assistant", content=""),
                Message(role="assistant", content="c")]
    await collect(make_provider("anthropic").stream(messages, system="Main.", max_tokens=100))
    body = fake_llm.chat_requests()[0].body
    assert body["system"] == "Main.\n\nExtra rule."
    assert body["max_tokens"] == 100
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"role": "assistant", "content": "c"},
    ]


async def test_openai_request_shape(fake_llm, make_provider):
    provider = make_provider("openai", model="gpt-test")
    await collect(provider.stream(HISTORY, system="Be brief.", tools=[WEATHER], temperature=0.5, max_tokens=50))
    [request] = fake_llm.chat_requests()
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {TEST_KEY}"
    assert "x-api-key" not in request.headers
    assert request.body == {
        "model": "gpt-test",
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.5,
        "max_tokens": 50,  # a custom base URL gets the name compatible servers know
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city.",
                                                    "parameters": WEATHER.parameters}}],
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {"role": "assistant", "content": "Checking.", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
                {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}},
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18°C"},
            {"role": "tool", "tool_call_id": "call_2", "content": "Error: city not found"},
            {"role": "user", "content": "Thanks!"},
        ],
    }


def test_openai_public_api_uses_max_completion_tokens():
    from tui_agents.providers.openai import OpenAIProvider

    provider = OpenAIProvider(api_key="k")
    body = provider.build_request([Message(role="user", content="x")], max_tokens=10)
    assert body["max_completion_tokens"] == 10 and "max_tokens" not in body


async def test_ollama_request_shape(fake_llm, make_provider):
    provider = make_provider("ollama", model="llama-test", api_key=None)
    await collect(provider.stream(HISTORY, system="Be brief.", tools=[WEATHER], temperature=0, max_tokens=64,
                                  stop=["\n\n"]))
    [request] = fake_llm.chat_requests()
    assert request.path == "/api/chat"
    assert "authorization" not in request.headers
    assert request.body == {
        "model": "llama-test",
        "stream": True,
        "options": {"temperature": 0, "num_predict": 64, "stop": ["\n\n"], "num_ctx": 4096},
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city.",
                                                    "parameters": WEATHER.parameters}}],
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {"role": "assistant", "content": "Checking.", "tool_calls": [
                {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
                {"function": {"name": "get_weather", "arguments": {"city": "Rome"}}},
            ]},
            {"role": "tool", "content": "18°C", "tool_name": "get_weather"},
            {"role": "tool", "content": "Error: city not found", "tool_name": "get_weather"},
            {"role": "user", "content": "Thanks!"},
        ],
    }


async def test_provider_wide_options_apply_and_per_call_options_win(fake_llm, make_provider):
    provider = make_provider("ollama", temperature=0.9, max_tokens=10)
    await collect(provider.stream([Message(role="user", content="x")], temperature=0.1, model="other"))
    body = fake_llm.chat_requests()[0].body
    assert body["options"] == {"temperature": 0.1, "num_predict": 10, "num_ctx": 4096}
    assert body["model"] == "other"


async def test_keep_alive_reuses_one_connection(fake_llm, make_provider):
    provider = make_provider("openai")
    for _ in range(3):
        await provider.complete([Message(role="user", content="x")])
    assert fake_llm.open_connections == 1
