"""Full garbage collections wait for an idle moment: not right after a key, not while a reply streams."""

from __future__ import annotations

import gc

import pytest

from tui_agents.tui.idle_gc import DUE_AFTER, IdleCollector

from .conftest import ready

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def full_collections():
    """Times of Python's full collections while the test runs; the gc thresholds are put back after."""
    thresholds = gc.get_threshold()
    seen: list[str] = []

    def callback(phase: str, info: dict) -> None:
        if phase == "start" and info["generation"] == 2:
            seen.append(phase)

    gc.callbacks.append(callback)
    yield seen
    gc.callbacks.remove(callback)
    gc.set_threshold(*thresholds)


def _start_collector(app) -> None:
    """Give the app its idle collector, started (the tests' apps run without one)."""
    app.idle_gc = IdleCollector(app)
    app.idle_gc.start()


def _make_due() -> None:
    for _ in range(DUE_AFTER):
        gc.collect(1)  # each counts as one collection of the middle generation


async def test_a_due_full_collection_waits_until_the_keys_rest(make_app, full_collections):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        _start_collector(app)
        assert gc.get_threshold()[2] > 10  # Python's own full collections became rare
        _make_due()
        full_collections.clear()
        for key in "hello":  # typing: the user is busy
            await pilot.press(key)
            await pilot.pause(0.3)
        assert full_collections == []
        await pilot.pause(2.8)  # more than IDLE_SECONDS after the last key, and the 1 s check came
        assert len(full_collections) == 1
        await pilot.pause(1.2)
        assert len(full_collections) == 1  # nothing was due any more


async def test_a_due_full_collection_waits_while_the_user_clicks(make_app, full_collections):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        _start_collector(app)
        _make_due()
        full_collections.clear()
        for _ in range(6):  # choosing threads with the mouse: a thread opened by a click waits for no collection
            await pilot.click("#chat")
            await pilot.pause(0.4)
        assert full_collections == []
        await pilot.pause(2.8)
        assert len(full_collections) == 1
