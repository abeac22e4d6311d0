"""The command palette's list of app actions (ctrl+p)."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

__all__ = ["ActionsProvider"]


class ActionsProvider(Provider):
    """Every app action, by title, run through the app's action system."""

    def _actions(self) -> list[tuple[str, str, str]]:
        getter = getattr(self.app, "palette_actions", None)  # the palette also opens over other apps' tests
        return getter() if getter else []

    async def _run(self, action: str) -> None:
        runner = getattr(self.app, "run_palette_action", None)
        await (runner(action) if runner else self.app.run_action(action))

    async def discover(self) -> Hits:
        for title, help_text, action in self._actions():
            yield DiscoveryHit(title, partial(self._run, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, action in self._actions():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self._run, action), help=help_text)
