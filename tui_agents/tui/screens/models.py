"""The Ollama models screen: what is installed and loaded, one model's details, pull with progress, delete.

The list is ``/api/tags`` (size, parameters, quantization, family, modified
date) with what ``/api/ps`` says is loaded now; the selected model's details
and capabilities come from ``/api/show``. A pull shows bytes, percent and
speed, redrawn at most ten times a second however fast the server reports;
escape cancels it. Every failure is one plain sentence, never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Input, ProgressBar, Static

from ...sanitize import sanitize

if TYPE_CHECKING:  # pragma: no cover
    from ...providers.ollama_models import LoadedModel, OllamaModel, OllamaModels, PullProgress

__all__ = ["ModelsScreen", "human_bytes", "CAPABILITY_MARKS", "capability_marks"]

log = logging.getLogger(__name__)

REDRAW_INTERVAL = 1 / 10
"""A pull's progress is drawn at most this often (Ollama reports many times a second)."""

CAPABILITY_MARKS = (("vision", "sees images"), ("tools", "tools"), ("thinking", "thinks"))


def capability_marks(caps: Any) -> str:
    """"sees images · tools · thinks" for the capabilities a model has (the picker and the details)."""
    return " · ".join(label for cap, label in CAPABILITY_MARKS if caps and cap in caps)


def human_bytes(n: float | None) -> str:
    """1536 -> "1.5 KB"; None -> "?"."""
    if n is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"  # pragma: no cover - the loop always returns


class PullMeter:
    """The state of a pull, updated per progress line and read by the redraw timer."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.step: PullProgress | None = None
        self.started = time.monotonic()
        self._mark: tuple[float, int] | None = None  # (time, completed) where the speed is measured from
        self.speed: float | None = None
        self.draws = 0

    def update(self, step: PullProgress) -> None:
        now = time.monotonic()
        if self.step is not None and step.digest != self.step.digest:
            self._mark = None  # a new layer: its bytes count from zero
        if step.completed is not None:
            if self._mark is None:
                self._mark = (now, step.completed)
            elif now - self._mark[0] >= 0.5:
                self.speed = (step.completed - self._mark[1]) / (now - self._mark[0])
                self._mark = (now, step.completed)
        self.step = step

    def line(self) -> str:
        """"pulling 3a2f… · 1.2 GB of 2.0 GB · 61% · 35.2 MB/s"."""
        step = self.step
        if step is None:
            return f"Pulling {self.name}…"
        parts = [f"{self.name}: {step.status}"]
        if step.total:
            parts.append(f"{human_bytes(step.completed or 0)} of {human_bytes(step.total)}")
            parts.append(f"{(step.fraction or 0) * 100:.0f}%")
            if self.speed is not None:
                parts.append(f"{human_bytes(self.speed)}/s")
        return " · ".join(parts)


class ModelsScreen(Screen[None]):
    """Installed Ollama models; pull and delete."""

    CSS_PATH = "models.tcss"
    HELP = ("Up/down select a model (its details show on the right). Type a name in the pull box and press enter "
            "to download it; escape cancels a pull, else closes. Delete removes the selected model (asks first). "
            "r refreshes.")
    BINDINGS = [
        Binding("escape", "close", "Close / cancel pull", id="models.close"),
        Binding("delete", "delete_model", "Delete", id="models.delete"),
        Binding("ctrl+r", "refresh", "Refresh", id="models.refresh"),
        Binding("p", "focus_pull", "Pull", id="models.pull", show=False),
    ]

    def __init__(self, models: OllamaModels, *, owns: bool = False) -> None:
        super().__init__()
        self.models = models
        self._owns = owns
        self.installed: list[OllamaModel] = []
        self.loaded: dict[str, LoadedModel] = {}
        self.meter: PullMeter | None = None
        self._pull_worker: Any = None
        self._redraw: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text(f"Ollama models · {sanitize(self.models.base_url)}", style="bold"), id="models-title",
                     markup=False)
        with Horizontal(id="models-body"):
            yield DataTable(id="models-table", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="model-details"):
                yield Static(Text("Select a model to see its details."), id="details", markup=False)
        with Vertical(id="pull-box"):
            yield Input(placeholder="model to pull, e.g. qwen3:4b — enter pulls, escape cancels",
                        id="pull-name")
            yield ProgressBar(total=None, show_eta=False, id="pull-bar")
            yield Static("", id="pull-state", markup=False)
        yield Static(Text("enter/↑↓ details · p pull · delete remove · ctrl+r refresh · escape close"),
                     id="models-keys", markup=False)

    def on_mount(self) -> None:
        table = self.query_one("#models-table", DataTable)
        table.add_columns("Name", "Size", "Params", "Quant", "Family", "Modified", "Loaded")
        table.focus()
        self.refresh_models()

    async def on_unmount(self) -> None:
        if self._owns:
            await self.models.aclose()

    # ---- the list and the details

    @work(exclusive=True, group="list", exit_on_error=False)
    async def refresh_models(self) -> None:
        """Read the installed and the loaded models; a server that is not there is said plainly."""
        from ...errors import AgentError

        state = self.query_one("#details", Static)
        try:
            self.installed = await self.models.list()
            try:
                self.loaded = {m.name: m for m in await self.models.loaded()}
            except AgentError:  # an older server without /api/ps: the list still counts
                self.loaded = {}
        except AgentError as exc:
            state.update(Text(sanitize(str(exc)), style="bold red"))
            return
        self._fill_table()
        if not self.installed:
            state.update(Text("No models installed yet: type a name below (e.g. llama3.2) and press enter."))

    def _fill_table(self) -> None:
        table = self.query_one("#models-table", DataTable)
        keep = self.selected_name()
        table.clear()
        for model in self.installed:
            modified = model.modified_at.strftime("%Y-%m-%d") if model.modified_at else ""
            table.add_row(Text(sanitize(model.name)), human_bytes(model.size), sanitize(model.parameter_size or ""),
                          sanitize(model.quantization or ""), sanitize(model.family or ""), modified,
                          "● now" if model.name in self.loaded else "", key=model.name)
        if keep is not None and keep in {m.name for m in self.installed}:
            table.move_cursor(row=table.get_row_index(keep))
        elif self.installed:
            self.show_details(self.installed[0].name)

    def selected_name(self) -> str | None:
        """The name of the model under the cursor."""
        table = self.query_one("#models-table", DataTable)
        if not table.row_count:
            return None
        try:
            return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        except Exception:  # noqa: BLE001 - an empty or just cleared table has no cursor row
            return None

    @on(DataTable.RowHighlighted, "#models-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is not None and event.row_key.value:
            self.show_details(str(event.row_key.value))

    @work(exclusive=True, group="details", exit_on_error=False)
    async def show_details(self, name: str) -> None:
        """The model's context length, capabilities and whether it is loaded (``/api/show``, ``/api/ps``)."""
        from ...errors import AgentError

        details = self.query_one("#details", Static)
        try:
            info = await self.models.show(name)
        except AgentError as exc:
            details.update(Text(sanitize(str(exc)), style="red"))
            return
        text = Text(sanitize(name) + "\n", style="bold")
        rows = [("Family", info.family), ("Parameters", info.parameter_size), ("Quantization", info.quantization),
                ("Context", f"{info.context_length:,} tokens" if info.context_length else None),
                ("Can", capability_marks(info.capabilities) or "complete text"),
                ("Capabilities", ", ".join(sorted(info.capabilities)))]
        loaded = self.loaded.get(name)
        if loaded is not None:
            rows.append(("Loaded", f"{human_bytes(loaded.size_vram)} in VRAM of {human_bytes(loaded.size)}"
                         + (f", context {loaded.context_length:,}" if loaded.context_length else "")))
        else:
            rows.append(("Loaded", "no"))
        for label, value in rows:
            text.append(f"\n{label}: ", style="bold")
            text.append(sanitize(str(value)) if value else "—")
        details.update(text)

    # ---- pull

    def action_focus_pull(self) -> None:
        self.query_one("#pull-name", Input).focus()

    @property
    def pulling(self) -> bool:
        return self._pull_worker is not None and self._pull_worker.is_running

    @on(Input.Submitted, "#pull-name")
    def _pull_submitted(self, event: Input.Submitted) -> None:
        name = event.value.strip()
        if not name:
            return
        if self.pulling:
            self.app.notify("A pull is running; escape cancels it.", severity="warning")
            return
        self.start_pull(name)

    def start_pull(self, name: str) -> None:
        """Download ``name``; progress is drawn by a timer, not per line."""
        self.meter = PullMeter(name)
        self.add_class("-pulling")
        bar = self.query_one("#pull-bar", ProgressBar)
        bar.update(total=None, progress=0)
        self._draw_pull()
        self._redraw = self.set_interval(REDRAW_INTERVAL, self._draw_pull)
        self._pull_worker = self.run_worker(self._pull(name), group="pull", exit_on_error=False)

    async def _pull(self, name: str) -> None:
        from ...errors import AgentError

        meter = self.meter
        assert meter is not None
        try:
            async for step in self.models.pull(name):
                meter.update(step)
        except asyncio.CancelledError:
            self._end_pull(Text(f"The pull of {sanitize(name)} was cancelled."))
            raise
        except AgentError as exc:
            self._end_pull(Text(sanitize(str(exc)), style="bold red"))
            return
        except Exception as exc:  # never a traceback on this screen
            log.warning("Pulling %s failed unexpectedly.", name, exc_info=True)
            self._end_pull(Text(f"The pull of {sanitize(name)} failed ({type(exc).__name__}).", style="bold red"))
            return
        self._end_pull(Text(f"{sanitize(name)} is installed."))
        self.query_one("#pull-name", Input).value = ""
        self.refresh_models()

    def _draw_pull(self) -> None:
        """Show the meter's latest state (called by the timer: at most ten times a second)."""
        meter = self.meter
        if meter is None:
            return
        meter.draws += 1
        step = meter.step
        bar = self.query_one("#pull-bar", ProgressBar)
        if step is not None and step.total:
            bar.update(total=step.total, progress=step.completed or 0)
        self.query_one("#pull-state", Static).update(Text(sanitize(meter.line())))

    def _end_pull(self, message: Text) -> None:
        if self._redraw is not None:
            self._redraw.stop()
            self._redraw = None
        if not self.is_attached:  # the screen closed under the pull: nothing to draw
            return
        self._draw_pull()
        self.remove_class("-pulling")
        self.query_one("#pull-state", Static).update(message)

    def cancel_pull(self) -> None:
        """Stop the running pull (the download stops; Ollama keeps what it has for a later pull)."""
        if self.pulling:
            self._pull_worker.cancel()

    def action_close(self) -> None:
        """Cancel a running pull, else close the screen."""
        if self.pulling:
            self.cancel_pull()
            return
        self.dismiss(None)

    # ---- delete and refresh

    def action_refresh(self) -> None:
        self.refresh_models()

    def action_delete_model(self) -> None:
        """Delete the selected model after a confirmation."""
        from .dialogs import ConfirmScreen

        name = self.selected_name()
        if name is None:
            return
        size = next((m.size for m in self.installed if m.name == name), None)
        question = f"Delete {name} from Ollama? This frees {human_bytes(size)}; pulling it again downloads it again."
        self.app.push_screen(ConfirmScreen(question, yes="Delete"),
                             lambda yes: self._delete(name) if yes else None)

    @work(group="delete", exit_on_error=False)
    async def _delete(self, name: str) -> None:
        from ...errors import AgentError

        try:
            await self.models.delete(name)
        except AgentError as exc:
            self.app.notify(str(exc), severity="error")
            return
        self.app.notify(f"Deleted {name}.")
        self.refresh_models()
