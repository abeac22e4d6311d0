"""How an untitled thread is labelled, the same in the app's sidebar and the CLI: its first words."""

from __future__ import annotations

__all__ = ["UNTITLED", "first_words", "thread_title"]

UNTITLED = "New chat"
"""The label of a thread with neither a title nor a message yet."""


def first_words(text: str, n: int = 6) -> str:
    """The first ``n`` words of ``text`` on one line, with an ellipsis when there are more."""
    words = text.split()
    return " ".join(words[:n]) + ("…" if len(words) > n else "")


def thread_title(title: str | None, first_user_text: str | None = None) -> str:
    """The thread's title, else the first words of its first user message, else ``UNTITLED``."""
    return (title or first_words(first_user_text or "")).replace("\n", " ").strip() or UNTITLED
