"""The ``aiagents-tui`` command line (the TUI replaces the placeholder below)."""

from __future__ import annotations

import argparse
import sys

from . import __version__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aiagents-tui", description="Terminal chat for Claude, GPT and Ollama.")
    parser.add_argument("--version", action="version", version=f"aiagents-tui {__version__}")
    parser.parse_args(argv)
    print(f"aiagents-tui {__version__}: TUI coming")
    return 0


if __name__ == "__main__":
    sys.exit(main())
