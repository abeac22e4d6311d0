"""The aiagents-tui Textual app (the only part of tui_agents that imports Textual)."""
