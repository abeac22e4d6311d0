"""The data subcommands of ``aiagents-tui``: ``threads``, ``export``, ``import`` and ``docs``.

``add_parsers(subparsers)`` registers them on the main parser (``cli.py``);
each sets ``func(args)`` returning a coroutine that gives the exit code. The
database is ``args.db_path`` when the main CLI resolved it, else ``--db``, else
``AIAGENTS_DB``, else the default under the user data dir
(``tui_agents.config.resolve_db_path``). ``python -m tui_agents.datacli``
runs them without the app.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from tui_agents.errors import AgentError

__all__ = ["add_parsers", "build_parser", "main", "db_path_of"]

Handler = Callable[[argparse.Namespace, Any, TextIO], Awaitable[int]]


def db_path_of(args: argparse.Namespace) -> Path:
    """The database of this command: already resolved by the CLI, else ``--db`` / env / default."""
    resolved = getattr(args, "db_path", None)
    if resolved:
        return Path(resolved)
    from tui_agents.config import resolve_db_path

    return resolve_db_path(getattr(args, "db", None))


def _add_db(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: a subcommand's absent --db must not reset a top-level --db to None.
    parser.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS,
                        help="SQLite database (default: $AIAGENTS_DB, else aiagents.db in the user data dir)")


def _bind(parser: argparse.ArgumentParser, handler: Handler) -> None:
    parser.set_defaults(func=lambda args: _run(args, handler))


async def _run(args: argparse.Namespace, handler: Handler, out: TextIO | None = None) -> int:
    """Open the database, run ``handler``, close; typed errors become one line on stderr."""
    from tui_agents.store import connect

    out = out or sys.stdout
    conn = None
    try:
        conn = await connect(db_path_of(args))
        return await handler(args, conn, out)
    except AgentError as exc:
        print(f"aiagents-tui: {exc}", file=sys.stderr)
        return 1
    finally:
        if conn is not None:
            await conn.close()


# --------------------------------------------------------------------------- threads


def _local_time(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


async def _cmd_threads(args: argparse.Namespace, conn: Any, out: TextIO) -> int:
    from tui_agents.store import ThreadStore

    from tui_agents.labels import thread_title
    from tui_agents.store import MessageStore

    threads = await ThreadStore(conn).list(user_id=args.user, include_archived=args.archived, limit=args.limit)
    # untitled threads get the sidebar's label: the first words of their first message
    firsts = await MessageStore(conn).first_texts([t["id"] for t in threads if not t.get("title")], "user", 200)
    for thread in threads:
        archived = "  [archived]" if thread.get("archived_at") else ""
        title = _one_line(thread_title(thread.get("title"), firsts.get(thread["id"])), 60)
        print(f"{thread['id']}  {_local_time(thread.get('updated_at'))}  {title}{archived}", file=out)
    if not threads:
        print("No threads." if args.archived else "No threads (--archived also lists archived ones).", file=out)
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return value


# --------------------------------------------------------------------------- export / import


def _export_format(args: argparse.Namespace) -> str:
    if args.format:
        return args.format
    if args.output and args.output != "-" and Path(args.output).suffix.lower() in (".md", ".markdown"):
        return "md"
    return "json"


async def _cmd_export(args: argparse.Namespace, conn: Any, out: TextIO) -> int:
    from tui_agents.store.transfer import export_thread_file, export_thread_text

    if args.output and args.output != "-":
        try:  # Markdown's images go beside the file, in <stem>_files/
            target = await export_thread_file(conn, args.thread_id, args.output, _export_format(args))
        except OSError as exc:
            print(f"aiagents-tui: could not write {args.output}: {exc.strerror or exc}.", file=sys.stderr)
            return 1
        print(f"Exported {args.thread_id} to {target}.", file=out)
        return 0
    # on standard output there is nowhere to put images: Markdown lists them by name and size
    return _write_out(out, await export_thread_text(conn, args.thread_id, _export_format(args)))


def _write_out(out: TextIO, text: str) -> int:
    """Write to stdout (or ``out``); a full disk or closed pipe is one line on stderr and exit 1."""
    try:
        out.write(text)
        out.flush()
    except OSError as exc:
        if out is sys.stdout:
            _silence_stdout()
        print(f"aiagents-tui: could not write the export: {exc.strerror or exc}.", file=sys.stderr)
        return 1
    return 0


def _silence_stdout() -> None:
    """Point stdout at the null device: what could not be written stays buffered, and Python
    would otherwise report it again, with a traceback, when it flushes at exit."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (a test's capture): nothing to silence
        pass


async def _cmd_import(args: argparse.Namespace, conn: Any, out: TextIO) -> int:
    from tui_agents.store.transfer import import_file
    from tui_agents.store import AgentStore

    agent_id = None
    if args.agent:
        agent = await AgentStore(conn).get_by_name(args.agent)
        if agent is None:
            print(f"aiagents-tui: there is no agent named {args.agent!r}.", file=sys.stderr)
            return 1
        agent_id = agent["id"]
    report = await import_file(conn, args.file, user_id=_user_id(args), default_agent_id=agent_id)
    for note in report.notes:
        print(note, file=out)
    print(f"Imported {len(report.thread_ids)} thread(s):", file=out)
    for thread_id in report.thread_ids:
        print(f"  {thread_id}", file=out)
    return 0


def _user_id(args: argparse.Namespace) -> str:
    if getattr(args, "user", None):
        return args.user
    from tui_agents.config import load_config

    return load_config().user_id


# --------------------------------------------------------------------------- docs


def _one_line(text: str, width: int) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


async def _cmd_docs_add(args: argparse.Namespace, conn: Any, out: TextIO) -> int:
    from tui_agents.documents import ingest_paths
    from tui_agents.store import DocumentStore

    report = await ingest_paths(DocumentStore(conn), args.paths)
    if not report.added:  # nothing done: say why, one line per path, and fail
        for path, reason in report.skipped:
            print(f"aiagents-tui: could not add {path!r}: {reason}.", file=sys.stderr)
        if not report.skipped:
            print("aiagents-tui: no files found in the given folders; nothing added.", file=sys.stderr)
        return 1
    for doc in report.added:
        verb = "replaced" if doc["id"] in report.replacing else "added   "
        print(f"{verb} {doc['id']}  {_one_line(doc['title'], 60)}  ({doc.get('source')})", file=out)
    for path, reason in report.skipped:
        print(f"skipped {path}: {reason}", file=out)
    new = len(report.added) - len(report.replacing)
    replaced = f", {len(report.replacing)} replaced" if report.replacing else ""
    print(f"{new} document(s) added{replaced}, {len(report.skipped)} skipped.", file=out)
    return 0


async def _cmd_docs_list(args: argparse.Namespace, conn: Any, out: TextIO) -> int:
    from tui_agents.store import DocumentStore

    docs = await DocumentStore(conn).list()
    for doc in docs:
        print(f"{doc['id']}  {_one_line(doc['title'], 50):50}  {doc.get('source') or ''}", file=out)
    print(f"{len(docs)} document(s).", file=out)
    return 0


async def _cmd_docs_search(args: argparse.Namespace, conn: Any, out: TextIO) -> int:
    from tui_agents.store import DocumentStore

    hits = await DocumentStore(conn).search(args.query, limit=args.limit)
    for hit in hits:
        print(f"{hit['document_id']}  {_one_line(hit['title'], 60)}", file=out)
        print(f"    {_one_line(hit['snippet'], 100)}", file=out)
    if not hits:
        print("No documents match.", file=out)
    return 0


async def _cmd_docs_delete(args: argparse.Namespace, conn: Any, out: TextIO) -> int:
    from tui_agents.store import DocumentStore

    store = DocumentStore(conn)
    for doc_id in args.ids:
        await store.delete(doc_id)
        print(f"Deleted {doc_id}.", file=out)
    return 0


# --------------------------------------------------------------------------- parsers


def add_parsers(subparsers: Any) -> None:
    """Register ``threads``, ``export``, ``import`` and ``docs`` on the main CLI's subparsers."""
    threads = subparsers.add_parser("threads", help="list threads with their ids, newest activity first")
    threads.add_argument("--limit", "-n", type=_positive, default=50, metavar="N", help="at most N threads (50)")
    threads.add_argument("--archived", action="store_true", help="include archived threads (marked [archived])")
    threads.add_argument("--user", metavar="USER_ID", help="only threads of this user (default: all)")
    _add_db(threads)
    _bind(threads, _cmd_threads)

    export = subparsers.add_parser("export", help="export a thread as Markdown or JSON")
    export.add_argument("thread_id", metavar="THREAD_ID")
    export.add_argument("--format", "-f", choices=("md", "json"),
                        help="md or json (default: from the -o suffix, else json)")
    export.add_argument("-o", "--output", metavar="FILE",
                        help="write to FILE (through a symlink, keeping an existing file's mode; Markdown images go to "
                             "<stem>_files/ beside it) instead of "
                             "stdout; - is stdout")
    _add_db(export)
    _bind(export, _cmd_export)

    imp = subparsers.add_parser(
        "import", help="import a thread exported as JSON, or a ChatGPT conversations.json",
        description="Import our JSON export (ids kept unless they exist already; every regenerated "
                    "reply, thinking and image restored, images stored once) or a ChatGPT "
                    "conversations.json (one thread per conversation). All or nothing: a malformed "
                    "file imports nothing.")
    imp.add_argument("file", metavar="FILE")
    imp.add_argument("--agent", metavar="NAME", help="agent of threads whose export names none (ChatGPT)")
    imp.add_argument("--user", metavar="USER_ID", help="owner of the imported threads (default: the config's user)")
    _add_db(imp)
    _bind(imp, _cmd_import)

    docs = subparsers.add_parser("docs", help="documents for the search_documents tool")
    _add_db(docs)
    docs_sub = docs.add_subparsers(dest="docs_command", metavar="ACTION", required=True)
    add = docs_sub.add_parser("add", help="add text and Markdown files (folders recursively)")
    add.add_argument("paths", nargs="+", metavar="PATH")
    _add_db(add)
    _bind(add, _cmd_docs_add)
    lst = docs_sub.add_parser("list", help="list documents")
    _add_db(lst)
    _bind(lst, _cmd_docs_list)
    search = docs_sub.add_parser("search", help="full-text search of documents")
    search.add_argument("query", metavar="QUERY")
    search.add_argument("--limit", type=int, default=10)
    _add_db(search)
    _bind(search, _cmd_docs_search)
    delete = docs_sub.add_parser("delete", help="delete documents by id")
    delete.add_argument("ids", nargs="+", metavar="ID")
    _add_db(delete)
    _bind(delete, _cmd_docs_delete)


def build_parser() -> argparse.ArgumentParser:
    """A parser with only the data subcommands (``python -m tui_agents.datacli``)."""
    parser = argparse.ArgumentParser(prog="aiagents-tui", description="aiagents-tui data commands.")
    parser.add_argument("--db", metavar="PATH", default=None, help="SQLite database")
    add_parsers(parser.add_subparsers(dest="command", metavar="COMMAND", required=True))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one data subcommand; returns the exit code."""
    args = build_parser().parse_args(argv)
    return int(asyncio.run(args.func(args)) or 0)


if __name__ == "__main__":
    sys.exit(main())
