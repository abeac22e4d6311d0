"""The agents screen: create, edit and delete agents from their parts or a template.

``AgentsScreen(agents, selected_agent_id=None, default_agent_id=None)`` lists
the agents; the form edits an ``AgentDefinition`` (role, goal, constraints,
personality, examples), the tools the agent may use, and its provider, model
and memory strategy. The compiled system prompt is previewed live. "Use for
new chats" posts ``AgentSelected(agent_id, name)``: the app makes it the agent
new threads start from (e.g. saves it in its config).

Text fields: constraints one per line; personality ``trait: value`` per line;
examples as ``User: ...`` / ``Assistant: ...`` pairs, separated by a blank line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, OptionList, Select, SelectionList, Static, TextArea
from textual.widgets.option_list import Option

from ...providers import registry
from ...sanitize import sanitize
from ..widgets.server_tools import ServerToolButtons, all_tools_options, keep_server_tools
from ..widgets.text import plain

__all__ = [
    "AgentSelected",
    "AgentsScreen",
    "TEMPLATES",
    "definition_from_form",
    "parse_examples",
    "parse_personality",
]

TEMPLATES = {
    "assistant": "Assistant",
    "rag_assistant": "RAG assistant",
    "property_manager": "Property manager",
}
NEW = "__new__"


class AgentSelected(Message):
    """The user chose the agent new threads start from."""

    def __init__(self, agent_id: str, name: str) -> None:
        super().__init__()
        self.agent_id = agent_id
        self.name = name


def parse_personality(text: str) -> dict[str, str]:
    """``tone: friendly`` lines -> ``{"tone": "friendly"}``; a line without a colon is a trait."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        out[key.strip() if sep else "trait"] = value.strip() if sep else line.strip()
    return out


def parse_examples(text: str) -> list[dict[str, str]]:
    """``User: ...`` / ``Assistant: ...`` pairs (continuation lines join the current part)."""
    examples: list[dict[str, str]] = []
    current: dict[str, str] = {}
    part: str | None = None
    for line in text.splitlines():
        head, _, rest = line.partition(":")
        speaker = head.strip().lower()
        if speaker in ("user", "assistant") and _:
            if speaker == "user" and current:
                examples.append(current)
                current = {}
            part = speaker
            current[part] = rest.strip()
        elif part is not None and line.strip():
            current[part] = f"{current[part]}\n{line.strip()}".strip()
    if current:
        examples.append(current)
    incomplete = [e for e in examples if not e.get("user") or not e.get("assistant")]
    if incomplete:
        raise ValueError("each example needs a 'User:' line and an 'Assistant:' line")
    return examples


def _examples_text(examples: list[Mapping[str, str]]) -> str:
    return "\n\n".join(f"User: {e['user']}\nAssistant: {e['assistant']}" for e in examples)


def definition_from_form(name: str, role: str, goal: str, constraints: str, personality: str, examples: str,
                         extra: Mapping[str, Any] | None = None) -> Any:
    """An ``AgentDefinition`` from the form's texts; ValueError (pydantic's or ours) when invalid."""
    from tui_agents.definition import AgentDefinition

    return AgentDefinition(
        name=name.strip() or None,
        role=role,
        goal=goal or None,
        constraints=[line for line in constraints.splitlines() if line.strip()],
        personality=parse_personality(personality),
        examples=parse_examples(examples),
        **dict(extra or {}),
    )


def _error_text(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "definition"
        return f"{where}: {first.get('msg')}"
    return str(exc)


class AgentsScreen(Screen[None]):
    """List, create, edit and delete agents; preview the compiled prompt."""

    CSS_PATH = "agents.tcss"
    HELP = ("Agents. Pick one on the left or ctrl+n for a new one; the template buttons fill the form. "
            "ctrl+t jumps to the tools (space toggles one), ctrl+s saves, ctrl+d deletes, ctrl+u uses the agent "
            "for new chats, escape goes back (asking first when there are unsaved edits).")
    BINDINGS = [
        Binding("escape", "close", "Back", id="agents.close"),
        Binding("ctrl+s", "save", "Save", id="agents.save"),
        Binding("ctrl+n", "new", "New agent", id="agents.new"),
        Binding("ctrl+d", "delete", "Delete", id="agents.delete"),
        Binding("ctrl+u", "use", "Use for new chats", id="agents.use"),
        Binding("ctrl+t", "tools", "Tools", id="agents.tools"),
    ]

    def __init__(self, agents: Any, selected_agent_id: str | None = None, default_agent_id: str | None = None,
                 tool_servers: list[Any] | None = None) -> None:
        super().__init__()
        self.tool_servers = list(tool_servers or ())
        self.store = agents
        self.agent_id: str | None = selected_agent_id
        self.default_agent_id = default_agent_id
        self.agents: dict[str, Mapping[str, Any]] = {}
        self.loaded = False
        self._extra: dict[str, Any] = {}  # definition fields the form does not show (context, output_format)
        self.compiled = ""
        self._loaded_state: tuple[Any, ...] = ()

    def compose(self) -> ComposeResult:
        from tui_agents.memory import STRATEGIES
        from tui_agents.tools import list_tools

        with Horizontal(id="agents-body"):
            with Vertical(id="agents-list-pane"):
                yield Label("Agents", classes="pane-title")
                yield OptionList(id="agents-list")
            with VerticalScroll(id="agent-form"):
                yield Label("Name", classes="field")
                yield Input(placeholder="assistant", id="agent-name")
                with Horizontal(id="templates"):
                    for key, title in TEMPLATES.items():
                        yield Button(title, id=f"template-{key}", classes="template", compact=True)
                yield Label("Tools (ctrl+t; space toggles)", classes="field")
                yield SelectionList[str](*[(Text(f"{t.name} — {sanitize(t.description)}"), t.name)
                                           for t in list_tools()], *all_tools_options(self.tool_servers),
                                         id="agent-tools")
                if self.tool_servers:
                    yield ServerToolButtons(self.tool_servers, "agent-tools")
                yield Label("Role (who the agent is)", classes="field")
                yield TextArea(id="agent-role", soft_wrap=True, show_line_numbers=False)
                yield Label("Goal", classes="field")
                yield Input(id="agent-goal")
                yield Label("Constraints (one per line)", classes="field")
                yield TextArea(id="agent-constraints", soft_wrap=True)
                yield Label("Personality (trait: value per line)", classes="field")
                yield TextArea(id="agent-personality", soft_wrap=True)
                yield Label("Examples (User: … / Assistant: …, blank line between)", classes="field")
                yield TextArea(id="agent-examples", soft_wrap=True)
                yield Label("Provider, model and memory (empty: the app's defaults)", classes="field")
                with Horizontal(classes="row"):
                    yield Select([(p, p) for p in registry.names()], prompt="app default", id="agent-provider")
                    yield Input(placeholder="model", id="agent-model")
                with Horizontal(classes="row"):
                    yield Select([(s, s) for s in STRATEGIES], prompt="app default", id="agent-memory")
                    yield Input(placeholder="parameters, e.g. n=20", id="agent-memory-params")
                with Horizontal(id="agent-buttons"):
                    yield Button("Save (ctrl+s)", variant="primary", id="agent-save")
                    yield Button("Use for new chats", id="agent-use")
                    yield Button("Delete", variant="error", id="agent-delete")
            with Vertical(id="agent-preview-pane"):
                yield Label("System prompt preview", classes="pane-title")
                yield Static(id="agent-error", markup=False)
                with VerticalScroll(id="agent-preview-scroll"):
                    yield Static(id="agent-preview", markup=False)
        yield Footer()

    def on_resize(self, event: Any) -> None:
        # Below NARROW_BELOW columns the preview gives its room to the form (at 80 the form had 22 columns).
        from ..layout import NARROW_BELOW

        self.set_class(event.size.width < NARROW_BELOW, "-narrow")

    def on_mount(self) -> None:
        self.reload()

    # ---- list

    @work(exclusive=True, group="agents-load")
    async def reload(self) -> None:
        """Re-read the agents and show the selected one (or an empty form)."""
        agents = await self.store.list()
        self.agents = {a["id"]: a for a in agents}
        options = self.query_one("#agents-list", OptionList)
        options.clear_options()
        for agent in agents:
            mark = " ★" if agent["id"] == self.default_agent_id else ""
            options.add_option(Option(plain(agent["name"] + mark), id=agent["id"]))
        options.add_option(Option(Text("+ New agent", style="italic"), id=NEW))
        if self.agent_id not in self.agents:
            self.agent_id = agents[0]["id"] if agents else None
        options.highlighted = options.get_option_index(self.agent_id or NEW)
        self._load_form(self.agents.get(self.agent_id) if self.agent_id else None)
        self.loaded = True

    @on(OptionList.OptionHighlighted, "#agents-list")
    def _picked(self, event: OptionList.OptionHighlighted) -> None:
        option_id = event.option.id
        if not self.loaded or option_id == (self.agent_id or NEW):
            return
        self.agent_id = None if option_id == NEW else option_id
        self._load_form(self.agents.get(self.agent_id) if self.agent_id else None)

    # ---- form

    def _load_form(self, agent: Mapping[str, Any] | None) -> None:
        agent = agent or {}
        definition: dict[str, Any] = dict(agent.get("definition") or {})
        if not definition and agent.get("system_prompt"):
            definition = {"role": agent["system_prompt"]}  # an agent made from a raw prompt
        self._extra = {k: definition[k] for k in ("context", "output_format") if definition.get(k)}
        self._set_fields(
            name=agent.get("name", ""), role=definition.get("role", ""), goal=definition.get("goal") or "",
            constraints="\n".join(definition.get("constraints") or []),
            personality="\n".join(f"{k}: {v}" for k, v in (definition.get("personality") or {}).items()),
            examples=_examples_text(definition.get("examples") or []),
        )
        tools = self.query_one("#agent-tools", SelectionList)
        tools.deselect_all()
        keep_server_tools(tools, agent.get("tools") or [], self.tool_servers)
        listed = {tools.get_option_at_index(i).value for i in range(tools.option_count)}
        for name in agent.get("tools") or []:
            if name in listed:  # a tool that is no longer registered is not offered
                tools.select(name)
        self.query_one("#agent-provider", Select).value = agent.get("provider") or Select.NULL
        self.query_one("#agent-model", Input).value = agent.get("model") or ""
        self.query_one("#agent-memory", Select).value = agent.get("memory_strategy") or Select.NULL
        params = agent.get("memory_params") or {}
        self.query_one("#agent-memory-params", Input).value = ", ".join(f"{k}={v}" for k, v in params.items())
        self.query_one("#agent-delete", Button).disabled = not agent
        self.query_one("#agent-use", Button).disabled = not agent
        self._update_preview()
        self._loaded_state = self._form_state()

    def _form_state(self) -> tuple[Any, ...]:
        """Everything the form holds, to tell whether it was edited since it was loaded."""
        values = [self.query_one(f"#agent-{f}").value for f in ("provider", "model", "memory", "memory-params")]
        return (*self._texts().values(), tuple(self.query_one("#agent-tools", SelectionList).selected), *values)

    @property
    def dirty(self) -> bool:
        """Whether the form has edits that are not saved."""
        return bool(self._loaded_state) and self._form_state() != self._loaded_state

    def _set_fields(self, **values: str) -> None:
        for field, value in values.items():
            widget = self.query_one(f"#agent-{field}")
            if isinstance(widget, TextArea):
                widget.load_text(value)
            else:
                widget.value = value

    def _texts(self) -> dict[str, str]:
        def get(field: str) -> str:
            widget = self.query_one(f"#agent-{field}")
            return widget.text if isinstance(widget, TextArea) else widget.value

        return {f: get(f) for f in ("name", "role", "goal", "constraints", "personality", "examples")}

    def _definition(self) -> Any:
        return definition_from_form(**self._texts(), extra=self._extra)

    @on(Input.Changed)
    @on(TextArea.Changed)
    def _edited(self) -> None:
        self._update_preview()

    def _update_preview(self) -> None:
        error = self.query_one("#agent-error", Static)
        try:
            self.compiled = self._definition().compile()
        except ValueError as exc:
            error.update(Text(f"⚠ {_error_text(exc)}", style=self.app.theme_variables.get("error", "")))
            return
        error.update("")
        self.query_one("#agent-preview", Static).update(plain(self.compiled))

    @on(Button.Pressed, ".template")
    def _template(self, event: Button.Pressed) -> None:
        self.apply_template((event.button.id or "").removeprefix("template-"))

    def apply_template(self, key: str) -> None:
        """Fill the form from a template (keeps a name already typed)."""
        from tui_agents.definition import AgentTemplates

        name = self.query_one("#agent-name", Input).value.strip()
        definition = AgentTemplates.get(key, **({"name": name} if name else {}))
        self._extra = {}
        self._set_fields(
            name=name or definition.name or TEMPLATES[key], role=definition.role, goal=definition.goal or "",
            constraints="\n".join(definition.constraints),
            personality="\n".join(f"{k}: {v}" for k, v in definition.personality.items()),
            examples=_examples_text([e.model_dump() for e in definition.examples]),
        )
        if key == "rag_assistant":
            self.query_one("#agent-tools", SelectionList).select("search_documents")
        self._update_preview()

    # ---- actions

    def _record_fields(self) -> dict[str, Any]:
        from tui_agents.memory import get_memory_strategy

        from .memory_panel import parse_params

        definition = self._definition()
        provider = self.query_one("#agent-provider", Select).value
        strategy = self.query_one("#agent-memory", Select).value
        params_text = self.query_one("#agent-memory-params", Input).value
        params = parse_params(params_text) if strategy != Select.NULL else {}
        if strategy != Select.NULL:
            params = get_memory_strategy(str(strategy), **params).params  # validates, fills defaults
        return {
            "name": self.query_one("#agent-name", Input).value.strip(),
            "system_prompt": definition.compile(),
            "definition": definition.to_dict(),
            "provider": None if provider == Select.NULL else str(provider),
            "model": self.query_one("#agent-model", Input).value.strip() or None,
            "tools": list(self.query_one("#agent-tools", SelectionList).selected),
            "memory_strategy": None if strategy == Select.NULL else str(strategy),
            "memory_params": params,
        }

    @on(Button.Pressed, "#agent-save")
    async def action_save(self) -> None:
        """Create or update the agent from the form."""
        from tui_agents.errors import AgentError
        try:
            fields = self._record_fields()
            store = self.store
            if self.agent_id:
                record = await store.update(self.agent_id, **fields)
            else:
                record = await store.create(**fields)
        except (AgentError, ValueError) as exc:
            self.notify(_error_text(exc), title="Not saved", severity="error", markup=False)
            return
        self.agent_id = record["id"]
        self.notify(f"Saved {record['name']}.", markup=False)
        self.reload()

    def action_new(self) -> None:
        """Start a new agent."""
        self.agent_id = None
        self.query_one("#agents-list", OptionList).highlighted = None
        self._load_form(None)
        self.query_one("#agent-name", Input).focus()

    @on(Button.Pressed, "#agent-delete")
    async def action_delete(self) -> None:
        """Delete the agent (refused while threads use it)."""
        from tui_agents.errors import AgentError
        if not self.agent_id:
            return
        name = self.agents.get(self.agent_id, {}).get("name", self.agent_id)
        try:
            await self.store.delete(self.agent_id)
        except AgentError as exc:
            self.notify(str(exc), title="Not deleted", severity="error", markup=False)
            return
        self.notify(f"Deleted {name}.", markup=False)
        self.agent_id = None
        self.reload()

    @on(Button.Pressed, "#agent-use")
    def action_use(self) -> None:
        """Make this agent the one new chats start from."""
        agent = self.agents.get(self.agent_id or "")
        if agent is None:
            self.notify("Save the agent first.", markup=False)
            return
        self.default_agent_id = agent["id"]
        self.post_message(AgentSelected(agent["id"], agent["name"]))
        self.notify(f"New chats will use {agent['name']}.", markup=False)
        self.reload()

    def action_tools(self) -> None:
        """Jump to the tool toggles (space or enter toggles the highlighted tool)."""
        tools = self.query_one("#agent-tools", SelectionList)
        tools.focus()
        tools.scroll_visible()

    def action_close(self) -> None:
        """Go back, after asking when the form has unsaved edits."""
        from .dialogs import ConfirmScreen

        if not self.dirty:
            self.dismiss(None)
            return
        self.app.push_screen(ConfirmScreen("This agent has unsaved changes. Discard them?", "Discard",
                                           enter_confirms=False, no="Keep editing"),
                             lambda yes: self.dismiss(None) if yes else None)
