"""``threads``, ``paths`` and ``docs add`` on awkward paths: one plain line and a non-zero exit where nothing was done."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from tui_agents import cli
from tui_agents.store import DocumentStore, ThreadStore, connect


def run(argv: list[str]) -> int:
    return cli.main(argv)


async def _seed_threads(db: Path) -> dict[str, str]:
    conn = await connect(db)
    try:
        threads = ThreadStore(conn)
        ids = {}
        for title in ("oldest", "archived one", "trashed one", "newest"):
            ids[title] = (await threads.create(None, title=title))["id"]
            await asyncio.sleep(0.01)  # distinct activity times
        await threads.archive(ids["archived one"])
        await threads.trash(ids["trashed one"])
        return ids
    finally:
        await conn.close()


# --- threads ---


def test_threads_lists_ids_titles_and_dates_newest_first(tmp_path, capsys):
    db = tmp_path / "t.db"
    ids = asyncio.run(_seed_threads(db))

    assert run(["--db", str(db), "threads"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [ids["newest"], ids["oldest"]]
    assert lines[0].endswith("newest") and len(lines[0].split()[1]) == len("2026-12-05")

    assert run(["threads", "--archived", "--db", str(db)]) == 0
    listed = capsys.readouterr().out
    assert f"{ids['archived one']}" in listed and "archived one  [archived]" in listed
    assert ids["trashed one"] not in listed

    assert run(["--db", str(db), "threads", "--limit", "1"]) == 0
    assert capsys.readouterr().out.split()[0] == ids["newest"]


def test_threads_labels_an_untitled_thread_with_its_first_words_as_the_sidebar_does(tmp_path, capsys):
    from tui_agents.store import MessageStore
    from tui_agents.tui.widgets.sidebar import thread_label

    db = tmp_path / "u.db"

    async def seed() -> tuple[str, str]:
        conn = await connect(db)
        try:
            said = (await ThreadStore(conn).create(None))["id"]
            await MessageStore(conn).add(said, "user", "how do owls\nsee at night without any light at all")
            empty = (await ThreadStore(conn).create(None))["id"]
            return said, empty
        finally:
            await conn.close()

    said, empty = asyncio.run(seed())
    assert run(["--db", str(db), "threads"]) == 0
    out = capsys.readouterr().out
    sidebar = str(thread_label({"preview": "how do owls see at night…"}))
    assert f"  {sidebar}" in out and "Untitled" not in out
    assert next(line for line in out.splitlines() if line.startswith(empty)).endswith("New chat")


def test_threads_on_an_empty_database_says_so(tmp_path, capsys):
    assert run(["--db", str(tmp_path / "empty.db"), "threads"]) == 0
    assert "No threads" in capsys.readouterr().out


def test_threads_refuses_a_limit_that_is_not_positive(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        run(["--db", str(tmp_path / "x.db"), "threads", "--limit", "0"])
    assert exc.value.code == 2 and "not a positive whole number" in capsys.readouterr().err


def test_paths_prints_the_themes_folder(capsys):
    assert run(["paths"]) == 0
    themes = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("themes:"))
    assert themes.split(None, 1)[1].endswith(os.path.join("aiagents-tui", "themes"))


# --- --db that cannot be opened ---


@pytest.mark.parametrize("command", [["threads"], ["docs", "list"], ["export", "thr_x"]])
def test_a_db_whose_parent_is_a_file_is_one_plain_line(tmp_path, capsys, command):
    (tmp_path / "plain-file").write_text("x")
    assert run(["--db", str(tmp_path / "plain-file" / "x.db"), *command]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Could not open the database" in err and "Traceback" not in err


# --- docs add on awkward paths ---


def docs_count(db: Path) -> int:
    async def count() -> int:
        conn = await connect(db)
        try:
            return len(await DocumentStore(conn).list())
        finally:
            await conn.close()

    return asyncio.run(count())


def test_docs_add_of_an_empty_path_does_not_ingest_the_current_folder(tmp_path, capsys, monkeypatch):
    (tmp_path / "private.txt").write_text("do not ingest me")
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "d.db"
    assert run(["--db", str(db), "docs", "add", ""]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "empty path" in err
    assert docs_count(db) == 0


def test_docs_add_on_a_symlink_loop_is_one_plain_line(tmp_path, capsys):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    assert run(["--db", str(tmp_path / "d.db"), "docs", "add", str(tmp_path / "a")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "loop of symbolic links" in err and "Traceback" not in err


def test_docs_add_on_a_fifo_says_what_it_is(tmp_path, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert run(["--db", str(tmp_path / "d.db"), "docs", "add", str(fifo)]) == 1
    err = capsys.readouterr().err
    assert "not a regular file (a FIFO)" in err and "no such file" not in err


def test_docs_add_on_an_unreadable_folder_fails_and_says_so(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "locked"
    folder.mkdir()
    (folder / "notes.txt").write_text("secret")
    if os.geteuid() == 0:
        # Root reads any folder, so the permission failure is injected where os.walk lists it
        # (a stand-in for chmod 000, which cannot deny root here).
        real_scandir = os.scandir

        def scandir(path=".", *a, **kw):
            if Path(path) == folder:
                raise PermissionError(13, "Permission denied", str(path))
            return real_scandir(path, *a, **kw)

        monkeypatch.setattr(os, "scandir", scandir)
    else:
        folder.chmod(0)
    try:
        assert run(["--db", str(tmp_path / "d.db"), "docs", "add", str(folder)]) == 1
    finally:
        folder.chmod(0o700)
    err = capsys.readouterr().err
    assert "unreadable folder (Permission denied)" in err and str(folder) in err


def test_docs_add_an_empty_folder_is_not_a_success(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert run(["--db", str(tmp_path / "d.db"), "docs", "add", str(tmp_path / "empty")]) == 1
    assert "nothing added" in capsys.readouterr().err


def test_docs_add_says_replaced_for_a_file_it_replaced(tmp_path, capsys):
    note = tmp_path / "note.md"
    note.write_text("# Note\n\nfirst version\n")
    db = ["--db", str(tmp_path / "d.db")]
    assert run([*db, "docs", "add", str(note)]) == 0
    first = capsys.readouterr().out
    assert first.startswith("added ") and "1 document(s) added, 0 skipped." in first

    note.write_text("# Note\n\nsecond version\n")
    assert run([*db, "docs", "add", str(note)]) == 0
    second = capsys.readouterr().out
    assert second.startswith("replaced ") and "0 document(s) added, 1 replaced, 0 skipped." in second
    assert docs_count(tmp_path / "d.db") == 1
