"""The agent new chats start from when the user has chosen none: the same in the app and in `aiagents-tui ask`."""

from __future__ import annotations

__all__ = ["DEFAULT_AGENT_NAME", "DEFAULT_AGENT_TOOLS", "DEFAULT_SYSTEM_PROMPT"]

DEFAULT_AGENT_NAME = "assistant"
DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant. Answer in Markdown."
DEFAULT_AGENT_TOOLS = ("calculate", "current_time", "search_documents")
"""The safe built-ins, which run without asking; ``remember`` is opt-in."""
