"""What ``aiagents-tui ask`` loads, and when: never Textual; rich and the tool registry only when used;
its warm-up only once the request has gone out. (Its speed is measured in benchmarks/bench_ask.py.)"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time

import pytest

from tests.cli.conftest import ROOT
from tests.fakes import Reply

# Runs the CLI's entry point, then writes the names of the modules the process loaded to argv[1].
_RUN_AND_LIST_MODULES = """
import json, sys
from tui_agents.cli import main
try:
    code = main(sys.argv[2:])
finally:
    with open(sys.argv[1], "w") as out:
        json.dump(sorted(name for name, module in sys.modules.items() if module is not None), out)
sys.exit(code)
"""


def _env(cli, fake_llm) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.endswith("_API_KEY")}
    env.update({"PYTHONPATH": str(ROOT), "AIAGENTS_CONFIG": str(cli.config), "AIAGENTS_DB": str(cli.db),
                "ANTHROPIC_BASE_URL": fake_llm.base_url, "ANTHROPIC_API_KEY": "sk-ant-test",
                "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24"})
    return env


def _loaded(path) -> set[str]:
    return set(json.loads(path.read_text()))


def _family(modules: set[str], name: str) -> set[str]:
    return {m for m in modules if m == name or m.startswith(name + ".")}


def test_ask_into_a_pipe_loads_only_what_it_uses(cli, fake_llm, tmp_path):
    fake_llm.script(Reply(text="Plain **reply**."), Reply(text="Title"))
    listing = tmp_path / "modules.json"
    result = subprocess.run([sys.executable, "-c", _RUN_AND_LIST_MODULES, str(listing), "ask", "--provider",
                             "anthropic", "hello"], capture_output=True, text=True, env=_env(cli, fake_llm),
                            cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Plain **reply**.\n"
    loaded = _loaded(listing)
    assert not _family(loaded, "textual") and not _family(loaded, "tui_agents.tui")
    assert not _family(loaded, "rich")  # plain text into a pipe
    sent = {tool["name"] for tool in fake_llm.chat_requests()[0].body.get("tools", [])}
    assert sent == {"calculate", "current_time", "search_documents"}  # the app's default agent's safe built-ins
    assert not _family(loaded, "tiktoken")  # Anthropic's counts are estimates
    assert not _family(loaded, "tomlkit")  # only saving the settings needs it
    assert not _family(loaded, "h2") and not _family(loaded, "click")  # HTTP/2 and httpx's CLI go unused
    assert not _family(loaded, "tui_agents.datacli")  # only ask's own parser was built


def test_ask_on_a_terminal_renders_markdown_without_textual(cli, fake_llm, tmp_path):
    fake_llm.script(Reply(text="Some **bold** words.\n", first_delay=0.2), Reply(text="Title"))
    listing = tmp_path / "modules.json"
    master, slave = pty.openpty()
    process = subprocess.Popen([sys.executable, "-c", _RUN_AND_LIST_MODULES, str(listing), "ask", "--provider",
                                "anthropic", "hello"], stdin=subprocess.DEVNULL, stdout=slave,
                               stderr=subprocess.PIPE, env=_env(cli, fake_llm), cwd=tmp_path)
    os.close(slave)
    output = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        try:
            chunk = os.read(master, 65536) if ready else b""
        except OSError:  # the child has gone
            break
        output += chunk
        if not ready and process.poll() is not None:
            break
    process.wait(10)
    os.close(master)
    assert process.returncode == 0, process.stderr.read()
    text = output.decode("utf-8", errors="replace")
    assert "\x1b[1mbold" in text  # rendered: **bold** shown in bold
    loaded = _loaded(listing)
    assert _family(loaded, "rich.markdown")
    assert not _family(loaded, "textual") and not _family(loaded, "tui_agents.tui")


async def test_the_warm_up_runs_while_the_server_thinks(make_provider_for_ask, fake_llm):
    """The reply's warm-up starts once the request has gone out, before the server's first byte."""
    import threading

    from tui_agents.ask import _after_request_sent

    fake_llm.script(Reply(text="hi", first_delay=0.3))
    provider = make_provider_for_ask()
    ran: list[float] = []
    done = threading.Event()

    def work() -> None:
        ran.append(time.time())
        done.set()

    _after_request_sent(provider, work)
    assert not ran  # nothing before the request
    async for _ in provider.stream([_user("hi")]):
        pass
    assert done.wait(5)
    request = fake_llm.chat_requests()[0]
    assert len(ran) == 1
    assert ran[0] < request.first_byte_at  # while the server was still thinking
    # and only once: a second request does not start it again
    fake_llm.script(Reply(text="again"))
    async for _ in provider.stream([_user("again")]):
        pass
    assert len(ran) == 1


def _user(text: str):
    from tui_agents.types import Message

    return Message(role="user", content=text)


@pytest.fixture
async def make_provider_for_ask(fake_llm):
    from tui_agents.providers import get_provider

    made = []

    def make():
        provider = get_provider("anthropic", api_key="sk-ant-test", base_url=fake_llm.base_url, max_retries=0)
        made.append(provider)
        return provider

    yield make
    for provider in made:
        await provider.aclose()


def test_the_package_loads_its_parts_only_when_named():
    """``import tui_agents`` is cheap; ``from tui_agents import Agent`` loads the agent, never Textual."""
    code = (
        "import json, sys\n"
        "import tui_agents\n"
        "bare = sorted(sys.modules)\n"
        "from tui_agents import Agent, AgentRunner, connect, get_provider\n"
        "print(json.dumps({'bare': bare, 'named': sorted(sys.modules), 'agent': Agent.__module__,\n"
        "                  'runner': AgentRunner.__module__, 'connect': connect.__module__,\n"
        "                  'provider': get_provider.__module__}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT.parent)
    loaded = json.loads(result.stdout)
    bare, named = set(loaded["bare"]), set(loaded["named"])
    for heavy in ("pydantic", "httpx", "aiosqlite", "rich", "textual"):
        assert not _family(bare, heavy), heavy
    assert (loaded["agent"], loaded["runner"], loaded["connect"], loaded["provider"]) == (
        "tui_agents.agent", "tui_agents.runner", "tui_agents.store.db", "tui_agents.providers")
    assert not _family(named, "textual") and not _family(named, "tui_agents.tui")


# Runs the CLI's entry point and reports whether the garbage collector was on at the first connect (the
# request) and after main() returned, and how many objects it left out of its scans (gc.freeze).
_RUN_AND_REPORT_GC = """
import gc, json, sys
seen = {}
def hook(event, args):
    if event == "socket.connect" and "at_request" not in seen:
        seen["at_request"] = gc.isenabled()
sys.addaudithook(hook)
from tui_agents.cli import main
code = main(sys.argv[2:])
seen.update(after=gc.isenabled(), frozen=gc.get_freeze_count())
with open(sys.argv[1], "w") as out:
    json.dump(seen, out)
sys.exit(code)
"""


def _gc_report(env, tmp_path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    report = tmp_path / "gc.json"
    result = subprocess.run([sys.executable, "-c", _RUN_AND_REPORT_GC, str(report), *args], capture_output=True,
                            text=True, env=env, cwd=tmp_path, timeout=60)
    return result, json.loads(report.read_text())


def test_ask_starts_without_garbage_collection_and_collects_once_the_request_is_out(cli, fake_llm, tmp_path):
    fake_llm.script(Reply(text="Hello."), Reply(text="Title"))
    result, seen = _gc_report(_env(cli, fake_llm), tmp_path, "ask", "--provider", "anthropic", "hello")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Hello.\n"
    assert seen["at_request"] is False  # start-up's objects were never scanned
    assert seen["after"] is True and seen["frozen"] > 10_000  # on again, start-up's objects set aside


def test_the_collector_is_on_again_when_ask_fails_before_its_request_or_for_other_commands(cli, fake_llm, tmp_path):
    env = {key: value for key, value in _env(cli, fake_llm).items() if key != "ANTHROPIC_API_KEY"}
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"  # no key anywhere
    result, seen = _gc_report(env, tmp_path, "ask", "--provider", "anthropic", "hello")
    assert result.returncode == 1 and "No anthropic API key" in result.stderr
    assert seen == {"after": True, "frozen": 0}  # never connected, collector back on
    result, seen = _gc_report(env, tmp_path, "paths")
    assert result.returncode == 0 and seen == {"after": True, "frozen": 0}


# Runs the CLI's entry point and reports whether tiktoken had loaded by the first connect (the request).
_RUN_AND_REPORT_TIKTOKEN = """
import json, sys
seen = {}
def hook(event, args):
    if event == "socket.connect" and "at_request" not in seen:
        seen["at_request"] = "tiktoken" in sys.modules
sys.addaudithook(hook)
from tui_agents.cli import main
code = main(sys.argv[2:])
seen["after"] = "tiktoken" in sys.modules
with open(sys.argv[1], "w") as out:
    json.dump(seen, out)
sys.exit(code)
"""


def test_asking_gpt_4o_sends_the_request_before_its_tokenizer_loads_and_saves_the_exact_count(cli, fake_llm,
                                                                                                tmp_path):
    import asyncio

    from tui_agents.memory import TokenCounter
    from tui_agents.store import MessageStore, ThreadStore, connect

    fake_llm.script(Reply(text="Hello."), Reply(text="Title"))
    env = {**_env(cli, fake_llm), "OPENAI_BASE_URL": fake_llm.base_url + "/v1", "OPENAI_API_KEY": "sk-test"}
    report = tmp_path / "tiktoken.json"
    text = "Is internationalization of 1234567 characters hard?"
    result = subprocess.run([sys.executable, "-c", _RUN_AND_REPORT_TIKTOKEN, str(report), "ask", "--provider",
                             "openai", "--model", "gpt-4o", text], capture_output=True, text=True, env=env,
                            cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Hello.\n"
    assert json.loads(report.read_text()) == {"at_request": False, "after": True}

    async def user_count() -> int | None:
        conn = await connect(cli.db)
        try:
            thread = (await ThreadStore(conn).list(limit=1))[0]
            return next(r for r in await MessageStore(conn).list(thread["id"]) if r["role"] == "user")["token_count"]
        finally:
            await conn.close()

    assert asyncio.run(user_count()) == TokenCounter("o200k_base").count_message({"role": "user", "content": text})


@pytest.mark.parametrize("argv", [
    ["ask", "hi"], ["--db", "x.db", "ask", "--provider", "ollama", "hi"], ["--provider=anthropic", "ask", "q"],
    ["--mod", "gpt-4o", "ask", "--continue", "more"], ["--new", "ask", "--no-save", "--thread", "thr_1", "x"],
])
def test_ask_builds_only_its_own_parser_and_reads_the_command_line_the_same(argv, capsys):
    from tui_agents.cli import build_parser, command_in

    assert command_in(argv) == "ask"
    assert vars(build_parser("ask").parse_args(argv)) == vars(build_parser().parse_args(argv))
    helps = []
    for parser in (build_parser("ask"), build_parser()):
        with pytest.raises(SystemExit):
            parser.parse_args(["ask", "--help"])
        helps.append(capsys.readouterr().out)
    assert helps[0] == helps[1] and "--no-save" in helps[0]


def test_a_word_after_a_value_option_is_its_value_not_the_command():
    from tui_agents.cli import command_in

    assert command_in(["--theme", "ask"]) is None  # the theme named "ask", the app opens
    assert command_in(["--them", "ask", "paths"]) == "paths"  # argparse takes --them for --theme
    assert command_in(["--new"]) is None and command_in([]) is None


# Runs the CLI's entry point and reports which of the engine's event modules were loaded at the first
# connect (the request), and whether the classes made later are the ones the public modules name.
_RUN_AND_REPORT_EVENTS = """
import json, sys
seen = {}
def hook(event, args):
    if event == "socket.connect" and "at_request" not in seen:
        seen["at_request"] = sorted(name for name in ("tui_agents._turn_events", "tui_agents.providers._stream_events")
                                    if name in sys.modules)
sys.addaudithook(hook)
from tui_agents.cli import main
code = main(sys.argv[2:])
from tui_agents import events, _turn_events
from tui_agents.providers import base, _stream_events
seen["same"] = events.TextDelta is _turn_events.TextDelta and base.TextDeltaEvent is _stream_events.TextDeltaEvent
with open(sys.argv[1], "w") as out:
    json.dump(seen, out)
sys.exit(code)
"""


def test_ask_makes_the_event_classes_once_the_request_is_out(cli, fake_llm, tmp_path):
    """The frozen event dataclasses (~0.7 ms each to make) are not on the start-up's path; the reply is whole."""
    fake_llm.script(Reply(text="Hello there."), Reply(text="Title"))
    report = tmp_path / "events.json"
    result = subprocess.run([sys.executable, "-c", _RUN_AND_REPORT_EVENTS, str(report), "ask", "--provider",
                             "anthropic", "hello"], capture_output=True, text=True, env=_env(cli, fake_llm),
                            cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Hello there.\n"
    seen = json.loads(report.read_text())
    assert seen == {"at_request": [], "same": True}
