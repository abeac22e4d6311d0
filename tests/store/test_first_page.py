"""The sidebar's first page: ``ThreadStore.tree_page`` and ``store.threads.first_page`` (read before the store opens)."""

from __future__ import annotations

import random
import sqlite3

import pytest

from tui_agents.store.threads import first_page


async def _random_history(threads, messages, agent, seed: int) -> None:
    """Threads with forks and branches of forks, some touched later, archived or trashed, two owners."""
    rng = random.Random(seed)
    made: list[dict] = []
    for i in range(24):
        if made and rng.random() < 0.4:
            source = rng.choice(made)
            kind = rng.choice(["fork", "branch"])
            if kind == "fork":
                made.append(await threads.fork(source["id"]))
            else:
                first = (await messages.list(source["id"]))[0]
                made.append(await threads.branch(source["id"], first["id"]))
        else:
            thread = await threads.create(agent["id"], title=None if rng.random() < 0.5 else f"title {i}",
                                          user_id=rng.choice(["local", "other"]))
            await messages.add(thread["id"], "user", f"first words of thread {i} and more after them")
            made.append(thread)
    for thread in rng.sample(made, 6):  # later activity moves a thread up
        await messages.add(thread["id"], "assistant", "a later reply")
    for thread in rng.sample(made, 3):
        await threads.archive(thread["id"])
    for thread in rng.sample(made, 2):
        await threads.trash(thread["id"])


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_a_page_is_the_start_of_the_whole_tree(threads, messages, agent, seed):
    await _random_history(threads, messages, agent, seed)
    for user in (None, "local"):
        whole = await threads.tree(user_id=user)
        assert any(n["depth"] > 0 for n in whole)  # forks drawn under their parent are in the page
        for limit in range(1, len(whole) + 2):
            assert await threads.tree_page(limit, user_id=user) == whole[:limit], (user, limit)


async def test_first_page_reads_the_rows_and_the_labels_of_untitled_threads(threads, messages, agent, db_path):
    await _random_history(threads, messages, agent, 5)
    whole = await threads.tree()
    nodes, labels = first_page(db_path, 10)
    assert nodes == whole[:10]
    untitled = [n["id"] for n in nodes if not n["title"]]
    assert sorted(labels) == sorted(untitled)
    assert all(text.startswith("first words of thread") for text in labels.values())


def test_no_database_yet_gives_none_and_creates_nothing(tmp_path):
    missing = tmp_path / "not-yet.db"
    assert first_page(missing, 10) is None
    assert not missing.exists()


def test_an_older_schema_gives_none_and_is_left_as_it_was(tmp_path):
    old = tmp_path / "old.db"
    db = sqlite3.connect(old)
    db.execute("CREATE TABLE threads(id TEXT)")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    before = old.read_bytes()
    assert first_page(old, 10) is None
    assert old.read_bytes() == before


def test_a_file_that_is_not_a_database_gives_none(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    assert first_page(junk, 10) is None
