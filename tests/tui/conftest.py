"""Helpers for the app's Pilot tests: an app wired to the fake LLM server (``wait_until`` is ``tests.data.pilot``'s)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.data.pilot import wait_until
from tui_agents.config import AppConfig

__all__ = ["FIXED_TIME", "fixed_time", "last_reply", "ready", "rendered_text", "screen_text", "send", "wait_until"]

FIXED_TIME = "2025-01-31 12:00"


def fixed_time(_ts: float) -> str:
    """Snapshot-stable time formatter."""
    return FIXED_TIME


def screen_text(app) -> str:
    """Everything on the screen as plain text (from the SVG screenshot, tags stripped)."""
    import html
    import re

    svg = app.export_screenshot()
    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")


@pytest.fixture
def ollama_env(fake_llm, monkeypatch):
    """OLLAMA_HOST points at the fake server (host:port, the Ollama convention)."""
    monkeypatch.setenv("OLLAMA_HOST", fake_llm.host_port)
    return fake_llm


@pytest.fixture
def make_app(tmp_path: Path):
    """Build an app on a database in tmp_path, chatting with the fake server's Ollama API."""

    def build(**kwargs):
        from tui_agents.tui.app import AiAgentsApp

        kwargs.setdefault("db_path", tmp_path / "db.sqlite")
        kwargs.setdefault("provider", "ollama")
        kwargs.setdefault("model", "fake-model-small")
        # snapshots keep Textual's theme so parallel branches' SVGs merge; test_daily_small checks the default
        kwargs.setdefault("config", AppConfig(theme="textual-dark"))
        kwargs.setdefault("format_time", fixed_time)
        kwargs.setdefault("background_jobs", False)
        return AiAgentsApp(**kwargs)

    return build


async def ready(pilot) -> None:
    """Wait until the app opened its database and drew the sidebar."""
    app = pilot.app
    await asyncio.wait_for(app.wait_ready(), 15)
    await pilot.pause(0.05)


async def send(pilot, text: str) -> None:
    """Type ``text`` in the composer and press enter."""
    app = pilot.app
    app.composer.focus()
    app.composer.load_text(text)
    await pilot.press("enter")


def last_reply(app):
    """The view of the last assistant message in the chat pane."""
    views = [v for v in app.chat_pane.views if v.role == "assistant"]
    return views[-1] if views else None


def rendered_text(view) -> str:
    """The Markdown source shown by an assistant view (streaming or not)."""
    return view.markdown_shown


async def settle(pilot) -> None:
    """Wait for the warm-up and the status bar's context count, so a snapshot never races them."""
    from textual.worker import WorkerState

    app = pilot.app
    task = getattr(app, "_warm_task", None)
    if task is not None:
        await asyncio.wait_for(asyncio.shield(task), 20)
    busy = (WorkerState.PENDING, WorkerState.RUNNING)
    await wait_until(pilot, lambda: not any(w.group in ("ctx", "ctx-open") and w.state in busy
                                            for w in app.workers), timeout=20, what="the context count")
    await pilot.pause(0.05)


@pytest.fixture
def snap_compare(snap_compare):
    """The plugin's ``snap_compare``, settling the app after ``run_before`` (warm-up, context count)."""

    def compare(app, *args, run_before=None, **kwargs):
        async def before(pilot) -> None:
            if run_before is not None:
                await run_before(pilot)
            await settle(pilot)

        return snap_compare(app, *args, run_before=before, **kwargs)

    return compare
