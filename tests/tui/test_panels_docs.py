"""Document ingestion over a folder tree, and the ``docs`` subcommands."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tui_agents import datacli
from tui_agents.documents import ingest_paths, title_for
from tui_agents.store import DocumentStore, connect


def _tree(root: Path) -> Path:
    """A small knowledge base: Markdown with headings, plain text, a binary, hidden files, nesting."""
    (root / "kb" / "guides" / "deep").mkdir(parents=True)
    (root / "kb" / ".git").mkdir()
    (root / "kb" / "checkout.md").write_text("Intro line\n\n# Checkout policy\n\nCheckout is at 11 AM.\n")
    (root / "kb" / "guides" / "wifi.txt").write_text("The wifi password is on the fridge.\n")
    (root / "kb" / "guides" / "deep" / "setext.md").write_text("Parking rules\n=============\n\nPark on the left.\n")
    (root / "kb" / "guides" / "fenced.md").write_text("```\n# not a title\n```\nSome text about bins.\n")
    (root / "kb" / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64))
    (root / "kb" / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (root / "kb" / "empty.md").write_text("   \n")
    (root / "kb" / ".hidden.md").write_text("# Hidden\n")
    (root / "kb" / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    return root / "kb"


@pytest.fixture
async def store(tmp_path):
    conn = await connect(tmp_path / "docs.db")
    yield DocumentStore(conn)
    await conn.close()


async def test_add_a_folder_tree_recursively_with_titles_and_skips(store, tmp_path):
    kb = _tree(tmp_path)
    report = await ingest_paths(store, [kb, tmp_path / "nope.md"])
    titles = {Path(d["source"]).name: d["title"] for d in report.added}
    assert titles == {
        "checkout.md": "Checkout policy",
        "wifi.txt": "wifi",
        "setext.md": "Parking rules",
        "fenced.md": "fenced",
    }
    skipped = {Path(p).name: reason for p, reason in report.skipped}
    assert skipped["logo.png"] == "binary file"
    assert "UTF-8" in skipped["latin1.txt"]
    assert skipped["empty.md"] == "empty"
    assert skipped["nope.md"] == "no such file or folder"
    assert ".hidden.md" not in titles and "HEAD" not in titles and "HEAD" not in skipped
    assert all(Path(d["source"]).is_absolute() for d in report.added)
    hits = await store.search("fridge")
    assert [h["title"] for h in hits] == ["wifi"]


async def test_adding_again_replaces_instead_of_duplicating(store, tmp_path):
    kb = _tree(tmp_path)
    await ingest_paths(store, [kb])
    (kb / "guides" / "wifi.txt").write_text("The wifi password changed to hunter2.\n")
    report = await ingest_paths(store, [kb / "guides" / "wifi.txt"])
    assert len(report.replaced) == 1
    docs = await store.list()
    assert len(docs) == 4
    assert [h["title"] for h in await store.search("hunter2")] == ["wifi"]
    assert await store.search("fridge") == []


def test_title_for_prefers_the_first_heading():
    assert title_for(Path("a.md"), "## Second level first\n# Top\n") == "Second level first"
    assert title_for(Path("notes.md"), "- a\n---\n") == "notes"  # a list item, not a setext heading
    assert title_for(Path("config.toml"), "# a comment\nname = 1\n") == "config"
    assert title_for(Path("x.md"), "#hashtag not heading\n") == "x"


def test_docs_cli_add_list_search_delete(tmp_path, capsys):
    kb = _tree(tmp_path)
    db = ["--db", str(tmp_path / "cli.db")]
    assert datacli.main([*db, "docs", "add", str(kb)]) == 0
    out = capsys.readouterr().out
    assert "4 document(s) added, 3 skipped." in out and "skipped" in out and "logo.png: binary file" in out
    assert datacli.main(["docs", "list", *db]) == 0
    listing = capsys.readouterr().out
    assert "Checkout policy" in listing and "4 document(s)." in listing
    assert datacli.main([*db, "docs", "search", "checkout AND("]) == 0  # unsafe query text never raises
    assert "Checkout policy" in capsys.readouterr().out
    doc_id = next(line.split()[0] for line in listing.splitlines() if "Checkout policy" in line)
    assert datacli.main([*db, "docs", "delete", doc_id]) == 0
    assert datacli.main([*db, "docs", "delete", doc_id]) == 1
    assert "does not exist" in capsys.readouterr().err

    async def count() -> int:
        conn = await connect(tmp_path / "cli.db")
        try:
            return len(await DocumentStore(conn).list())
        finally:
            await conn.close()

    assert asyncio.run(count()) == 3
