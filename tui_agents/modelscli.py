"""``aiagents-tui models list | pull NAME | rm NAME``: manage the models of a local Ollama server.

``add_parsers(subparsers)`` registers ``models`` on the main parser (``cli.py``).
``pull`` draws a progress bar on a terminal (at most 10 redraws a second) and
prints one line per stage otherwise; ``rm`` asks on a terminal unless ``-y``.
Every failure is one plain line on stderr and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any, TextIO

from .errors import AgentError

__all__ = ["add_parsers", "main"]

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CANCELLED = 130
REDRAWS_PER_SECOND = 8  # under 10 a second even counting the first and last frames


def add_parsers(sub: Any) -> None:
    """Register ``models`` and its ``list``, ``pull`` and ``rm`` subcommands."""
    models = sub.add_parser("models", help="list, pull and delete Ollama models")
    models.add_argument("--host", metavar="URL", help="the Ollama server (default: $OLLAMA_HOST or localhost:11434)")
    actions = models.add_subparsers(dest="models_action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="installed models: size, parameters, quantization, capabilities")
    listing.set_defaults(func=lambda args: _run(args, _list))
    pull = actions.add_parser("pull", help="download a model, with a progress bar")
    pull.add_argument("name")
    pull.set_defaults(func=lambda args: _run(args, _pull))
    rm = actions.add_parser("rm", help="delete a model (asks first on a terminal)")
    rm.add_argument("name")
    rm.add_argument("-y", "--yes", action="store_true", help="do not ask")
    rm.set_defaults(func=lambda args: _run(args, _rm))


def _run(args: argparse.Namespace, action: Any) -> int:
    """Run ``action(models, args)`` with a client for the server; a typed error is one line on stderr."""
    from .providers.ollama_models import OllamaModels

    async def go() -> int:
        async with OllamaModels(base_url=args.host) as models:
            return await action(models, args)

    try:
        return asyncio.run(go())
    except AgentError as exc:
        print(f"aiagents-tui: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("aiagents-tui: cancelled.", file=sys.stderr)
        return EXIT_CANCELLED


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return f"{n} B"  # pragma: no cover


async def _list(models: Any, args: argparse.Namespace, out: TextIO | None = None) -> int:
    from rich.console import Console
    from rich.table import Table

    installed = await models.list()
    if not installed:
        print("No models are installed; `aiagents-tui models pull NAME` fetches one.", file=out or sys.stdout)
        return 0
    loaded = {m.name for m in await models.loaded()}
    details = await asyncio.gather(*(models.show(m.name) for m in installed), return_exceptions=True)
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("NAME", "SIZE", "PARAMS", "QUANT", "FAMILY", "CONTEXT", "CAPABILITIES", "MODIFIED", "LOADED"):
        table.add_column(column, no_wrap=True)
    for model, info in zip(installed, details):
        good = not isinstance(info, BaseException)
        caps = ", ".join(c for c in ("vision", "tools", "thinking") if good and c in info.capabilities)
        context = f"{info.context_length:,}" if good and info.context_length else "?"
        modified = model.modified_at.strftime("%Y-%m-%d") if model.modified_at else ""
        table.add_row(model.name, _size(model.size), model.parameter_size or "", model.quantization or "",
                      model.family or "", context, caps, modified, "yes" if model.name in loaded else "")
    Console(file=out or sys.stdout, soft_wrap=True).print(table)
    return 0


async def _pull(models: Any, args: argparse.Namespace, out: TextIO | None = None) -> int:
    stream = out or sys.stdout
    if stream.isatty():
        await _pull_with_bar(models, args.name, stream)
    else:
        last = None
        async for step in models.pull(args.name):
            stage = step.status if not step.digest else f"pulling {step.digest.removeprefix('sha256:')[:12]}"
            if stage != last:  # one line per stage, not per progress line
                print(stage, file=stream, flush=True)
                last = stage
    print(f"Pulled {args.name}.", file=stream)
    return 0


async def _pull_with_bar(models: Any, name: str, stream: TextIO) -> None:
    from rich.console import Console
    from rich.progress import (
        BarColumn, DownloadColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), DownloadColumn(),
               TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(file=stream), refresh_per_second=REDRAWS_PER_SECOND,
                  transient=False) as progress:
        tasks: dict[str, Any] = {}
        status = progress.add_task(f"{name}: starting", total=None, visible=True)
        async for step in models.pull(name):
            if step.digest and step.total:
                task = tasks.get(step.digest)
                if task is None:
                    task = tasks[step.digest] = progress.add_task(
                        step.digest.removeprefix("sha256:")[:12], total=step.total)
                progress.update(task, completed=step.completed or 0)
            else:
                progress.update(status, description=f"{name}: {step.status}")


async def _rm(models: Any, args: argparse.Namespace, out: TextIO | None = None,
              ask: Any = None) -> int:
    stream = out or sys.stdout
    if not args.yes:
        if not sys.stdin.isatty() and ask is None:
            print(f"aiagents-tui: not deleting {args.name} without -y (there is no terminal to ask on).",
                  file=sys.stderr)
            return EXIT_USAGE
        installed = {m.name: m for m in await models.list()}
        model = installed.get(args.name)
        size = f" ({_size(model.size)})" if model else ""
        answer = (ask or input)(f"Delete {args.name}{size}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing was deleted.", file=stream)
            return EXIT_FAILED
    await models.delete(args.name)
    print(f"Deleted {args.name}.", file=stream)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m tui_agents.modelscli ACTION ...``: the same commands without the app."""
    parser = argparse.ArgumentParser(prog="aiagents-tui")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["models", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
