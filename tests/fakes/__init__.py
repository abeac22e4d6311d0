"""Test fakes: a loopback LLM server speaking the Anthropic, OpenAI and Ollama wire formats."""

from .llm_server import FakeLLMServer, RecordedRequest, Reply, ToolCallSpec

__all__ = ["FakeLLMServer", "RecordedRequest", "Reply", "ToolCallSpec"]
