"""write_text_atomic: a reader sees the old file or the new one, and a failed write leaves no litter."""

from __future__ import annotations

import pytest

from tui_agents.files import write_text_atomic


def test_write_replaces_and_a_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "exports" / "thread.json"
    write_text_atomic(target, "first")
    write_text_atomic(target, "second ✓")
    assert target.read_text(encoding="utf-8") == "second ✓"

    with pytest.raises(UnicodeEncodeError):  # fails half way through writing the temp file
        write_text_atomic(target, "third \ud83d")
    assert target.read_text(encoding="utf-8") == "second ✓"
    assert [p.name for p in target.parent.iterdir()] == ["thread.json"]
