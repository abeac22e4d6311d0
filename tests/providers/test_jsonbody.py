"""Request bodies with long base64 strings are the JSON ``json.dumps`` writes, byte for byte."""

from __future__ import annotations

import base64
import json
import os

import pytest

from tui_agents.providers.jsonbody import encode_body

BLOB = base64.b64encode(os.urandom(200_000)).decode()


@pytest.mark.parametrize("payload", [
    {"messages": [{"role": "user", "content": "héllo \"quoted\" \\ \n", "images": [BLOB, BLOB[:-4]]}]},
    {"content": [{"type": "image_url", "image_url": {"url": f"data:image/png;base64,{BLOB}"}}], "n": 1.5},
    {"text": "x" * 100_000 + '"', "ctrl": "a\x1eb" * 30_000, "nested": [[BLOB], None, True]},
    {"plain": "short"},
])
def test_same_bytes_as_json_dumps(payload):
    assert encode_body(payload) == json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
