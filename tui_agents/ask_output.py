"""What ``aiagents-tui ask`` shows: the reply on stdout (plain text into a pipe, rendered Markdown on a terminal)
and, on a terminal, a transient line on stderr while the model has not answered yet.

Nothing here imports rich until the reply's first fragment on a terminal (``ask`` loads it while the server
thinks): a pipe never loads it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, TextIO

__all__ = ["MarkdownStream", "ReplyOutput", "WaitingLine", "complete_blocks"]


class ReplyOutput:
    """The reply on stdout: plain text, flushed per fragment, into a pipe; rendered Markdown on a terminal.

    Text written before and after a tool call is kept apart by a blank line, as the app shows it in two blocks.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.markdown = MarkdownStream(stream) if stream.isatty() else None
        self.wrote = False
        self.ends_with_newline = True
        self._gap_owed = False

    def write(self, text: str) -> None:
        if not text:
            return
        try:
            if self.markdown is not None:
                self.markdown.write(text)
            else:
                if self._gap_owed:
                    self.stream.write("\n")  # the line was ended at the boundary: this makes the blank line
                self.stream.write(text)
                self.stream.flush()
        except BrokenPipeError:
            self._reader_gone()
        self.wrote = True
        self._gap_owed = False
        self.ends_with_newline = text.endswith("\n")

    def _reader_gone(self) -> None:
        """The reader closed the pipe (``| head``): the reply still streams in and is saved, but unseen."""
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self.stream.fileno())  # so the final flush at exit cannot fail either
        os.close(devnull)
        self.markdown = None

    def boundary(self) -> None:
        """A tool call (or its question) comes between two parts of the reply: end the part so far, so a note
        on stderr starts on a line of its own; the next part starts after a blank line."""
        if not self.wrote:
            return
        try:
            if self.markdown is not None:
                self.markdown.flush_all()
            elif not self.ends_with_newline:
                self.stream.write("\n")
                self.stream.flush()
                self.ends_with_newline = True
        except BrokenPipeError:
            self._reader_gone()
        self._gap_owed = True

    def pause(self) -> None:
        """Before a note on stderr in the middle of a part (a stall): on a terminal, take the live block off the
        screen so the note is not drawn over; it comes back with the next fragment."""
        if self.markdown is not None:
            self.markdown.suspend()

    def finish(self) -> None:
        try:
            if self.markdown is not None:
                self.markdown.close()
            elif self.wrote and not self.ends_with_newline:
                self.stream.write("\n")
                self.ends_with_newline = True
            self.stream.flush()
        except BrokenPipeError:
            self._reader_gone()


def complete_blocks(text: str) -> int:
    """Where the finished Markdown blocks of ``text`` end: after its last blank line outside a code fence."""
    in_fence = False
    end = position = 0
    for line in text.splitlines(keepends=True):
        position += len(line)
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        elif not in_fence and not line.strip() and line.endswith("\n"):
            end = position
    return end


class MarkdownStream:
    """Rendered Markdown on a terminal: finished blocks are printed once, a blank line apart; the open one is
    shown live (at most ``DRAWS_PER_SECOND``), its last screenful when it is taller than the terminal. Control
    characters in the model's text are removed first: no escape sequence of a reply reaches the terminal.

    The live part is drawn from the event loop only (rich's own refresh thread would draw it while a finished
    block is being printed, and a screenful of it could push the block's end off the screen).
    """

    DRAWS_PER_SECOND = 15

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.live: Any = None  # rich's Live display, made at the first fragment
        self.pending = ""
        self.started = False
        self.printed = False
        self._drawn_at = 0.0
        self._draw_later: asyncio.TimerHandle | None = None

    def _start(self) -> None:
        if self.live is None:
            from rich.console import Console
            from rich.live import Live
            from rich.markdown import Markdown

            self.markdown = Markdown
            self.live = Live(_Tail(self), console=Console(file=self.stream), transient=True, auto_refresh=False)
        self.live.start()
        self.started = True

    def open_block(self) -> Any:
        """The open block as rendered Markdown (made when it is drawn, not per fragment)."""
        return self.markdown(self.pending)

    def write(self, text: str) -> None:
        from .sanitize import sanitize

        if not self.started:
            self._start()
        self.pending += sanitize(text)
        done = complete_blocks(self.pending)
        if done:
            block, self.pending = self.pending[:done], self.pending[done:]
            self._print(block)  # rich draws the live part again below it
        else:
            self._draw_soon()

    def _draw_soon(self) -> None:
        wait = self._drawn_at + 1 / self.DRAWS_PER_SECOND - time.monotonic()
        if wait <= 0:
            self._draw()
        elif self._draw_later is None:
            self._draw_later = asyncio.get_running_loop().call_later(wait, self._draw)

    def _draw(self) -> None:
        self._draw_later = None
        if self.started:
            self.live.refresh()
        self._drawn_at = time.monotonic()

    def _print(self, block: str) -> None:
        if not block.strip():
            return
        if self.printed:
            self.live.console.print()
        self.live.console.print(self.markdown(block))
        self.printed = True
        self._drawn_at = time.monotonic()

    def suspend(self) -> None:
        """Take the live block off the screen (a note follows on stderr); the next fragment shows it again."""
        if self._draw_later is not None:
            self._draw_later.cancel()
            self._draw_later = None
        if self.started:
            self.live.stop()
            self.started = False

    def flush_all(self) -> None:
        """Print the open block as finished and stop the live display."""
        block, self.pending = self.pending, ""
        if self.live is None:
            return
        self._print(block)
        self.suspend()

    def close(self) -> None:
        self.flush_all()


class _Tail:
    """The last screenful of the stream's open block: Live shows a block taller than the terminal frozen at its
    top."""

    def __init__(self, stream: MarkdownStream) -> None:
        self.stream = stream

    def __rich_console__(self, console: Any, options: Any) -> Any:
        from rich.segment import Segment

        if not self.stream.pending:
            return
        lines = console.render_lines(self.stream.open_block(), options, pad=False)
        for line in lines[-max(1, console.size.height - 1):]:
            yield from line
            yield Segment.line()


class WaitingLine:
    """On a terminal, one line on stderr until the reply starts: "waiting for MODEL · 3 s · ctrl+c stops" (or
    "MODEL is thinking"), redrawn each second from the second second on, and erased when it ends."""

    def __init__(self, stderr: TextIO, model: str | None) -> None:
        self.stderr = stderr
        self.model = model or "the model"
        self.what = f"waiting for {self.model}"
        self._task: asyncio.Task[None] | None = None
        self._shown = False

    def start(self) -> None:
        if self.stderr.isatty() and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._tick())

    def thinking(self) -> None:
        self.what = f"{self.model} is thinking"

    async def _tick(self) -> None:
        started = time.monotonic()
        await asyncio.sleep(1.0)  # an answer within a second needs no line
        while True:
            self.stderr.write(f"\r\x1b[2K· {self.what} · {time.monotonic() - started:.0f} s · ctrl+c stops")
            self.stderr.flush()
            self._shown = True
            await asyncio.sleep(1.0)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.clear()

    def clear(self) -> None:
        """Erase the line (a note takes its place); while waiting, it is drawn again at the next second."""
        if self._shown:
            self.stderr.write("\r\x1b[2K")
            self.stderr.flush()
            self._shown = False
