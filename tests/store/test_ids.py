"""new_id: prefixed, unique and sortable by creation."""

from __future__ import annotations

from tui_agents.store import new_id
from tui_agents.store.ids import new_id_block


def test_ids_are_prefixed_unique_and_sorted_in_creation_order():
    ids = [new_id("msg") for _ in range(5000)]
    assert all(i.startswith("msg_") for i in ids)
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert len({len(i) for i in ids}) == 1


def test_prefix_with_underscore_is_the_same_and_blocks_sort_after_earlier_ids():
    first = new_id("thr_")
    assert first.startswith("thr_") and not first.startswith("thr__")
    head, start = new_id_block("msg", 3)
    block = [f"{head}{start + i:010x}" for i in range(3)]
    later = new_id("msg")
    assert new_id("msg") > later > block[-1] > block[0] > new_id("msg")[:0]
    assert sorted(block) == block
