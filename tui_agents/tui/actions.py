"""Every user action of the app, declared once: id, default key, title, help text and where it applies.

The app's and the sidebar's ``BINDINGS``, the command palette and the keys shown
in its help are all built from ``ACTIONS``; a keymap remap (``config.keymap``,
binding id to keys) changes what all of them show. Plain data: importing this
module loads no panel or screen (they load when first opened).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from textual.binding import Binding

__all__ = ["ACTIONS", "Action", "bindings", "by_action", "keys_in_effect", "palette_entries"]


@dataclass(frozen=True, slots=True)
class Action:
    """One user action."""

    id: str
    """Binding id, the key of a keymap override, e.g. ``"thread.new"``."""
    action: str
    """The Textual action it runs, e.g. ``"new_thread"`` or ``"export_thread('md')"``."""
    title: str
    """Its name in the command palette."""
    help: str
    """One sentence for the palette and F1, without the key (the key in effect is added)."""
    key: str = ""
    """Default key(s), comma-separated; empty: palette only."""
    short: str = ""
    """Footer and F1 label (defaults to the title)."""
    where: str = "app"
    """``"app"`` (everywhere), ``"chat"`` (the chat screen) or ``"sidebar"`` (while the thread list has the focus)."""
    priority: bool = False
    show: bool = True
    via: str = ""
    """The id of the binding that reaches this action through a menu (its key is shown); empty: its own."""
    palette: bool = True

    @property
    def palette_action(self) -> str:
        """The action the palette runs (a sidebar key targets the tree's cursor; the palette, the open thread)."""
        return self.action.removeprefix("screen.")


ACTIONS: tuple[Action, ...] = (
    Action("thread.new", "new_thread", "New chat", "Start a new chat", "ctrl+n", where="chat"),
    Action("search.focus", "focus_search", "Search threads", "Search titles and messages of all threads",
           "ctrl+f", short="Search", where="chat"),
    Action("sidebar.toggle", "toggle_sidebar", "Toggle sidebar", "Show or hide the thread sidebar", "ctrl+b",
           short="Sidebar", where="chat"),
    Action("model.pick", "pick_model", "Pick model", "Choose the provider and model of this chat", "ctrl+o",
           short="Model", where="chat"),
    Action("reply.regenerate", "regenerate", "Regenerate reply",
           "Answer the last message again in place; the old reply stays as another version", "ctrl+r",
           short="Regenerate", where="chat"),
    Action("reply.previous_version", "alternative(-1)", "Previous version of the reply",
           "Show the previous version of the selected (or last) reply; the one shown is what the next turn sends",
           "alt+left", short="Previous version", where="chat", show=False),
    Action("reply.next_version", "alternative(1)", "Next version of the reply",
           "Show the next version of the selected (or last) reply; the one shown is what the next turn sends",
           "alt+right", short="Next version", where="chat", show=False),
    # before reply.stop: on a narrow terminal escape first hides the sidebar shown over the chat
    Action("sidebar.hide", "hide_sidebar_overlay", "Hide sidebar overlay", "Hide the sidebar shown over the chat",
           "escape", where="chat", show=False, palette=False),
    Action("reply.stop", "stop_reply", "Stop reply", "Stop the streaming reply; the partial text is kept", "escape",
           short="Stop", where="chat"),
    Action("reply.retry", "retry", "Retry", "Retry a failed reply, or check the provider again", "f5", where="chat"),
    Action("thread.previous", "previous_thread", "Previous thread", "Open the thread above in the sidebar",
           "ctrl+pageup", priority=True, where="chat"),
    Action("thread.next", "next_thread", "Next thread", "Open the thread below in the sidebar", "ctrl+pagedown",
           priority=True, where="chat"),
    Action("message.previous", "chat_cursor(-1)", "Previous message", "Select the message above", "alt+up",
           where="chat", show=False, palette=False),
    Action("message.next", "chat_cursor(1)", "Next message", "Select the message below", "alt+down",
           where="chat", show=False, palette=False),
    Action("thread.fork", "screen.fork_thread", "Fork thread", "Copy this thread with all its messages", "f",
           short="Fork", where="sidebar"),
    Action("thread.rename", "screen.rename_thread", "Rename thread", "Give this thread a title", "r", short="Rename",
           where="sidebar"),
    Action("thread.archive", "screen.archive_thread", "Archive / unarchive thread", "Hide or restore this thread", "a",
           short="Archive/unarchive", where="sidebar"),
    Action("thread.delete", "screen.delete_thread", "Delete thread", "Move this thread to the trash", "delete",
           short="Delete", where="sidebar"),
    Action("thread.undo_delete", "screen.undo_delete", "Undo delete", "Restore the thread deleted last", "u",
           where="sidebar"),
    # alt+letter keys are priority bindings: a terminal sends them as ESC + letter, which the composer would type
    Action("thoughts.toggle", "toggle_thoughts", "Show / hide thoughts",
           "Show or hide the model's thoughts above every reply", "alt+h", short="Thoughts", where="chat",
           priority=True),
    Action("thoughts.expand", "expand_thoughts", "Open / fold thoughts",
           "Open or fold the thoughts of the selected reply (else the last one)", "alt+t", where="chat", show=False,
           priority=True),
    Action("model.thinking", "thinking_settings", "Thinking for this model",
           "Turn thinking on or off for the chat's model, with its level or token budget", "alt+k",
           short="Thinking", where="chat", show=False, priority=True),
    Action("app.models", "models", "Ollama models",
           "List, inspect, pull and delete the models of the Ollama server", "alt+m", short="Models", where="chat",
           priority=True),
    Action("image.attach", "attach_image", "Attach images",
           "Attach PNG, JPEG, GIF or WebP images to the next message (a pasted image path attaches too)", "alt+i",
           short="Image", where="chat", priority=True),
    Action("thread.empty_trash", "empty_trash", "Empty trash", "Delete the threads in the trash for good",
           where="chat"),
    Action("sidebar.archived", "toggle_archived", "Show archived threads",
           "Switch the sidebar between active and archived threads", "v", short="Archived view", where="sidebar"),
    Action("panel.inspector", "toggle_inspector", "Tool-call inspector",
           "Show every tool call and guardrail verdict of this thread: arguments, result, time, status", "ctrl+t",
           short="Inspector", where="chat"),
    Action("panel.memory", "toggle_memory_panel", "Memory panel",
           "Your saved facts (add, edit, delete) and exactly what the next turn sends, with token counts", "ctrl+g",
           short="Memory", where="chat"),
    Action("app.agents", "agents", "Agents",
           "Create, edit and delete agents, preview their system prompt, pick the one new chats use", "f3"),
    Action("app.documents", "documents", "Documents",
           "List, search, view, add and delete the documents the search_documents tool uses", "f4"),
    # f8 opens a menu of the two formats; the palette lists the two choices instead
    Action("thread.export", "export_thread", "Export thread", "Write this thread to a Markdown or JSON file", "f8",
           short="Export", palette=False, where="chat"),
    Action("thread.export_md", "export_thread('md')", "Export thread as Markdown",
           "Write this thread to a Markdown file", via="thread.export", where="chat"),
    Action("thread.export_json", "export_thread('json')", "Export thread as JSON",
           "Write this thread with every detail to a JSON file that import reads back", via="thread.export",
           where="chat"),
    Action("thread.import", "import_threads", "Import threads",
           "Import our JSON export or a ChatGPT conversations.json", "ctrl+l", short="Import"),
    Action("app.theme", "pick_theme", "Pick theme", "Switch the colour theme; the choice is saved in the settings",
           "f9", short="Theme"),
    Action("app.settings", "settings", "Settings",
           "Providers, base URLs, API keys, default model, memory, theme", "f2"),
    Action("app.help", "help", "Keys", "Show the keys of the focused area", "f1"),
    Action("tools.retry", "retry_tool_servers", "Retry tool servers",
           "Start the tool (MCP) servers that failed again when a reply next uses them"),
)

_BY_ID = {a.id: a for a in ACTIONS}
_BY_ACTION = {a.palette_action: a for a in ACTIONS}


def by_action(action: str) -> Action | None:
    """The declared action a palette entry runs (None for one not declared here)."""
    return _BY_ACTION.get(action)


def bindings(where: str = "app", actions: Iterable[Action] = ACTIONS) -> list[Binding]:
    """The ``BINDINGS`` of one place (``"app"``, ``"chat"`` or ``"sidebar"``): every action there that has a key."""
    return [
        Binding(a.key, a.action, a.short or a.title, id=a.id, priority=a.priority, show=a.show)
        for a in actions if a.where == where and a.key
    ]


def keys_in_effect(action: Action, keymap: Mapping[str, str] | None = None) -> str:
    """The keys that run ``action`` now: the keymap's override of its binding, else the default ("" for none)."""
    binding = _BY_ID.get(action.via, action)
    keys = (keymap or {}).get(binding.id, binding.key)
    return ", ".join(k.strip() for k in keys.split(",") if k.strip())


def palette_entries(keymap: Mapping[str, str] | None = None,
                    actions: Iterable[Action] = ACTIONS) -> list[tuple[str, str, str]]:
    """(title, help with the keys in effect, app action) of every palette action."""
    out = []
    for action in actions:
        if not action.palette:
            continue
        keys = keys_in_effect(action, keymap)
        where = " in the sidebar" if action.where == "sidebar" else ""
        out.append((action.title, f"{action.help} ({keys}{where})" if keys else action.help, action.palette_action))
    return out
