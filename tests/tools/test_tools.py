"""The @tool decorator, the Tool base class, the registry and Tool.run's error handling."""

import asyncio
import enum
import json
import threading
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field

from tui_agents import Tool, ToolDefinition, get_tool, list_tools, register_tool, tool
from tui_agents.errors import ToolDefinitionError, ToolError
from tui_agents.tools import ToolContext, ToolResult, default_registry, resolve_tools, unregister_tool


@pytest.fixture(autouse=True)
def _restore_registry():
    """Each test may register tools in the global registry; put it back afterwards."""
    saved = list_tools()
    yield
    for name in default_registry.names():
        unregister_tool(name)
    for saved_tool in saved:
        register_tool(saved_tool)


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


class Address(BaseModel):
    street: str
    city: str


def schema_of(func) -> dict:
    return func.tool.get_definition().parameters


# --- schema generation ---


def test_required_string_parameter_with_description():
    @tool(description="Get the weather")
    async def weather(city: Annotated[str, Field(description="City name")]) -> str:
        return city

    definition = weather.tool.get_definition()
    assert definition == ToolDefinition(
        name="weather",
        description="Get the weather",
        parameters={
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    )


def test_defaults_make_parameters_optional_and_are_shown():
    @tool(description="Search")
    def search(query: str, limit: int = 5, exact: bool = False, boost: float = 1.5) -> str:
        return query

    params = schema_of(search)
    assert params["required"] == ["query"]
    assert params["properties"]["limit"] == {"type": "integer", "default": 5}
    assert params["properties"]["exact"] == {"type": "boolean", "default": False}
    assert params["properties"]["boost"] == {"type": "number", "default": 1.5}


def test_optional_parameter_allows_null():
    @tool(description="Greet")
    def greet(name: str | None = None) -> str:
        return f"hi {name}"

    prop = schema_of(greet)["properties"]["name"]
    assert prop["default"] is None
    assert {"type": "null"} in prop["anyOf"] and {"type": "string"} in prop["anyOf"]
    assert "required" not in schema_of(greet)


def test_literal_and_enum_parameters_become_inline_enums():
    @tool(description="Convert")
    def convert(mode: Literal["fast", "exact"], unit: Unit = Unit.CELSIUS) -> str:
        return mode

    props = schema_of(convert)["properties"]
    assert props["mode"] == {"type": "string", "enum": ["fast", "exact"]}
    assert props["unit"]["enum"] == ["celsius", "fahrenheit"]
    assert props["unit"]["default"] == "celsius"
    assert "$defs" not in schema_of(convert)  # providers get one self-contained schema


def test_list_and_nested_model_parameters():
    @tool(description="Mail")
    def mail(recipients: list[str], address: Address, counts: list[int] | None = None) -> str:
        return "ok"

    props = schema_of(mail)["properties"]
    assert props["recipients"] == {"type": "array", "items": {"type": "string"}}
    assert props["address"]["properties"] == {"street": {"type": "string"}, "city": {"type": "string"}}
    assert props["address"]["required"] == ["street", "city"]


def test_context_parameter_is_hidden_from_the_model():
    @tool(description="Who am I")
    async def whoami(context: ToolContext, shout: bool = False) -> str:
        return context.user_id

    assert list(schema_of(whoami)["properties"]) == ["shout"]


def test_parameter_names_that_clash_with_pydantic_still_work():
    @tool(description="Odd names")
    def odd(schema: str, json: int, copy: bool = True) -> str:
        return f"{schema}-{json}-{copy}"

    assert set(schema_of(odd)["properties"]) == {"schema", "json", "copy"}


async def test_parameter_names_that_clash_with_pydantic_are_passed_through():
    @tool(description="Odd names")
    def odd(schema: str, json: int) -> str:
        return f"{schema}-{json}"

    result = await odd.tool.run({"schema": "a", "json": 2})
    assert result.content == "a-2"


async def test_string_annotations_from_future_import_are_resolved(tmp_path, monkeypatch):
    (tmp_path / "future_tools.py").write_text(
        "from __future__ import annotations\n"
        "from typing import Annotated, Literal\n"
        "from pydantic import Field\n"
        "from tui_agents import tool\n"
        "from tui_agents.tools import ToolContext\n"
        "def make():\n"
        "    class Local:\n"
        "        pass\n"
        "    @tool(description='Future', register=False)\n"
        "    def future(n: Annotated[int, Field(description='count')], mode: Literal['a', 'b'] = 'a',\n"
        "               hidden: Local = None, context: ToolContext | None = None) -> str:\n"
        "        return f'{n * 2}{mode}{context is None}'\n"
        "    return future\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import future_tools

    future = future_tools.make()
    props = schema_of(future)["properties"]
    assert props["n"] == {"type": "integer", "description": "count"}
    assert props["mode"]["enum"] == ["a", "b"]
    assert props["hidden"] == {"default": None}  # a local class cannot be resolved: any value
    assert "context" not in props
    assert (await future.tool.run({"n": "21"})).content == "42aTrue"


def test_description_defaults_to_the_docstring():
    @tool()
    def shout(text: str) -> str:
        """Upper-case the text.

        More detail the model does not need.
        """
        return text.upper()

    assert shout.tool.description == "Upper-case the text."


def test_bare_decorator_and_custom_name():
    @tool
    def plain(x: int) -> int:
        """Plain tool."""
        return x

    @tool(name="renamed", description="Renamed tool")
    def original(x: int) -> int:
        return x

    assert get_tool("plain") is plain.tool
    assert get_tool("renamed") is original.tool


def test_invalid_tool_name_is_refused():
    with pytest.raises(ToolError, match="not valid"):
        tool(name="has spaces", description="x")(lambda: 1)


def test_a_function_that_cannot_be_a_tool_is_a_typed_error():
    import socket

    def connect_to(sock: socket.socket) -> str:
        return ""

    def counts() -> str:
        yield "1"

    with pytest.raises(ToolDefinitionError, match="connect_to has a parameter type that JSON cannot describe"):
        tool(description="bad", register=False)(connect_to)
    with pytest.raises(ToolDefinitionError, match="must return its result"):
        tool(description="bad", register=False)(counts)


def test_args_and_kwargs_are_refused():
    with pytest.raises(TypeError, match=r"\*args"):

        @tool(description="bad")
        def bad(*values: int) -> int:
            return 0


# --- decorated functions stay functions ---


def test_decorated_sync_function_is_still_callable():
    @tool(description="Add")
    def add(a: int, b: int) -> int:
        return a + b

    assert add(2, 3) == 5


async def test_decorated_async_function_is_still_awaitable():
    @tool(description="Echo")
    async def echo(text: str) -> str:
        return text

    assert await echo("hi") == "hi"


# --- running tools ---


async def test_run_validates_and_coerces_arguments():
    @tool(description="Repeat")
    def repeat(text: str, times: int = 1) -> str:
        return text * times

    result = await repeat.tool.run({"text": "ab", "times": "3"})
    assert result == ToolResult("ababab", is_error=False, status="ok", duration_ms=result.duration_ms)
    assert result.duration_ms >= 0


async def test_enum_and_model_arguments_arrive_as_python_objects():
    seen = {}

    @tool(description="Record")
    def record(unit: Unit, address: Address) -> str:
        seen.update(unit=unit, address=address)
        return "ok"

    result = await record.tool.run({"unit": "fahrenheit", "address": {"street": "1 Main St", "city": "Oslo"}})
    assert result.status == "ok"
    assert seen == {"unit": Unit.FAHRENHEIT, "address": Address(street="1 Main St", city="Oslo")}


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({}, "text: Field required"),
        ({"text": 5}, "text: Input should be a valid string"),
        ({"text": "a", "times": "many"}, "times: Input should be a valid integer"),
        ({"text": "a", "colour": "red"}, "colour: unknown argument"),
        (["text"], "must be a JSON object"),
        ("{not json", "not valid JSON"),
    ],
)
async def test_invalid_arguments_become_an_error_result(arguments, expected):
    calls = []

    @tool(description="Repeat")
    def repeat(text: str, times: int = 1) -> str:
        calls.append(text)
        return text * times

    result = await repeat.tool.run(arguments)
    assert result.is_error and result.status == "error"
    assert result.content.startswith("Invalid arguments for tool 'repeat':")
    assert expected in result.content
    assert calls == []  # the function never ran


async def test_arguments_may_arrive_as_a_json_string():
    @tool(description="Repeat")
    def repeat(text: str, times: int = 1) -> str:
        return text * times

    assert (await repeat.tool.run('{"text": "x", "times": 2}')).content == "xx"


async def test_an_exception_becomes_an_error_result():
    @tool(description="Explode")
    async def explode() -> str:
        raise KeyError("no such key")

    result = await explode.tool.run({})
    assert result.is_error and result.status == "error"
    assert result.content == "Tool 'explode' failed: KeyError: 'no such key'"


async def test_an_async_tool_that_runs_too_long_times_out():
    @tool(description="Slow", timeout=0.2)
    async def slow() -> str:
        await asyncio.sleep(60)
        return "never"

    result = await slow.tool.run({})
    assert result.is_error and result.status == "timeout"
    assert "timed out after 0.2 seconds" in result.content


async def test_a_sync_tool_that_runs_too_long_times_out():
    release = threading.Event()

    @tool(description="Stuck", timeout=0.2)
    def stuck() -> str:
        release.wait(30)
        return "late"

    try:
        result = await stuck.tool.run({})
    finally:
        release.set()  # let the abandoned thread finish
    assert result.status == "timeout"


async def test_a_tool_raising_its_own_timeout_error_is_an_error_not_a_timeout():
    @tool(description="Fetch", timeout=30)
    async def fetch() -> str:
        raise TimeoutError("upstream did not answer")

    result = await fetch.tool.run({})
    assert result.status == "error"
    assert "upstream did not answer" in result.content


async def test_a_sync_tool_does_not_block_the_event_loop():
    started = threading.Event()
    release = threading.Event()

    @tool(description="Blocking", timeout=20)
    def blocking() -> str:
        started.set()
        # If this ran on the event loop, the test below could never set ``release``.
        return "released" if release.wait(10) else "the event loop was blocked"

    task = asyncio.create_task(blocking.tool.run({}))
    assert await asyncio.to_thread(started.wait, 10)
    release.set()  # this line runs on the loop while the tool is still blocking
    result = await task
    assert result.content == "released"


async def test_results_that_are_not_strings_are_json_encoded():
    @tool(description="Data")
    def data() -> dict:
        return {"n": 1, "unit": Unit.CELSIUS, "address": Address(street="s", city="c")}

    result = await data.tool.run({})
    assert json.loads(result.content) == {"n": 1, "unit": "celsius", "address": {"street": "s", "city": "c"}}


async def test_huge_results_are_truncated_with_a_note():
    @tool(description="Big")
    def big() -> str:
        return "x" * 150_000

    result = await big.tool.run({})
    assert result.status == "ok"
    assert result.content.endswith("[output truncated: 50000 more characters]")


async def test_context_is_passed_to_tools_that_ask_for_it():
    @tool(description="Who am I")
    async def whoami(context: ToolContext) -> str:
        return f"{context.user_id} in {context.thread_id}"

    result = await whoami.tool.run({}, ToolContext(conn=None, user_id="u1", thread_id="thr_1"))
    assert result.content == "u1 in thr_1"


async def test_a_tool_needing_context_without_one_is_an_error_result():
    @tool(description="Who am I")
    async def whoami(context: ToolContext) -> str:
        return context.user_id

    result = await whoami.tool.run({})
    assert result.is_error and "database and user" in result.content


async def test_optional_context_may_be_missing():
    @tool(description="Maybe")
    def maybe(context: ToolContext | None = None) -> str:
        return "none" if context is None else "some"

    assert (await maybe.tool.run({})).content == "none"


# --- class-based tools ---


class WeatherTool(Tool):
    """The seed README's class-based tool, with a hand-written schema."""

    name = "get_weather"
    description = "Get current weather for a city"

    async def execute(self, city: str) -> str:
        return f"Weather in {city}: Sunny, 72°F"

    def get_definition(self) -> ToolDefinition:
        return ToolDefinition(
            name=self.name,
            description=self.description,
            parameters={
                "type": "object",
                "properties": {"city": {"type": "string", "description": "City name"}},
                "required": ["city"],
            },
        )


async def test_class_based_tool_from_the_seed_readme():
    register_tool(WeatherTool())
    found = get_tool("get_weather")
    assert found.get_definition().parameters["required"] == ["city"]
    result = await found.run({"city": "London"})
    assert result == ToolResult("Weather in London: Sunny, 72°F", False, "ok", result.duration_ms)


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [({}, "city: Field required"), ({"city": 3}, "city: expected string, got integer")],
)
async def test_class_based_tool_arguments_are_checked_against_its_schema(arguments, expected):
    result = await WeatherTool().run(arguments)
    assert result.is_error and expected in result.content


async def test_hand_written_schema_checks_types_enums_items_and_unknown_keys():
    class Plan(Tool):
        name = "plan"
        description = "Plan"

        async def execute(self, **kwargs) -> str:
            return "planned"

        def get_definition(self) -> ToolDefinition:
            return ToolDefinition(name=self.name, parameters={
                "type": "object",
                "properties": {
                    "days": {"type": "integer"},
                    "mode": {"type": "string", "enum": ["walk", "bike"]},
                    "stops": {"type": "array", "items": {"type": "string"}},
                },
                "additionalProperties": False,
            })

    plan = Plan()
    assert (await plan.run({"days": 2, "mode": "walk", "stops": ["a"]})).content == "planned"
    bad = await plan.run({"days": True, "mode": "car", "stops": ["a", 1], "extra": 1})
    assert bad.is_error
    for part in ("days: expected integer, got boolean", "mode: must be one of", "stops.1: expected string",
                 "extra: unknown argument"):
        assert part in bad.content


async def test_class_based_tool_without_a_schema_gets_one_from_execute():
    class Add(Tool):
        name = "add"
        description = "Add two numbers"

        async def execute(self, a: int, b: Annotated[int, Field(description="second")] = 1) -> int:
            return a + b

    add = Add()
    params = add.get_definition().parameters
    assert params["required"] == ["a"] and params["properties"]["b"]["description"] == "second"
    assert (await add.run({"a": "2", "b": 3})).content == "5"
    assert (await add.run({"b": 3})).is_error


async def test_class_based_tool_receives_context():
    class Whoami(Tool):
        name = "whoami"
        description = "Who am I"

        async def execute(self, context: ToolContext) -> str:
            return context.user_id or "nobody"

    assert (await Whoami().run({}, ToolContext(user_id="u9"))).content == "u9"


async def test_class_based_tool_errors_and_timeouts_are_results():
    class Flaky(Tool):
        name = "flaky"
        description = "Fails or hangs"
        timeout = 0.2

        async def execute(self, hang: bool = False) -> str:
            if hang:
                await asyncio.sleep(60)
            raise RuntimeError("disk full")

    assert (await Flaky().run({})).content == "Tool 'flaky' failed: RuntimeError: disk full"
    assert (await Flaky().run({"hang": True})).status == "timeout"


# --- registry ---


def test_unknown_tool_lookup_lists_the_known_names():
    with pytest.raises(ToolError) as caught:
        get_tool("teleport")
    message = str(caught.value)
    assert "teleport" in message
    assert "calculate" in message and "current_time" in message


def test_builtins_are_registered():
    names = [t.name for t in list_tools()]
    assert {"calculate", "current_time", "search_documents", "remember"} <= set(names)
    assert names == sorted(names)


def test_resolve_tools_accepts_names_tool_objects_and_decorated_functions():
    @tool(description="Ping")
    def ping() -> str:
        return "pong"

    weather = WeatherTool()
    resolved = resolve_tools(["calculate", weather, ping, "calculate"])
    assert [t.name for t in resolved] == ["calculate", "get_weather", "ping"]
    assert resolved[1] is weather and resolved[2] is ping.tool


def test_resolve_tools_refuses_unknown_items():
    with pytest.raises(ToolError, match="No tool is named 'nope'"):
        resolve_tools(["nope"])
    with pytest.raises(ToolError, match="Cannot use"):
        resolve_tools([lambda: 1])


def test_resolve_tools_refuses_two_different_tools_with_one_name():
    @tool(description="A", register=False, name="same")
    def first() -> str:
        return "1"

    @tool(description="B", register=False, name="same")
    def second() -> str:
        return "2"

    with pytest.raises(ToolError, match="Two different tools"):
        resolve_tools([first, second])


def test_registering_a_non_tool_is_refused():
    with pytest.raises(ToolError, match="Only Tool instances"):
        register_tool(lambda: 1)


async def test_a_user_tool_replaces_the_builtin_of_the_same_name():
    from tui_agents.tools.builtin import calculate as builtin_calculate

    # The seed README's calculate, minus its eval.
    @tool(description="Calculate math expression")
    def calculate(expression: str) -> str:
        return f"user says {expression}"

    assert get_tool("calculate") is calculate.tool
    assert (await get_tool("calculate").run({"expression": "1+1"})).content == "user says 1+1"
    # The builtin is still importable and works on its own.
    assert (await builtin_calculate.tool.run({"expression": "1+1"})).content == "2"


def test_builtins_do_not_replace_an_existing_tool():
    from tui_agents.tools import register_builtins

    @tool(description="Mine")
    def current_time() -> str:
        return "mine"

    register_builtins(default_registry)
    assert get_tool("current_time") is current_time.tool
