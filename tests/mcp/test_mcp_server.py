"""``MCPServer`` against a real MCP server (the SDK's own server) over stdio and streamable HTTP."""

from __future__ import annotations

import json
import os
import re

import pytest

from tests.mcp.conftest import pid_alive, stdio_server
from tests.mcp.server import PNG
from tui_agents.errors import ConfigError, InvalidArgumentError, MCPServerError
from tui_agents.mcp import MCPServer, expand_env, wire_name


async def _tools(server):
    return {tool.remote_name: tool for tool in await server.load_tools()}


async def test_stdio_server_lists_its_tools_under_wire_names():
    async with stdio_server("files") as server:
        tools = await server.load_tools()
    names = {tool.name for tool in tools}
    assert {"files__echo", "files__add", "files__fail", "files__hang"} <= names
    echo = next(tool for tool in tools if tool.remote_name == "echo")
    definition = echo.get_definition()
    assert definition.name == "files__echo"
    assert definition.parameters["required"] == ["text"]
    assert "unchanged" in definition.description


async def test_calls_return_text_structured_and_image_results():
    async with stdio_server() as server:
        tools = await _tools(server)
        echoed = await tools["echo"].run({"text": "héllo"})
        added = await tools["add"].run({"a": 2, "b": 40})
        picture = await tools["picture"].run({})
    assert (echoed.content, echoed.status, echoed.is_error) == ("héllo", "ok", False)
    assert json.loads(added.content) == {"sum": 42}
    assert picture.status == "ok" and re.fullmatch(r"\[image image/png, \d+ bytes\]", picture.content)
    assert picture.images == (("image/png", PNG),)  # the bytes, for a provider that takes images in results


async def test_error_result_becomes_a_tool_error_result_not_an_exception():
    async with stdio_server() as server:
        tools = await _tools(server)
        failed = await tools["fail"].run({"reason": "the disk is on fire"})
        bad_arguments = await tools["echo"].run({})
        after = await tools["echo"].run({"text": "still here"})
    assert failed.is_error and failed.status == "error" and "the disk is on fire" in failed.content
    assert bad_arguments.is_error and "text" in bad_arguments.content
    assert after.content == "still here"


async def test_a_call_that_never_answers_times_out_and_the_server_stays_usable():
    async with stdio_server(timeout=0.5) as server:
        tools = await _tools(server)
        hung = await tools["hang"].run({})
        after = await tools["echo"].run({"text": "next"})
    assert hung.status == "timeout" and hung.is_error
    assert "did not answer within 0.5 seconds" in hung.content
    assert after.content == "next"


async def test_a_crashed_server_gives_error_results_with_its_stderr_and_leaves_no_process():
    server = stdio_server()
    tools = await _tools(server)
    pid = int((await tools["pid"].run({})).content)
    crashed = await tools["crash"].run({})
    assert crashed.is_error and "stopped" in crashed.content and "crashing on purpose" in crashed.content
    assert isinstance(server.error, MCPServerError) and server.state == "stopped"
    assert "crashing on purpose" in server.error.stderr_tail
    assert not server.running and not pid_alive(pid)
    await server.aclose()


async def test_a_crashed_server_starts_again_at_its_next_use_once_until_the_next_load_tools():
    server = stdio_server()
    tools = await _tools(server)
    first = int((await tools["pid"].run({})).content)
    await tools["crash"].run({})
    second = await tools["pid"].run({})  # the next use starts it again
    assert second.status == "ok" and int(second.content) != first and server.state == "running"
    await tools["crash"].run({})
    down = await tools["pid"].run({})  # a second crash before the next load_tools: no restart loop
    assert down.is_error and "started again with the next message" in down.content
    assert server.state == "stopped"
    tools = await _tools(server)  # the runner's next turn
    third = await tools["pid"].run({})
    assert third.status == "ok" and server.state == "running" and server.error is None
    await server.aclose()
    assert not pid_alive(int(third.content))


async def test_a_server_that_fails_to_start_raises_with_its_stderr_tail_until_retry():
    server = stdio_server("broken", mode="fail-start")
    with pytest.raises(MCPServerError) as caught:
        await server.load_tools()
    assert "broken could not start" in str(caught.value)
    assert "missing configuration, giving up" in caught.value.stderr_tail
    assert server.state == "failed"
    with pytest.raises(MCPServerError) as again:  # stays failed, without spawning again
        await server.start()
    assert again.value is caught.value
    server.retry()
    with pytest.raises(MCPServerError) as third:
        await server.start()
    assert third.value is not caught.value
    await server.aclose()


async def test_the_stderr_tail_holds_the_latest_attempt_only_in_order():
    server = stdio_server("broken", mode="fail-start")
    for _ in range(3):
        server.retry()
        with pytest.raises(MCPServerError) as caught:
            await server.start()
    assert caught.value.stderr_tail.splitlines() == [
        "test server: starting (fail-start)", "test server: missing configuration, giving up"]
    assert caught.value.reason == "The MCP server broken could not start: its connection closed."
    assert str(caught.value) == caught.value.reason + " Its last output: test server: missing configuration, giving up"
    await server.aclose()


async def test_a_failure_is_logged_once_as_a_warning_with_env_values_masked(tmp_path, monkeypatch, package_logger):
    from tui_agents.logs import setup_logging

    secret = "sk-live-0123456789abcdef"
    monkeypatch.setenv("MCP_SECRET", secret)
    path = setup_logging(tmp_path / "app.log")
    server = stdio_server("broken", mode="fail-start", env={"MCP_TEST_LEAK": "${MCP_SECRET}"})
    with pytest.raises(MCPServerError) as caught:
        await server.load_tools()
    with pytest.raises(MCPServerError):
        await server.load_tools()  # the same failure: not logged again
    await server.aclose()
    for handler in package_logger.handlers:
        handler.flush()
    text = path.read_text()
    assert text.count("WARNING tui_agents.mcp: The MCP server broken could not start") == 1
    assert "missing configuration, giving up" in text and "env MCP_TEST_LEAK" in text
    assert "test server: token **** refused" in text
    assert secret not in text
    assert secret not in str(caught.value) and secret not in caught.value.stderr_tail


async def test_a_missing_command_is_a_plain_error():
    server = MCPServer("ghost", command="/nonexistent/mcp-server")
    with pytest.raises(MCPServerError, match="command was not found"):
        await server.start()
    await server.aclose()


async def test_aclose_stops_the_child_process():
    server = stdio_server()
    tools = await _tools(server)
    pid = int((await tools["pid"].run({})).content)
    assert pid_alive(pid)
    await server.aclose()
    assert not pid_alive(pid)
    await server.aclose()  # twice is fine


async def test_env_and_subset_of_tools(monkeypatch):
    monkeypatch.setenv("MCP_TEST_TOKEN", "t0k3n")
    async with stdio_server(env={"GREETING": "hi ${MCP_TEST_TOKEN}"}, tools=["getenv", "echo"]) as server:
        tools = await _tools(server)
        value = await tools["getenv"].run({"name": "GREETING"})
    assert set(tools) == {"getenv", "echo"}
    assert value.content == "hi t0k3n"


async def test_streamable_http_server_lists_and_calls(http_server_url, monkeypatch):
    monkeypatch.setenv("MCP_TEST_TOKEN", "secret-token-value")
    server = MCPServer("search", url=http_server_url, headers={"Authorization": "Bearer ${MCP_TEST_TOKEN}"})
    async with server:
        tools = await _tools(server)
        result = await tools["add"].run({"a": 1, "b": 2})
        failed = await tools["fail"].run({})
    assert "search__echo" in {tool.name for tool in tools.values()}
    assert json.loads(result.content) == {"sum": 3}
    assert failed.is_error
    assert "secret-token-value" not in repr(server)


async def test_an_http_server_that_went_away_and_came_back_is_used_again(tmp_path):
    from tests.mcp.conftest import http_server_process

    with http_server_process() as (url, restart):
        server = MCPServer("web", url=url, timeout=10, start_timeout=20)
        tools = await _tools(server)
        assert (await tools["echo"].run({"text": "one"})).content == "one"
        restart(down=True)
        gone = await tools["echo"].run({"text": "two"})
        assert gone.is_error and "web stopped" in gone.content and server.state == "stopped"
        restart(down=False)
        tools = await _tools(server)  # the next turn connects again
        assert (await tools["echo"].run({"text": "three"})).content == "three"
        await server.aclose()


async def test_http_server_that_is_down_fails_to_start_plainly():
    server = MCPServer("down", url="http://127.0.0.1:9/mcp", start_timeout=10)
    with pytest.raises(MCPServerError, match="down could not start"):
        await server.start()
    await server.aclose()


def test_wire_names_follow_the_providers_rule_and_stay_unique():
    pattern = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
    assert wire_name("files", "read_file") == "files__read_file"
    assert wire_name("my files", "read.file") == "my_files__read_file"
    long_a = wire_name("server", "x" * 80 + "a")
    long_b = wire_name("server", "x" * 80 + "b")
    assert pattern.match(long_a) and pattern.match(long_b) and long_a != long_b
    clash = wire_name("s", "a.b", taken={"s__a_b"})
    assert pattern.match(clash) and clash != "s__a_b"


def test_env_references_expand_and_a_missing_one_names_the_variable(monkeypatch):
    monkeypatch.setenv("MCP_X", "1")
    monkeypatch.delenv("MCP_MISSING", raising=False)
    assert expand_env("a${MCP_X}b", "s") == "a1b"
    with pytest.raises(ConfigError, match="MCP_MISSING"):
        expand_env("${MCP_MISSING}", "s")


def test_a_server_needs_exactly_one_transport():
    with pytest.raises(InvalidArgumentError):
        MCPServer("x")
    with pytest.raises(InvalidArgumentError):
        MCPServer("x", command="a", url="http://b")


def test_importing_without_the_sdk_names_the_extra():
    import subprocess
    import sys

    code = ("import importlib.util, sys\n"
            "real = importlib.util.find_spec\n"
            "importlib.util.find_spec = lambda name, *a: None if name == 'mcp' else real(name, *a)\n"
            "from tui_agents.mcp import MCPServer\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert out.returncode != 0
    assert "pip install 'tui-agents[mcp]'" in out.stderr


async def test_a_server_that_never_answers_the_handshake_fails_after_start_timeout(tmp_path):
    import sys
    import time

    pidfile = tmp_path / "pid"
    script = f"import os, time; open({str(pidfile)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    server = MCPServer("mute", command=sys.executable, args=["-c", script], start_timeout=2)
    started = time.monotonic()
    with pytest.raises(MCPServerError, match="did not answer in time"):
        await server.start()
    assert time.monotonic() - started < 10
    await server.aclose()
    assert not pid_alive(int(pidfile.read_text()))
