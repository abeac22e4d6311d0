"""The memory panel: the user's cross-thread facts, and what the next turn would send.

``MemoryPanel(stores, user_id, thread_id, strategy=..., params=...)`` (the session's ``Stores``) is a
right-hand panel widget with two parts, one above the other:

- **Facts**: ``UserMemoryStore`` facts grouped by category, with where each came
  from (typed by you, or written by the model: the ``remember`` tool, the extractor); ``a`` adds,
  ``e`` or enter edits, ``d`` deletes. Facts edited here are saved with source "user". Facts the
  model wrote that wait for approval (``memory.approve_model_facts``) are listed apart: ``y``
  approves, ``n`` rejects.
- **In context now**: exactly the messages the runner sends (``memory.context.build_context``,
  the one function that builds a turn's context), after the system prompt and the facts block, each
  with its token count, and the total against the model's context window.
  Changing the strategy or its parameters here re-selects at once and posts
  ``MemoryPanel.StrategyChanged`` (the app may save it to its config).

Rows are one-line previews in a ``VirtualTable``, which draws only the visible
lines, so a 10,000-message thread stays cheap. Token counts come from the store
(``select`` fills and caches missing ones).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from ..widgets.text import load_tcss, one_line, plain
from ..widgets.virtual_table import VirtualTable

__all__ = [
    "ContextRow",
    "ContextView",
    "FactEditor",
    "MemoryPanel",
    "SOURCE_LABELS",
    "compute_context",
    "parse_params",
]

SOURCE_LABELS = {"user": "you", "tool": "model (tool)", "extractor": "model (auto)"}
"""The From column: facts the model wrote (``remember`` tool, background extraction) say so."""
PENDING = "pending:"
PREVIEW_CHARS = 200


@dataclass(frozen=True, slots=True)
class ContextRow:
    """One line of the in-context view: the system prompt, the facts block or a message."""

    key: str
    label: str
    role: str
    tokens: int
    preview: str


@dataclass
class ContextView:
    """What the next turn would send, and how it compares with the context window."""

    rows: list[ContextRow] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)
    window: int = 0
    description: str = ""
    estimated: bool = False

    @property
    def total(self) -> int:
        """Tokens of everything listed."""
        return sum(r.tokens for r in self.rows)


def parse_params(text: str) -> dict[str, int]:
    """``"first=2, last=10"`` -> ``{"first": 2, "last": 10}``; ValueError on anything else."""
    out: dict[str, int] = {}
    for part in text.replace(";", ",").split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"write parameters as name=number, not {part.strip()!r}")
        out[key.strip()] = int(value.strip().replace("_", ""))
    return out


def _params_text(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items())


def _preview(record: Mapping[str, Any]) -> str:
    text = (record.get("content") or "")[:PREVIEW_CHARS]
    calls = record.get("tool_calls") or []
    if calls:
        names = ", ".join(str(c.get("name")) for c in calls)
        text = f"{text} → {names}()" if text.strip() else f"→ {names}()"
    return one_line(text, PREVIEW_CHARS)


async def compute_context(stores: Any, user_id: str, thread_id: str | None, strategy: Any, counter: Any, *,
                          agent_id: str | None = None, provider: str | None = None,
                          model: str | None = None, window_of: Any = None) -> ContextView:
    """The in-context view of what the next turn sends, from the engine's one context builder.

    ``window_of(provider, model)``: the server's context window (the session's ``context_window``).
    """
    from tui_agents.session import thread_context

    # the context builder loads the model's own counter (none at all for an estimated model)
    context = await thread_context(stores, user_id, thread_id, strategy, counter, agent_id=agent_id,
                                   provider=provider, model=model, window_of=window_of)
    view = ContextView(description=context.description, window=context.window, estimated=context.estimated)
    if context.prompt:
        view.rows.append(ContextRow("system", "·", "system", context.prompt_tokens,
                                    one_line(context.prompt, 200)))
    if context.facts_block:
        view.rows.append(ContextRow("facts", "·", "facts", context.facts_tokens,
                                    one_line(context.facts_block, 200)))
    for record in context.records:
        view.rows.append(ContextRow(record["id"], str(record["position"]), record["role"],
                                    int(record.get("token_count") or 0), _preview(record)))
        view.message_ids.append(record["id"])
    return view


class FactEditor(ModalScreen[dict[str, str] | None]):
    """Add or edit one fact; dismisses with ``{key, value, category}`` or None."""

    DEFAULT_CSS = """
    FactEditor { align: center middle; }
    FactEditor #fact-form { width: 60; height: auto; padding: 1 2; background: $panel; border: thick $primary; }
    FactEditor Input { margin-bottom: 1; }
    FactEditor #fact-error { color: $error; height: auto; }
    FactEditor #fact-buttons { height: auto; align-horizontal: right; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="memory.fact.cancel")]

    def __init__(self, key: str = "", value: str = "", category: str = "general") -> None:
        super().__init__()
        self._initial = (key, value, category)

    def compose(self) -> ComposeResult:
        key, value, category = self._initial
        with Vertical(id="fact-form"):
            yield Label("Edit fact" if key else "New fact")
            yield Input(key, placeholder="key, e.g. timezone", id="fact-key")
            yield Input(value, placeholder="value, e.g. Europe/London", id="fact-value")
            yield Input(category, placeholder="category (general)", id="fact-category")
            yield Static("", id="fact-error", markup=False)
            with Horizontal(id="fact-buttons"):
                yield Button("Save", variant="primary", id="fact-save")
                yield Button("Cancel", id="fact-cancel")

    def on_mount(self) -> None:
        self.query_one("#fact-value" if self._initial[0] else "#fact-key", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#fact-save")
    def _save(self) -> None:
        key = self.query_one("#fact-key", Input).value.strip()
        value = self.query_one("#fact-value", Input).value.strip()
        category = self.query_one("#fact-category", Input).value.strip() or "general"
        if not key or not value:
            self.query_one("#fact-error", Static).update("A fact needs a key and a value.")
            return
        self.dismiss({"key": key, "value": value, "category": category})

    @on(Button.Pressed, "#fact-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class StrategySwitch(Static, can_focus=True):
    """A one-line strategy picker: left/right (or a click) cycles last_n, first_last, token_window."""

    DEFAULT_CSS = """
    StrategySwitch { width: auto; height: 1; padding: 0 1; background: $boost; }
    StrategySwitch:focus { background: $block-cursor-background; color: $block-cursor-foreground; }
    """
    BINDINGS = [
        Binding("left", "cycle(-1)", "Previous strategy", show=False),
        Binding("right,enter,space", "cycle(1)", "Next strategy", show=False),
    ]

    class Changed(Message):
        """Another strategy was picked."""

        def __init__(self, switch: "StrategySwitch", name: str) -> None:
            super().__init__()
            self.switch = switch
            self.name = name

        @property
        def control(self) -> "StrategySwitch":
            return self.switch

    def __init__(self, value: str, *, id: str | None = None) -> None:
        super().__init__(markup=False, id=id)
        self.value = value

    def render(self) -> Text:
        return Text(f"◂ {self.value} ▸", end="")

    def action_cycle(self, step: int) -> None:
        """Pick the next (or previous) strategy."""
        from tui_agents.memory import STRATEGIES

        names = list(STRATEGIES)
        self.set_value(names[(names.index(self.value) + step) % len(names)] if self.value in names else names[0])

    def set_value(self, name: str) -> None:
        """Show ``name`` and announce it."""
        self.value = name
        self.refresh(layout=True)
        self.post_message(self.Changed(self, name))

    def on_click(self) -> None:
        self.action_cycle(1)


class MemoryPanel(Vertical):
    """User facts (editable) and the messages in the next turn's context, with token counts."""

    DEFAULT_CSS = load_tcss(__file__)
    HELP = ("Memory. Facts tab: a adds a fact, e or enter edits, d deletes; y approves and n rejects a fact "
            "the model wrote that waits for approval. In context tab: what the next "
            "turn sends, with token counts; change the strategy or its parameters to see the effect. "
            "ctrl+g or escape closes.")
    BINDINGS = [
        Binding("escape", "close", "Close", id="memory.close"),
        Binding("a", "add_fact", "Add fact", id="memory.fact.add"),
        Binding("e", "edit_fact", "Edit fact", id="memory.fact.edit"),
        Binding("d,delete", "delete_fact", "Delete fact", id="memory.fact.delete"),
        Binding("f5", "refresh", "Refresh", id="memory.refresh"),
        Binding("y", "approve_fact", "Approve fact", id="memory.fact.approve"),
        Binding("n", "reject_fact", "Reject fact", id="memory.fact.reject"),
    ]

    class StrategyChanged(Message):
        """The user picked another strategy or parameters in the panel."""

        def __init__(self, strategy: str, params: dict[str, int]) -> None:
            super().__init__()
            self.strategy = strategy
            self.params = params

    class Closed(Message):
        """The user closed the panel."""

    def __init__(self, stores: Any, user_id: str, thread_id: str | None = None, *, strategy: str = "last_n",
                 params: Mapping[str, int] | None = None, agent_id: str | None = None, provider: str | None = None,
                 model: str | None = None, counter: Any = None, id: str | None = "memory-panel",
                 classes: str | None = None, window_of: Any = None) -> None:
        super().__init__(id=id, classes=classes)
        self.window_of = window_of
        from tui_agents.memory import get_memory_strategy

        self.stores = stores
        self.user_id = user_id
        self.thread_id = thread_id
        self.agent_id, self.provider, self.model = agent_id, provider, model
        self.strategy = get_memory_strategy(strategy, **dict(params or {}))
        self._counter = counter
        self.facts: list[Mapping[str, Any]] = []
        self.pending: list[Mapping[str, Any]] = []
        self.context: ContextView | None = None
        self.facts_loaded = False

    @property
    def counter(self) -> Any:
        """The token counter (the app should pass its loaded one; a new one loads ~130 ms once)."""
        if self._counter is None:
            from tui_agents.memory import TokenCounter

            self._counter = TokenCounter()
        return self._counter

    def compose(self) -> ComposeResult:
        yield Static(Text("Memory", style="bold"), id="memory-title", markup=False)
        yield Static(Text("Facts  ", style="bold").append("a add · e edit · d delete", style="not bold"),
                     classes="section", markup=False)
        yield VirtualTable([("Key", 14), ("Value", None), ("From", 13)], id="facts")
        yield Static(Text("In context now", style="bold"), classes="section", markup=False)
        with Horizontal(id="strategy-row"):
            yield StrategySwitch(self.strategy.name, id="strategy")
            yield Input(_params_text(self.strategy.params), placeholder="n=20", id="params", compact=True)
        yield Static("", id="context-summary", markup=False)
        yield VirtualTable([("#", 6, "right"), ("Role", 9), ("Tokens", 7, "right"), ("Preview", None)],
                           id="context")

    def on_mount(self) -> None:
        self.reload_facts()
        self.refresh_context()

    # ---- facts

    @work(exclusive=True, group="memory-facts")
    async def reload_facts(self) -> None:
        """Re-read the user's facts."""
        self.facts = await self.stores.facts.get_all(self.user_id)
        self.pending = await self.stores.facts.list_pending(self.user_id)
        self._fill_facts()

    def _fill_facts(self) -> None:
        rows: list[tuple[str, tuple[Text, ...]]] = []
        category = None
        for fact in self.facts:  # sorted by category then key by the store
            if fact["category"] != category:
                category = fact["category"]
                rows.append((f"cat:{category}", (plain(f"▸ {category}", style="bold"), Text(""), Text(""))))
            source = SOURCE_LABELS.get(fact["source"], fact["source"])
            rows.append((f"fact:{fact['key']}", (plain(fact["key"]), plain(fact["value"]),
                                                  Text(source, style="italic"))))
        if not self.facts:
            rows.append(("empty", (Text("(none)", style="italic"), Text("a adds a fact"), Text(""))))
        rows.extend(self._pending_rows())
        self.query_one("#facts", VirtualTable).set_rows(rows)  # keeps the cursor on the same fact
        self.facts_loaded = True

    def _pending_rows(self) -> list[tuple[str, tuple[Text, ...]]]:
        """Facts the model wrote that wait for approval, under their own heading."""
        if not self.pending:
            return []
        rows = [("cat:pending", (Text("▸ waiting for you", style="bold"), Text("y approves · n rejects"), Text("")))]
        for fact in self.pending:
            source = SOURCE_LABELS.get(fact["source"], fact["source"])
            rows.append((PENDING + fact["key"], (plain(fact["key"]), plain(fact["value"]),
                                                   Text(source, style="italic"))))
        return rows

    def _selected_pending(self) -> str | None:
        name = self.query_one("#facts", VirtualTable).cursor_key if self._facts_focused() else None
        return name[len(PENDING):] if name and name.startswith(PENDING) else None

    async def action_approve_fact(self) -> None:
        """Let the selected pending fact into the prompts."""
        from tui_agents.errors import NotFoundError

        key = self._selected_pending()
        if key is None:
            return
        try:
            await self.stores.facts.approve(self.user_id, key)
        except NotFoundError as exc:  # approved or rejected elsewhere meanwhile
            self.notify(str(exc), severity="warning", markup=False)
        else:
            self.notify(f"Approved {key}.", markup=False)
        await self._after_fact_change()

    async def action_reject_fact(self) -> None:
        """Drop the selected pending fact."""
        key = self._selected_pending()
        if key is not None:
            await self.stores.facts.reject(self.user_id, key)
            self.notify(f"Rejected {key}.", markup=False)
            await self._after_fact_change()

    def _selected_fact(self) -> Mapping[str, Any] | None:
        name = self.query_one("#facts", VirtualTable).cursor_key
        if name is None or not name.startswith("fact:"):
            return None
        return next((f for f in self.facts if f["key"] == name[5:]), None)

    def _facts_focused(self) -> bool:
        return self.query_one("#facts", VirtualTable).has_focus

    def action_add_fact(self) -> None:
        """Add a fact (source: you)."""
        self.app.push_screen(FactEditor(), self._saved_fact)

    def action_edit_fact(self) -> None:
        """Edit the selected fact."""
        fact = self._selected_fact() if self._facts_focused() else None
        if fact is not None:
            self.app.push_screen(FactEditor(fact["key"], fact["value"], fact["category"]),
                                 lambda result: self._saved_fact(result, old_key=fact["key"]))

    @on(VirtualTable.Selected, "#facts")
    def _row_selected(self) -> None:
        self.action_edit_fact()

    def _saved_fact(self, result: dict[str, str] | None, old_key: str | None = None) -> None:
        if result is not None:
            self._write_fact(result, old_key)

    @work(group="memory-write")
    async def _write_fact(self, fact: dict[str, str], old_key: str | None) -> None:
        store = self.stores.facts
        await store.set(self.user_id, fact["key"], fact["value"], category=fact["category"], source="user")
        if old_key and old_key != fact["key"]:
            await store.delete(self.user_id, old_key)
        self.notify(f"Saved {fact['key']}.", markup=False)
        await self._after_fact_change()

    async def action_delete_fact(self) -> None:
        """Delete the selected fact."""
        fact = self._selected_fact() if self._facts_focused() else None
        if fact is None:
            return
        await self.stores.facts.delete(self.user_id, fact["key"])
        self.notify(f"Forgot {fact['key']}.", markup=False)
        await self._after_fact_change()

    async def _after_fact_change(self) -> None:
        self.reload_facts()
        self.refresh_context()  # the facts block is part of the context

    # ---- in context

    @on(StrategySwitch.Changed, "#strategy")
    def _strategy_picked(self, event: StrategySwitch.Changed) -> None:
        from tui_agents.memory import get_memory_strategy

        if event.name == self.strategy.name:
            return
        self.strategy = get_memory_strategy(event.name)
        with self.prevent(Input.Changed):
            self.query_one("#params", Input).value = _params_text(self.strategy.params)
        self._strategy_changed()

    @on(Input.Changed, "#params")
    def _params_typed(self, event: Input.Changed) -> None:
        from tui_agents.errors import InvalidArgumentError
        from tui_agents.memory import get_memory_strategy

        try:
            strategy = get_memory_strategy(self.strategy.name, **parse_params(event.value))
        except (ValueError, InvalidArgumentError) as exc:
            self._summary(Text(f"⚠ {exc}", style=self._colour("error")))
            return
        if strategy.params != self.strategy.params:
            self.strategy = strategy
            self._strategy_changed()

    def _strategy_changed(self) -> None:
        self.post_message(self.StrategyChanged(self.strategy.name, dict(self.strategy.params)))
        self.refresh_context()

    def set_thread(self, thread_id: str | None) -> None:
        """Show the context of another thread."""
        self.thread_id = thread_id
        self.refresh_context()

    def follow(self, thread_id: str | None, new_chat_agent_id: str | None = None) -> None:
        """The ``Panel`` protocol: show the context of the thread now open (a new chat starts from the agent given)."""
        self.agent_id = new_chat_agent_id
        self.set_thread(thread_id)

    def receive(self, event: Any) -> None:
        """The ``Panel`` protocol: after a turn of this panel's thread, re-read facts and context."""
        from tui_agents.events import TurnFailed, TurnFinished

        if isinstance(event, (TurnFinished, TurnFailed)) and event.thread_id == self.thread_id:
            self.reload_facts()  # the remember tool may have added one
            self.refresh_context()

    def action_refresh(self) -> None:
        """Re-read facts and the context."""
        self.reload_facts()
        self.refresh_context()

    @work(exclusive=True, group="memory-context")
    async def refresh_context(self) -> None:
        """Select the context again and redraw it (a newer request cancels an older one)."""
        self._summary(Text("selecting…", style="italic"))
        view = await compute_context(self.stores, self.user_id, self.thread_id, self.strategy, self.counter,
                                     agent_id=self.agent_id, provider=self.provider, model=self.model,
                                     window_of=self.window_of)
        self._fill_context(view)

    def _fill_context(self, view: ContextView) -> None:
        self.query_one("#context", VirtualTable).set_rows(
            (row.key, (row.label, row.role, f"{row.tokens:,}", row.preview)) for row in view.rows)
        self.context = view
        share = 100 * view.total / view.window if view.window else 0
        count = len(view.message_ids)
        style = self._colour("error") if view.total > view.window else ""
        summary = Text(end="")
        summary.append(f"{count:,} message{'s' if count != 1 else ''} · {view.description}\n")
        approx = "≈" if view.estimated else ""  # not the model's own tokenizer
        summary.append(f"{approx}{view.total:,} of {view.window:,} tokens ({share:.1f}%)",
                       style=f"bold {style}".strip())
        if not self.thread_id:
            summary.append("\nNo thread open: only the system prompt and facts.")
        self._summary(summary)

    def _summary(self, text: Text) -> None:
        self.query_one("#context-summary", Static).update(text)

    def _colour(self, name: str) -> str:
        return self.app.theme_variables.get(name, "") if self.is_attached else ""

    async def action_close(self) -> None:
        """Close the panel."""
        self.post_message(self.Closed())
        hide = getattr(self.app, "hide_panel", None)
        if hide is not None:
            await hide()
        else:
            await self.remove()
