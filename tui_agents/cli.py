"""The ``aiagents-tui`` command line.

``aiagents-tui [--provider P] [--model M] [--db PATH] [--theme NAME] [--new]`` opens the
app (in the last thread, or a new chat with ``--new``); ``paths`` prints where things live; ``keys set|delete|list`` manages API
keys in the OS keyring. ``tui_agents.datacli`` (when present) adds ``threads``,
``export``, ``import`` and ``docs``: its ``add_parsers(sub)`` registers subparsers that set
``func`` (called as ``func(args)``, may return an int or a coroutine); the
resolved database path is in ``args.db_path``.

Importing this module stays cheap: Textual and the app load only when the app
opens.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from . import __version__
from .providers import registry


def _add_db(parser: argparse.ArgumentParser, *, top: bool) -> None:
    # A subcommand's --db must not reset the top-level one to None.
    parser.add_argument(
        "--db",
        metavar="PATH",
        default=None if top else argparse.SUPPRESS,
        help="SQLite database (default: $AIAGENTS_DB, else aiagents.db in the user data dir)",
    )


def _app_options(parser: argparse.ArgumentParser, names: list[str] | None) -> None:
    parser.add_argument("--provider", choices=names, help=f"provider of new chats ({', '.join(names or ())})")
    parser.add_argument("--model", metavar="M", help="model of new chats")
    parser.add_argument("--theme", metavar="NAME", help="colour theme")
    parser.add_argument("--new", action="store_true", help="start in a new chat instead of the last thread")
    _add_db(parser, top=True)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser of ``aiagents-tui`` and its subcommands.

    ``command="ask"`` registers only ``ask`` (``main`` passes it when the command line names it): what it
    accepts and prints is the same, and the other 15 parsers would cost ``ask`` ~6 ms of its start-up.
    """
    parser = argparse.ArgumentParser(prog="aiagents-tui", description="Terminal chat for Claude, GPT and Ollama.")
    parser.add_argument("--version", action="version", version=f"aiagents-tui {__version__}")
    names = registry.names()
    _app_options(parser, names)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    if command == "ask":
        from . import ask

        ask.add_parser(sub)
        return parser

    paths = sub.add_parser("paths", help="print the config, data, database and themes paths")
    _add_db(paths, top=False)
    paths.set_defaults(func=_cmd_paths)

    keys = sub.add_parser("keys", help="manage API keys in the OS keyring")
    _add_db(keys, top=False)
    keys.add_argument("action", choices=("set", "delete", "list"))
    keys.add_argument("provider", nargs="?", choices=names)
    keys.set_defaults(func=_cmd_keys)

    from . import modelscli

    modelscli.add_parsers(sub)

    from . import ask, usage  # each registers its subcommand; both import their work lazily

    ask.add_parser(sub)
    usage.add_parser(sub)

    try:
        from . import datacli  # type: ignore[attr-defined]
    except ImportError:
        pass
    else:
        datacli.add_parsers(sub)
    return parser


# The top-level options that take a value (argparse also takes any unique prefix of them, e.g. ``--prov``).
_VALUE_OPTIONS = ("--provider", "--model", "--theme", "--db")


def command_in(argv: list[str]) -> str | None:
    """The subcommand ``argv`` names: its first word that is neither a top-level option nor an option's value."""
    words = iter(argv)
    for word in words:
        if word == "--":
            return next(words, None)
        if word.startswith("--") and "=" not in word and len(word) > 2 and any(
                option.startswith(word) for option in _VALUE_OPTIONS):
            next(words, None)  # its value
        elif not word.startswith("-"):
            return word
    return None


def _cmd_paths(args: argparse.Namespace) -> int:
    from .config import config_path, data_dir, user_themes_dir
    from .logs import log_path

    print(f"config:   {config_path()}")
    print(f"data:     {data_dir()}")
    print(f"database: {args.db_path}")
    print(f"themes:   {user_themes_dir()}")
    print(f"log:      {log_path()}")
    return 0


def _cmd_keys(args: argparse.Namespace) -> int:
    from . import secrets
    from .errors import ConfigError

    try:
        if args.action == "list":
            for spec in registry.specs():
                if spec.keyed:
                    print(f"{spec.name}: {'key set' if secrets.has_key(spec.name) else 'no key'}")
            return 0
        if args.provider is None:
            print(f"aiagents-tui: keys {args.action} needs a provider", file=sys.stderr)
            return 2
        if args.action == "delete":
            removed = secrets.delete_key(args.provider)
            print(f"Deleted the {args.provider} key from the keyring." if removed
                  else f"No {args.provider} key was stored in the keyring.")
            return 0
        import getpass

        # Never bound to a name: a traceback printing locals must not show it.
        secrets.set_key(args.provider, getpass.getpass(f"{args.provider} API key (input hidden): ").strip())
        print(f"Saved the {args.provider} key in the keyring.")
        return 0
    except ConfigError as exc:
        print(f"aiagents-tui: {exc}", file=sys.stderr)
        return 1


def _run_app(args: argparse.Namespace) -> int:
    from .tui.startup import FirstPage

    # First thing: the sidebar's first page is read in a thread while Textual loads, for the first frame.
    first_page = FirstPage(args.db)
    import gc

    gc.disable()  # the app's modules live as long as it does: AiAgentsApp freezes them, then collects again
    from .tui.app import AiAgentsApp

    # The flag (or None) goes in as is: the app resolves the path after its first frame.
    app = AiAgentsApp(db_path=args.db, provider=args.provider, model=args.model, theme_name=args.theme,
                      freeze_gc=True, new_chat=args.new, first_page=first_page)
    app.log_file = True  # warnings and errors to the rotating log file, from right after the first frame (startup.run)
    app.run()
    return app.return_code or 0


def _skip_unused_imports() -> None:
    """Keep ``import httpx`` and httpcore from loading what this program never uses.

    - httpx's command line (``httpx._main``: click, rich, pygments, ~150 ms), imported whenever
      click is installed;
    - HTTP/2 (``h2``, hpack, hyperframe: ~15 ms), imported by httpcore whenever h2 is installed; no
      client of this program asks for HTTP/2 (``http2=True`` would say h2 is missing).

    Both libraries fall back to a stub when such an import fails.
    """
    for name, loader in (("httpx._main", "httpx"), ("h2", "httpcore")):
        if loader not in sys.modules:
            sys.modules.setdefault(name, None)  # type: ignore[arg-type]


def _no_pydantic_plugin_scan() -> None:
    """Spare a one-shot command pydantic's plugin scan, with pydantic's own switch (unless the user set it).

    Before its first model, pydantic reads the entry points of every installed package for plugins: 4-7 ms
    of ``ask``'s start-up here, growing with the environment. Such plugins (tracing, say) observe validation;
    a command's few config and message models give them nothing to show. MCP servers started from here do not
    inherit the variable (the SDK passes them a fixed, small environment).
    """
    import os

    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")


def _app_args(argv: list[str] | None) -> argparse.Namespace | None:
    """The app's options when the command line names no subcommand, else None (then ``build_parser`` reads it).

    Launching the app is the common case: it skips building (and importing) every subcommand's parser,
    about 7 ms before the first screen. Anything else (a subcommand, ``--help``, ``--version``, a mistake)
    goes to the full parser, which also words the errors.
    """
    quick = argparse.ArgumentParser(prog="aiagents-tui", add_help=False, exit_on_error=False)
    _app_options(quick, None)
    try:
        args, rest = quick.parse_known_args(argv)
    except argparse.ArgumentError:  # e.g. a missing value: the full parser says so
        return None
    if rest or (args.provider is not None and args.provider not in registry.names()):
        return None
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``aiagents-tui`` console script."""
    _skip_unused_imports()
    command = command_in(sys.argv[1:] if argv is None else argv)
    args = _app_args(argv) if command is None else None  # a named subcommand goes to its parser at once
    if args is not None:
        return _run_app(args)
    if command is not None:
        _no_pydantic_plugin_scan()
    import gc

    # Start-up makes long-lived objects (modules, classes): collecting them is wasted work (15-20 ms of
    # `ask`'s start-up). A command that sets `restart_gc` turns the collector on again itself (`ask`, once
    # its request is out); for the others it is on again once the command line is read.
    collecting = gc.isenabled()
    gc.disable()
    try:
        args = build_parser(command).parse_args(argv)
    except BaseException:
        if collecting:
            gc.enable()
        raise
    args.restart_gc = collecting and getattr(args, "restart_gc", False)
    if collecting and not args.restart_gc:
        gc.enable()
    func = getattr(args, "func", None)
    if func is None:
        return _run_app(args)
    import asyncio
    import inspect

    from .config import resolve_db_path

    try:
        args.db_path = resolve_db_path(getattr(args, "db", None))
        result: Any = func(args)
        if inspect.isawaitable(result):
            result = asyncio.run(result)  # type: ignore[arg-type]
    finally:
        if args.restart_gc:
            gc.enable()  # the command failed before it could
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
