"""The floor for a Textual app's first screen: one Static and one TextArea, nothing else.

Run by the shared harness beside aiagents-tui (`benchmarks/harness/bare-textual.toml`),
so "our startup minus this" is what our own code costs. The Static shows the same
ready marker the harness waits for in our app.
"""

from textual.app import App, ComposeResult
from textual.widgets import Static, TextArea


class BareApp(App[None]):
    """A bare Textual app: a title line and a focused text area."""

    def compose(self) -> ComposeResult:
        yield Static("bare-textual")
        yield TextArea()


if __name__ == "__main__":
    BareApp().run()
