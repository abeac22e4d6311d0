"""Regenerate the SVG screenshots in ``screenshots/`` from a scripted, headless run of the real app.

The app chats with the test suite's fake LLM server (Ollama protocol, on a free
loopback port) over a fresh database, with fixed data and a fixed clock, no
provider keys, a null keyring and a throwaway HOME, so the pictures hold no
secrets and only change when the app's look changes.

Usage: ``make screenshots`` or ``.venv/bin/python scripts/screenshots.py [--out DIR]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SIZE = (120, 40)
WORK = Path(tempfile.gettempdir()) / "aiagents-tui-screenshots"  # fixed, so paths on screen are stable
TIMEOUT = 30.0

CODE_REPLY = """Slicing with a step of -1 walks the string backwards:

```python
def reverse(text: str) -> str:
    \"\"\"Return text with its characters in reverse order.\"\"\"
    return text[::-1]


assert reverse("stressed") == "desserts"
```

It works for any sequence. For a string with combining characters, reverse
**grapheme clusters** instead (the `regex` module's `\\X` pattern finds them).
"""

TOOL_ANSWER = "6 × 7 = **42**, and 2¹⁰ = **1,024**."
PORTO_REPLY = "Porto it is: the *Ribeira* and a port cellar in Gaia on Saturday, the Serralves park on Sunday."
TRIP_REPLY = "Two days in Lisbon: *Alfama* and the castle on Saturday, Belém and the river on Sunday."
FACTS = [("name", "Ada", "profile"), ("timezone", "Europe/Lisbon", "profile"),
         ("language", "Python 3.12", "work"), ("editor", "Helix", "work")]


def isolate_environment() -> None:
    """No keys, no keyring, no real user dirs: everything under WORK."""
    shutil.rmtree(WORK, ignore_errors=True)
    for sub in ("home", "config", "data", "cache"):
        (WORK / sub).mkdir(parents=True)
    for var in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_BASE_URL", "OLLAMA_HOST",
                "AIAGENTS_DB", "AIAGENTS_CONFIG"):
        os.environ.pop(var, None)
    os.environ.update({
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        "HOME": str(WORK / "home"),
        "XDG_CONFIG_HOME": str(WORK / "config"),
        "XDG_DATA_HOME": str(WORK / "data"),
        "XDG_CACHE_HOME": str(WORK / "cache"),
        "TZ": "UTC",
    })


async def wait_until(pilot: Any, predicate: Callable[[], Any], what: str) -> None:
    """Run the app until ``predicate()`` holds (or fail after TIMEOUT seconds)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            if predicate():
                return
        except Exception:  # noqa: BLE001 - widgets may not be mounted yet
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"screenshots: timed out waiting for {what}")
        await pilot.pause(0.05)


class Shooter:
    """Drives one app run and saves its screens."""

    def __init__(self, pilot: Any, out: Path) -> None:
        self.pilot = pilot
        self.app = pilot.app
        self.out = out
        self.saved: list[Path] = []

    async def settle(self) -> None:
        """Let workers, layout and animations finish, then freeze what blinks."""
        from textual.widgets import Input, TextArea

        for _ in range(3):
            await self.pilot.pause(0.1)
            await self.pilot.wait_for_scheduled_animations()
        for widget in [*self.app.screen.query(Input).results(), *self.app.screen.query(TextArea).results()]:
            widget.cursor_blink = False  # a focused box then always shows its cursor
            widget.refresh()
        self.app.clear_notifications()
        await self.pilot.pause(0.1)

    async def shot(self, name: str) -> None:
        await self.settle()
        path = self.out / f"{name}.svg"
        self.app.save_screenshot(filename=path.name, path=str(self.out))
        self.saved.append(path)
        print(f"  {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")

    async def send(self, text: str, new_thread: bool = False) -> str:
        """Type a message (in a new chat, or the open thread), wait for the whole reply; the thread id."""
        app = self.app
        if new_thread:
            await app.screen_main.action_new_thread()
        app.composer.focus()
        app.composer.load_text(text)
        await self.pilot.press("enter")
        await wait_until(self.pilot, lambda: app.current_thread_id in app.turns, what="the turn to start")
        thread_id = app.current_thread_id
        await wait_until(self.pilot, lambda: not app.turns[thread_id].running, what=f"the reply to {text!r}")
        return thread_id


async def seed(app: Any) -> None:
    """The agent new chats use (it may call the calculator), the user's facts and a document."""
    from tui_agents.session import DEFAULT_AGENT_NAME, DEFAULT_SYSTEM_PROMPT

    await app.session.agents.create(DEFAULT_AGENT_NAME, DEFAULT_SYSTEM_PROMPT, tools=["calculate", "current_time"])
    facts = app.stores.facts
    for key, value, category in FACTS:
        await facts.set(app.user_id, key, value, category=category)
    await app.stores.documents.add("Lisbon notes", "Trams 28 and 12 climb to Alfama.", source="notes.md")


async def fix_tool_timings(app: Any, thread_id: str) -> None:
    """Give the thread's tool calls fixed durations, so the pictures do not change from run to run."""
    for record in await app.session.messages.list(thread_id):
        if record["role"] == "tool" and record.get("meta"):
            await app.session.messages.update(record["id"], meta={**record["meta"], "duration_ms": 2.4})


async def scenario(pilot: Any, server: Any, out: Path) -> list[Path]:
    from tests.fakes.llm_server import Reply, ToolCallSpec

    app = pilot.app
    shooter = Shooter(pilot, out)
    await asyncio.wait_for(app.wait_ready(), TIMEOUT)
    app.composer.cursor_blink = False  # before anything is drawn in it, so every picture shows it alike
    await seed(app)
    threads = app.session.threads

    server.script(Reply(text=CODE_REPLY, chunk_chars=12, usage=(412, 96)))
    code = await shooter.send("How do I reverse a string in Python?", new_thread=True)
    await threads.rename(code, "Reverse a string in Python")

    server.script(Reply(tool_calls=[ToolCallSpec("calculate", {"expression": "6*7"}, id="call_6x7"),
                                    ToolCallSpec("calculate", {"expression": "2**10"}, id="call_pow")],
                        usage=(380, 40)),
                  Reply(text=TOOL_ANSWER, usage=(455, 21)))
    maths = await shooter.send("What is 6*7, and what is 2**10?", new_thread=True)
    await threads.rename(maths, "Quick maths")
    await fix_tool_timings(app, maths)

    server.script(Reply(text=TRIP_REPLY, usage=(120, 30)))
    trip = await shooter.send("Plan a weekend in Lisbon", new_thread=True)
    await threads.rename(trip, "Weekend in Lisbon")

    await app.session.fork(code, title="Reverse a string (unicode)")
    reply = (await app.session.messages.list(trip))[-1]
    branch = await app.session.branch(trip, reply["id"], title="Weekend in Porto instead")
    await app.screen_main.threads.reload_threads()
    await app.screen_main.threads.open_thread(branch["id"])
    server.script(Reply(text=PORTO_REPLY, usage=(160, 28)))
    await shooter.send("Make it Porto instead")

    # 1. main screen: a streamed reply with a highlighted code block
    await app.screen_main.threads.open_thread(code)
    app.composer.focus()
    await shooter.shot("main")

    # 2. the sidebar's family tree of forks and branches, a branch open
    await app.screen_main.threads.open_thread(branch["id"])
    app.sidebar.tree.focus()
    await shooter.shot("sidebar-tree")

    # 3. the tool-call inspector
    await app.screen_main.threads.open_thread(maths)
    await pilot.press("ctrl+t")
    await wait_until(pilot, lambda: getattr(app.panel, "loaded", False) and len(app.panel.entries) == 2,
                     what="the inspector")
    await shooter.shot("inspector")
    await pilot.press("ctrl+t")

    # 4. the memory panel: facts and what the next turn sends
    await pilot.press("ctrl+g")
    await wait_until(pilot, lambda: getattr(app.panel, "context", None) is not None and app.panel.facts_loaded,
                     what="the memory panel")
    await shooter.shot("memory-panel")
    await pilot.press("ctrl+g")

    # 5. search across threads
    await pilot.press("ctrl+f")
    app.sidebar.query_one("#search").value = "string"
    await wait_until(pilot, lambda: len(getattr(app.sidebar.query_one("SearchResults"), "hits", [])) >= 2,
                     what="search hits")
    await shooter.shot("search")
    app.screen_main.action_clear_search()

    # 6. settings
    await pilot.press("f2")
    await wait_until(pilot, lambda: type(app.screen).__name__ == "SettingsScreen", what="the settings screen")
    await shooter.shot("settings")
    await pilot.press("escape")
    await wait_until(pilot, lambda: app.screen is app.screen_main, what="the main screen")

    # 7. a light theme
    app.set_theme("aiagents-light")
    await app.screen_main.threads.open_thread(code)
    app.composer.focus()
    await shooter.shot("theme-light")
    return shooter.saved


async def generate(out: Path) -> list[Path]:
    """Start the fake server and the app, play the scenario, save the screenshots into ``out``."""
    from tests.fakes.llm_server import FakeLLMServer
    from tui_agents.config import AppConfig
    from tui_agents.tui.app import AiAgentsApp

    server = FakeLLMServer().start()
    server.models = ["llama3.2"]
    os.environ["OLLAMA_HOST"] = server.host_port
    try:
        app = AiAgentsApp(db_path=WORK / "aiagents.db", provider="ollama", model="llama3.2",
                          config=AppConfig(theme="aiagents-dark"), config_path=WORK / "config" / "config.toml",
                          format_time=lambda _ts: "2025-01-31 09:30", background_jobs=False)
        app.panels.clock = lambda _ts: "09:30:05"
        async with app.run_test(size=SIZE) as pilot:
            return await scenario(pilot, server, out)
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots", help="folder for the SVG files")
    args = parser.parse_args(argv)
    isolate_environment()
    sys.path.insert(0, str(ROOT))  # tests.fakes lives in the repository, not the installed package
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    print(f"Writing screenshots to {out}:")
    saved = asyncio.run(generate(out))
    print(f"{len(saved)} screenshots.")
    shutil.rmtree(WORK, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
