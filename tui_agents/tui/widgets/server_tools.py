"""The MCP servers' tools in the agents screen: one "list its tools" button per configured server.

An agent record names a server tool by its wire name (``files__read_file``) or
all of a server's tools (``files:*``). The "all tools" entry needs no running
server; listing the single tools starts the server on demand.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, SelectionList

from ...sanitize import sanitize

__all__ = ["ServerToolButtons", "all_tools_options", "keep_server_tools"]


def all_tools_options(servers: Iterable[Any]) -> list[tuple[Text, str]]:
    """One "every tool of NAME" option per server (the value ``NAME:*``)."""
    return [(Text(f"{sanitize(s.name)}:* — every tool of the MCP server {sanitize(s.name)!r}"), f"{s.name}:*")
            for s in servers]


def _names_a_server(value: str, servers: Iterable[Any]) -> bool:
    return any(value.startswith((f"{s.name}__", f"{s.name}:")) for s in servers)


def keep_server_tools(tools: SelectionList, names: Iterable[str], servers: Sequence[Any]) -> None:
    """Offer the server tools an agent names that are not listed yet, so saving the form keeps them."""
    listed = {tools.get_option_at_index(i).value for i in range(tools.option_count)}
    for name in names:
        if name not in listed and _names_a_server(name, servers):
            tools.add_option((Text(f"{sanitize(name)} (MCP server not started)"), name))


class ServerToolButtons(Horizontal):
    """A button per MCP server that starts it and lists its tools in the agent's tool list."""

    DEFAULT_CSS = """
    ServerToolButtons { height: auto; }
    ServerToolButtons Button { margin-right: 1; }
    """

    def __init__(self, servers: Sequence[Any], tools_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.servers = {s.name: s for s in servers}
        self.tools_id = tools_id

    def compose(self) -> ComposeResult:
        for index, name in enumerate(self.servers):
            yield Button(Text(f"List tools of {sanitize(name)}"), id=f"server-tools-{index}", compact=True)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        index = int((event.button.id or "-0").rsplit("-", 1)[1])
        event.button.disabled = True
        self.list_tools(list(self.servers.values())[index], event.button)

    @work(group="server-tools")
    async def list_tools(self, server: Any, button: Button) -> None:
        """Start ``server`` if needed and add each of its tools to the list (a failure is shown, with a retry)."""
        from tui_agents.errors import AgentError

        try:
            loaded = await server.load_tools()
        except AgentError as exc:
            from ..tool_access import failure_lines

            self.app.notify("\n".join(failure_lines(exc, getattr(exc, "stderr_tail", ""))),
                            title="Tool server failed", severity="error", timeout=20)
            server.retry()  # pressing the button again tries again
            button.disabled = False
            return
        tools = self.screen.query_one(f"#{self.tools_id}", SelectionList)
        listed = {tools.get_option_at_index(i).value for i in range(tools.option_count)}
        every = f"{server.name}:*" in tools.selected  # then each of them is on: shown so
        for tool in loaded:
            if tool.name not in listed:
                tools.add_option((Text(f"{sanitize(tool.name)} — {sanitize(tool.description or '')}"), tool.name))
            if every:
                tools.select(tool.name)
        button.label = Text(f"{sanitize(server.name)}: {len(loaded)} tools listed")
