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
