"""Forward-only schema migrations, each a named function registered in order.

Migration ``n`` (1-based, in registration order) brings ``PRAGMA user_version``
from ``n - 1`` to ``n``. Each runs in its own ``BEGIN IMMEDIATE`` transaction that
also bumps ``user_version``, so a crash leaves the database at a whole version.
Statements are executed one by one: ``executescript`` would commit the
transaction half way.

Design of the message tables: ``contents`` holds a message's text, its cached
token count and sizes, and is indexed by FTS5 (``contents_fts``). ``messages``
rows point at a content id, so a fork or branch shares its parent's text instead
of copying and re-indexing it; changing a shared message's text writes a new
content row (copy-on-write).

There is deliberately no index on ``messages.content_id`` (and no FOREIGN KEY):
a fork's 10,000 copies would land at random places in a million-entry index,
dirtying ~10,000 pages (over 100 ms at 1M messages). Instead a content records
where it was written (``origin_thread``, ``origin_position``); forks and
branches keep positions, so every message holding a content sits at that
position in the origin thread or in one of its descendants, which
``thread_links`` (child -> parent, kept even after a thread is deleted) lists.
``store.sharing`` finds the holders that way and deletes contents nobody holds.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

__all__ = ["MIGRATIONS", "migration", "latest_version"]

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(fn: Migration) -> Migration:
    """Register ``fn`` as the next migration."""
    MIGRATIONS.append((fn.__name__, fn))
    return fn


def latest_version() -> int:
    """The schema version this code writes."""
    return len(MIGRATIONS)


def _run(db: sqlite3.Connection, statements: list[str]) -> None:
    for sql in statements:
        db.execute(sql)


@migration
def initial_schema(db: sqlite3.Connection) -> None:
    """Agents, threads, messages with shared contents, memory, documents, grants and FTS5."""
    _run(db, [
        """CREATE TABLE agents(
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            system_prompt TEXT NOT NULL DEFAULT '',
            definition TEXT,
            provider TEXT,
            model TEXT,
            tools TEXT NOT NULL DEFAULT '[]',
            memory_strategy TEXT,
            memory_params TEXT NOT NULL DEFAULT '{}',
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL)""",
        # seq is the FTS rowid: a TEXT primary key's implicit rowid may change on VACUUM.
        """CREATE TABLE threads(
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            agent_id TEXT REFERENCES agents(id),
            user_id TEXT,
            title TEXT,
            title_source TEXT CHECK (title_source IN ('user', 'auto')),
            summary TEXT,
            provider TEXT,
            model TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            archived_at REAL,
            trashed_at REAL,
            forked_from TEXT REFERENCES threads(id) ON DELETE SET NULL,
            forked_from_message TEXT,
            fork_kind TEXT CHECK (fork_kind IN ('fork', 'branch')))""",
        "CREATE INDEX threads_activity ON threads(updated_at) WHERE trashed_at IS NULL",
        "CREATE INDEX threads_user_activity ON threads(user_id, updated_at) WHERE trashed_at IS NULL",
        "CREATE INDEX threads_trashed ON threads(trashed_at) WHERE trashed_at IS NOT NULL",
        "CREATE INDEX threads_parent ON threads(forked_from) WHERE forked_from IS NOT NULL",
        "CREATE INDEX threads_agent ON threads(agent_id)",
        # small columns first: reading them never walks the text's overflow pages
        """CREATE TABLE contents(
            id INTEGER PRIMARY KEY,
            origin_thread TEXT NOT NULL,
            origin_position INTEGER NOT NULL,
            token_count INTEGER,
            chars INTEGER NOT NULL,
            bytes INTEGER NOT NULL,
            text TEXT NOT NULL)""",
        """CREATE TABLE thread_links(
            child TEXT PRIMARY KEY,
            parent TEXT NOT NULL) WITHOUT ROWID""",
        "CREATE INDEX thread_links_parent ON thread_links(parent)",
        # clustered by (thread, position): a thread's messages are stored together, so reading
        # or forking a thread reads neighbouring pages, and a fork appends to one b-tree less
        """CREATE TABLE messages(
            id TEXT NOT NULL UNIQUE,
            thread_id TEXT NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
            content_id INTEGER NOT NULL,  -- contents.id, unindexed on purpose (see the module docstring)
            tool_calls TEXT,
            tool_call_id TEXT,
            status TEXT NOT NULL CHECK (status IN ('complete', 'streaming', 'interrupted', 'error')),
            model TEXT,
            usage TEXT,
            guardrail TEXT,
            meta TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (thread_id, position)) WITHOUT ROWID""",
        """CREATE VIRTUAL TABLE contents_fts USING fts5(
            text, content='contents', content_rowid='id', prefix='2 3',
            tokenize='unicode61 remove_diacritics 2')""",
        """CREATE TRIGGER contents_ai AFTER INSERT ON contents BEGIN
             INSERT INTO contents_fts(rowid, text) VALUES (new.id, new.text); END""",
        """CREATE TRIGGER contents_ad AFTER DELETE ON contents BEGIN
             INSERT INTO contents_fts(contents_fts, rowid, text) VALUES ('delete', old.id, old.text); END""",
        """CREATE TRIGGER contents_au AFTER UPDATE OF text ON contents BEGIN
             INSERT INTO contents_fts(contents_fts, rowid, text) VALUES ('delete', old.id, old.text);
             INSERT INTO contents_fts(rowid, text) VALUES (new.id, new.text); END""",
        "CREATE VIRTUAL TABLE contents_vocab USING fts5vocab(contents_fts, 'row')",
        """CREATE VIRTUAL TABLE threads_fts USING fts5(
            title, content='threads', content_rowid='seq', prefix='2 3',
            tokenize='unicode61 remove_diacritics 2')""",
        """CREATE TRIGGER threads_ai AFTER INSERT ON threads BEGIN
             INSERT INTO threads_fts(rowid, title) VALUES (new.seq, new.title); END""",
        """CREATE TRIGGER threads_ad AFTER DELETE ON threads BEGIN
             INSERT INTO threads_fts(threads_fts, rowid, title) VALUES ('delete', old.seq, old.title); END""",
        """CREATE TRIGGER threads_au AFTER UPDATE OF title ON threads BEGIN
             INSERT INTO threads_fts(threads_fts, rowid, title) VALUES ('delete', old.seq, old.title);
             INSERT INTO threads_fts(rowid, title) VALUES (new.seq, new.title); END""",
        """CREATE TABLE user_memory(
            user_id TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            category TEXT NOT NULL DEFAULT 'general',
            source TEXT NOT NULL DEFAULT 'user' CHECK (source IN ('user', 'tool', 'extractor')),
            updated_at REAL NOT NULL,
            PRIMARY KEY (user_id, key))""",
        """CREATE TABLE documents(
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            title TEXT NOT NULL,
            text TEXT NOT NULL,
            source TEXT,
            created_at REAL NOT NULL)""",
        """CREATE VIRTUAL TABLE documents_fts USING fts5(
            title, text, content='documents', content_rowid='seq', prefix='2 3',
            tokenize='unicode61 remove_diacritics 2')""",
        """CREATE TRIGGER documents_ai AFTER INSERT ON documents BEGIN
             INSERT INTO documents_fts(rowid, title, text) VALUES (new.seq, new.title, new.text); END""",
        """CREATE TRIGGER documents_ad AFTER DELETE ON documents BEGIN
             INSERT INTO documents_fts(documents_fts, rowid, title, text)
             VALUES ('delete', old.seq, old.title, old.text); END""",
        """CREATE TABLE grants(
            user_id TEXT NOT NULL,
            resource_type TEXT NOT NULL,
            resource_id TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
            created_at REAL NOT NULL,
            PRIMARY KEY (user_id, resource_type, resource_id))""",
        "CREATE INDEX grants_resource ON grants(resource_type, resource_id)",
    ])


@migration
def unfinished_replies_index(db: sqlite3.Connection) -> None:
    """A small partial index so start-up can find replies a crash left ``streaming`` without a scan."""
    _run(db, ["CREATE INDEX IF NOT EXISTS messages_streaming ON messages(updated_at) WHERE status = 'streaming'"])


@migration
def reply_writers_alternatives_drafts(db: sqlite3.Connection) -> None:
    """Who streams a reply, regenerated alternatives of a reply, per-thread drafts and small app state.

    ``messages.writer`` names the process writing a ``streaming`` reply (``store.process``), so start-up
    marks only replies whose writer is gone. ``alt_slot`` (position of the slot's first row),
    ``alt_index`` and ``alt_state`` (0 chosen, 1 not chosen, 2 chosen but being regenerated) keep a
    reply's alternatives on its slot (``store.alternatives``); columns are added, nothing is rewritten.
    """
    _run(db, [
        "ALTER TABLE messages ADD COLUMN writer TEXT",
        "ALTER TABLE messages ADD COLUMN alt_slot INTEGER",
        "ALTER TABLE messages ADD COLUMN alt_index INTEGER",
        "ALTER TABLE messages ADD COLUMN alt_state INTEGER NOT NULL DEFAULT 0",
        # few rows have alternatives: listing a thread's slots never walks its other messages
        "CREATE INDEX messages_alternatives ON messages(thread_id, alt_slot) WHERE alt_slot IS NOT NULL",
        """CREATE TABLE drafts(
            thread_id TEXT PRIMARY KEY,  -- '' is the new chat that has no thread yet
            text TEXT NOT NULL,
            updated_at REAL NOT NULL) WITHOUT ROWID""",
        """CREATE TRIGGER threads_drafts_ad AFTER DELETE ON threads BEGIN
             DELETE FROM drafts WHERE thread_id = old.id; END""",
        """CREATE TABLE app_state(
            key TEXT PRIMARY KEY,
            value TEXT,
            updated_at REAL NOT NULL) WITHOUT ROWID""",
    ])


@migration
def thinking_and_images(db: sqlite3.Connection) -> None:
    """A message's thinking, Anthropic's signed thinking blocks and image references beside its text; images once.

    They live on ``contents`` so forks and branches share them like the text.
    ``images`` holds each image's bytes once, keyed by sha256; a content lists the
    ones it shows as JSON, and the trigger drops an image when no content lists it.
    """
    _run(db, [
        "ALTER TABLE contents ADD COLUMN thinking TEXT",
        "ALTER TABLE contents ADD COLUMN thinking_blocks TEXT",
        "ALTER TABLE contents ADD COLUMN images TEXT",
        "CREATE INDEX contents_with_images ON contents(id) WHERE images IS NOT NULL",
        # data last: reading an image's size or type never walks its overflow pages
        """CREATE TABLE images(
            sha256 TEXT PRIMARY KEY,
            media_type TEXT NOT NULL,
            bytes INTEGER NOT NULL,
            created_at REAL NOT NULL,
            data BLOB NOT NULL)""",
        """CREATE TRIGGER contents_images_ad AFTER DELETE ON contents WHEN old.images IS NOT NULL BEGIN
             DELETE FROM images WHERE sha256 IN (SELECT json_extract(value, '$.sha256') FROM json_each(old.images))
               AND NOT EXISTS (SELECT 1 FROM contents AS c, json_each(c.images) AS j
                               WHERE c.images IS NOT NULL AND json_extract(j.value, '$.sha256') = images.sha256);
           END""",
    ])


@migration
def user_memory_approval(db: sqlite3.Connection) -> None:
    """Facts a model wrote that wait for the user's approval, and each user's choice to require it."""
    _run(db, [
        """CREATE TABLE user_memory_pending(
            user_id TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            category TEXT NOT NULL DEFAULT 'general',
            source TEXT NOT NULL CHECK (source IN ('tool', 'extractor')),
            updated_at REAL NOT NULL,
            PRIMARY KEY (user_id, key))""",
        """CREATE TABLE user_memory_policy(
            user_id TEXT PRIMARY KEY,
            approve_model_facts INTEGER NOT NULL DEFAULT 0)""",
    ])
