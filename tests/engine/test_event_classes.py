"""The turn events and the provider stream events are made at first use; to their users they are the same
frozen dataclasses of ``tui_agents.events`` / ``tui_agents.providers.base`` as before."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import subprocess
import sys
import typing

import pytest

from tests.cli.conftest import ROOT

TURN_EVENTS = ["TextDelta", "ThinkingDelta", "ToolCallStarted", "ToolCallFinished", "ToolApproval",
               "ToolServerFailed", "UsageReported", "GuardrailFlagged", "RateLimitWait", "MessageSaved",
               "TurnFinished", "TurnFailed", "AlternativeStarted", "StreamStalled", "StreamResumed", "ToolsSkipped"]
STREAM_EVENTS = ["TextDeltaEvent", "ToolCallStartEvent", "ToolCallDeltaEvent", "ToolCallEndEvent", "UsageEvent",
                 "StopEvent", "ThinkingDeltaEvent", "ThinkingBlockEvent"]


def test_every_event_is_a_frozen_dataclass_of_its_public_module():
    from tui_agents import events
    from tui_agents.providers import base

    for module, names, union in ((events, TURN_EVENTS, "TurnEvent"), (base, STREAM_EVENTS, "StreamEvent")):
        in_union = set(typing.get_args(getattr(module, union)))
        assert in_union >= {getattr(module, name) for name in names}  # the events of the first releases
        # every event of the union is named by the public module (a new one must be added to its __all__)
        assert in_union == {getattr(module, name) for name in module.__all__
                            if name not in (union, "Provider", "ProviderTimeouts")}
        for event in in_union:
            name = event.__name__
            cls = getattr(module, name)
            assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen, name
            assert (cls.__module__, cls.__qualname__) == (module.__name__, name)
            assert typing.get_type_hints(cls)  # its annotations resolve in the public module
            assert name in dir(module) and name in module.__all__


def test_events_compare_pickle_match_and_refuse_changes():
    from tui_agents.events import TextDelta, TurnFailed
    from tui_agents.errors import ProviderError
    from tui_agents.providers.base import StopEvent

    delta = TextDelta("thr_1", "msg_1", "Hello")
    assert delta == TextDelta("thr_1", "msg_1", "Hello") and hash(delta) == hash(TextDelta("thr_1", "msg_1", "Hello"))
    assert repr(delta) == "TextDelta(thread_id='thr_1', message_id='msg_1', text='Hello')"
    assert pickle.loads(pickle.dumps(delta)) == delta
    assert pickle.loads(pickle.dumps(StopEvent("end_turn"))) == StopEvent("end_turn")
    assert dataclasses.replace(delta, text="Bye").text == "Bye"
    with pytest.raises(dataclasses.FrozenInstanceError):
        delta.text = "changed"  # type: ignore[misc]
    match TurnFailed("thr_1", None, ProviderError("down")):
        case TurnFailed(error=ProviderError() as error):
            assert str(error) == "down"
        case _:
            pytest.fail("no match")


def test_unknown_names_still_fail():
    from tui_agents import events
    from tui_agents.providers import base

    with pytest.raises(AttributeError):
        events.NoSuchEvent  # noqa: B018
    with pytest.raises(ImportError):
        from tui_agents.providers.base import NoSuchEvent  # noqa: F401


_RACE = """
import json, sys, threading
from tui_agents import events
from tui_agents.providers import base
before = [name for name in ("tui_agents._turn_events", "tui_agents.providers._stream_events") if name in sys.modules]
seen, start = [], threading.Barrier(8)
def ask():
    start.wait()
    seen.append((events.TextDelta, events.TurnEvent, base.TextDeltaEvent, base.StreamEvent))
threads = [threading.Thread(target=ask) for _ in range(8)]
for thread in threads: thread.start()
for thread in threads: thread.join()
print(json.dumps({"before": before, "one_each": len(set(seen)) == 1}))
"""


def _fresh_python(code: str, *args: str) -> str:
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT.parent)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_threads_asking_at_once_get_the_same_classes():
    """Made once whichever thread asks first (ask's warm-up thread and the reply may race)."""
    assert json.loads(_fresh_python(_RACE)) == {"before": [], "one_each": True}


def test_a_pickle_made_elsewhere_loads_in_a_fresh_process():
    from tui_agents.events import TextDelta
    from tui_agents.providers.base import ToolCallEndEvent
    from tui_agents.types import ToolCall

    saved = pickle.dumps([TextDelta("thr_1", "msg_1", "Hi"), ToolCallEndEvent(0, ToolCall(id="c", name="n"))])
    code = ("import pickle, sys\n"
            "loaded = pickle.loads(bytes.fromhex(sys.argv[1]))\n"
            "from tui_agents.events import TextDelta\n"
            "from tui_agents.providers.base import ToolCallEndEvent\n"
            "print(type(loaded[0]) is TextDelta, type(loaded[1]) is ToolCallEndEvent, loaded[0].text)")
    assert _fresh_python(code, saved.hex()).split() == ["True", "True", "Hi"]
