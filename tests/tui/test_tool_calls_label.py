"""The working line's words while a turn's tools run (``tool_calls.running_label``), from the turn's real events."""

from __future__ import annotations

from tui_agents.events import ToolCallFinished, ToolCallStarted
from tui_agents.tui.tool_calls import running_label, show_tool_event
from tui_agents.tui.turns import TurnState


async def test_running_label_names_the_running_tool_its_server_and_the_seconds():
    state = TurnState("thr_1", "ollama", "m")
    assert running_label(state) is None
    await show_tool_event(state, None, ToolCallStarted("thr_1", "msg_1", "c1", "test__hang", {}, 100.0, "test"))
    assert running_label(state, now=102.4) == "running hang (test) · 2 s"
    await show_tool_event(state, None, ToolCallStarted("thr_1", "msg_1", "c2", "calculate", {}, 101.0))
    assert running_label(state, now=103.0) == "running hang (test) and 1 more · 3 s"
    await show_tool_event(state, None, ToolCallFinished("thr_1", "msg_1", "c1", "test__hang", {}, "x", None,
                                                        5.0, "ok", server="test"))
    assert running_label(state, now=103.0) == "running calculate · 2 s"
