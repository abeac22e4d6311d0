"""The composer: a multi-line text area where enter sends and shift+enter / ctrl+j add a line."""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea

__all__ = ["Composer"]


class Composer(TextArea):
    """Multi-line input that keeps one draft per thread."""

    HELP = "Type a message. Enter sends it; shift+enter or ctrl+j starts a new line."

    BINDINGS = [
        Binding("enter", "submit", "Send", id="composer.send"),
        Binding("shift+enter,ctrl+j", "newline", "New line", id="composer.newline", show=False),
    ]

    DEFAULT_CSS = """
    Composer { height: auto; min-height: 3; max-height: 12; border: round $primary 50%; }
    Composer:focus { border: round $primary; }
    """

    class Submitted(Message):
        """The user pressed the send key with ``text`` in the composer."""

        def __init__(self, composer: "Composer", text: str) -> None:
            super().__init__()
            self.composer = composer
            self.text = text

    class PathsPasted(Message):
        """The user pasted (or a terminal dropped) the paths of image files: they become attachments."""

        def __init__(self, composer: "Composer", paths: list) -> None:
            super().__init__()
            self.composer = composer
            self.paths = paths

    async def _on_paste(self, event: events.Paste) -> None:
        from .attachments import image_paths_in

        paths = image_paths_in(event.text)
        if paths:
            event.stop()
            event.prevent_default()
            self.post_message(self.PathsPasted(self, paths))
        # else TextArea's own handler (Textual runs each class's in turn) inserts the text

    def __init__(self, **kwargs) -> None:
        super().__init__(soft_wrap=True, show_line_numbers=False, tab_behavior="focus", **kwargs)
        self.drafts: dict[str | None, str] = {}
        self.draft_key: str | None = None

    async def _on_key(self, event: events.Key) -> None:
        # The composer's own keys (send, newline; remappable) run their action instead of typing.
        for binding in self._bindings.key_to_bindings.get(event.key, []):
            if (binding.id or "").startswith("composer."):
                event.stop()
                event.prevent_default()
                await self.run_action(binding.action)
                return
        await super()._on_key(event)

    def action_submit(self) -> None:
        """Send the text (it stays until the app confirms the send)."""
        text = self.text
        if text.strip():
            self.post_message(self.Submitted(self, text))

    def action_newline(self) -> None:
        """Insert a line break at the cursor."""
        start, end = self.selection
        self._replace_via_keyboard("\n", start, end)

    def switch_draft(self, key: str | None) -> None:
        """Keep the current text as the draft of the old thread and show the draft of ``key``."""
        self.drafts[self.draft_key] = self.text
        self.draft_key = key
        self.load_text(self.drafts.pop(key, ""))
        self.move_cursor(self.document.end)

    def clear_sent(self) -> None:
        """Empty the composer after a successful send."""
        self.load_text("")
        self.drafts.pop(self.draft_key, None)
