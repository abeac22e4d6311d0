"""What the next turn of a thread sends: built once, here, for the runner, the memory panel and the status bar.

``build_context`` joins the agent's system prompt and the user's facts, lets the
memory strategy select the window (leaving the system prompt's tokens free),
makes the window safe to send (``sendable``), and names the model and its
context size. The runner sends ``context.messages`` with ``context.system``; the
memory panel lists ``context.records`` and ``context.tokens``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..types import Image, Message, ToolCall

__all__ = ["TurnContext", "build_context", "counted_after_reply", "model_for", "sendable", "CANCELLED_TOOL",
           "REPLY_RESERVE"]

CANCELLED_TOOL = "The tool call was cancelled before it finished."
REPLY_RESERVE = 4096
"""Tokens of the model's window kept free for the reply (at most a quarter of a small window)."""


@dataclass(frozen=True, slots=True)
class TurnContext:
    """The request of the next turn, and what it costs."""

    thread_id: str | None
    provider: str | None
    model: str
    window: int
    """The model's context size in tokens."""
    prompt: str
    """The agent's system prompt alone."""
    facts_block: str
    """The user's facts as the system prompt carries them ("" when none)."""
    system: str | None
    """What is sent as the system prompt: the prompt and the facts block."""
    system_tokens: int
    """Tokens of ``system`` as sent (the strategy's budget leaves them free)."""
    prompt_tokens: int
    facts_tokens: int
    records: tuple[Mapping[str, Any], ...]
    """The stored messages that are sent, in conversation order."""
    messages: tuple[Message, ...]
    """The provider messages sent (``records`` plus an error result for a call whose result never got saved)."""
    description: str = ""
    """The memory strategy in words, e.g. "last 20 messages"."""
    earlier_user: bool = False
    """Whether the window holds a user message before the last one (so this is not the first exchange)."""
    estimated: bool = False
    """Whether the token counts are estimates (not the model's own tokenizer): show them with "≈"."""

    @property
    def tokens(self) -> int:
        """Tokens of the prompt, the facts and the window (the messages' cached counts): what the panel lists."""
        return self.prompt_tokens + self.facts_tokens + sum(int(r.get("token_count") or 0) for r in self.records)


def _to_message(record: Mapping[str, Any], images: Mapping[str, Image] | None = None) -> Message:
    """A stored record as a provider message; ``model_construct`` because store rows are already valid.

    ``images`` holds the loaded bytes of the record's image references, by sha256.
    """
    role = record["role"]
    pictures = [images[ref["sha256"]] for ref in record.get("images") or () if images and ref["sha256"] in images]
    if role == "tool":  # an MCP tool's result may hold images
        meta = record.get("meta") or {}
        return Message.model_construct(
            role="tool", content=record["content"], tool_calls=[], tool_call_id=record["tool_call_id"],
            name=meta.get("name"), is_error=meta.get("status", "ok") != "ok", id=record["id"], images=pictures,
        )
    calls = [ToolCall(**call) for call in record.get("tool_calls") or ()]
    return Message.model_construct(
        role=role, content=record["content"], tool_calls=calls, tool_call_id=None, name=None,
        is_error=False, id=record["id"], thinking=record.get("thinking") or "",
        thinking_blocks=list(record.get("thinking_blocks") or ()), images=pictures,
    )


def sendable(records: Iterable[Mapping[str, Any]],
             images: Mapping[str, Image] | None = None) -> tuple[list[Mapping[str, Any]], list[Message]]:
    """The records a provider may see, and them as provider messages (with their images' bytes from ``images``).

    Skips what a provider must not see or would reject: user messages the
    guardrail blocked, empty assistant rows (a failed reply), tool results
    whose call is not in the window. A call whose result never got saved (a
    crash mid-tool) gets an error result, so calls and results stay paired.
    """
    records = list(records)
    answered = {r["tool_call_id"] for r in records if r["role"] == "tool"}
    called: set[str] = set()
    kept: list[Mapping[str, Any]] = []
    out: list[Message] = []
    for record in records:
        role = record["role"]
        if role == "system":
            continue
        if role == "user" and (record.get("guardrail") or {}).get("action") == "blocked":
            continue
        if role == "tool":
            if record["tool_call_id"] in called:
                kept.append(record)
                out.append(_to_message(record, images))
            continue
        if role == "assistant" and not record["content"] and not record.get("tool_calls"):
            continue
        message = _to_message(record, images)
        kept.append(record)
        out.append(message)
        for call in message.tool_calls:
            called.add(call.id)
            if call.id not in answered:
                out.append(Message(role="tool", content=CANCELLED_TOOL, tool_call_id=call.id,
                                   name=call.name, is_error=True))
    return kept, out


async def counted_after_reply(counter: Any, messages: Any, thread_id: str) -> bool:
    """Whether a thread's new message may go out before the model's tokenizer has loaded (~0.4 s of CPU).

    Only a thread's first message: its window is that message whatever the counts say (the newest message
    always stays), so they change nothing that is sent. The runner counts it exactly once the reply is in;
    until then its count is unset, and a strategy that meets it counts it exactly.
    """
    if counter.loaded or getattr(counter, "encoding_name", None) is None:
        return False  # loaded already, or an estimating counter that never loads anything
    return not await messages.list_light(thread_id, limit=1)


def model_for(thread: Mapping[str, Any] | None, provider: str | None, default: str | None,
              agent: Mapping[str, Any] | None = None) -> str:
    """The thread's chosen model (when it is on ``provider``), else ``default``, else the agent record's."""
    thread = thread or {}
    if thread.get("model") and thread.get("provider") in (None, provider):
        return thread["model"]
    if default:
        return default
    agent = agent or {}
    if agent.get("model") and agent.get("provider") in (None, provider):
        return agent["model"]
    return ""


async def build_context(
    *,
    messages: Any,
    facts: Any,
    user_id: str,
    thread: Mapping[str, Any] | None,
    prompt: str,
    strategy: Any,
    counter: Any,
    provider: str | None,
    model: str,
    window: int | None = None,
    images: Callable[[list[Mapping[str, Any]]], Awaitable[Mapping[str, Image]]] | None = None,
    resume: bool = False,
    count_system: Callable[[str | None], Awaitable[int]] | None = None,
) -> TurnContext:
    """What the next turn of ``thread`` sends (``thread`` None: a new chat, an empty window).

    ``window`` is the model's context size as its server reports it (else the registry's table); the
    selected messages fit in it less room for the reply. ``images`` loads the bytes of the window's
    images. ``resume`` cuts the window after the last user message (regenerate, retry);
    ``count_system`` may cache the system prompt's count (the runner's does).
    """
    from ..errors import GuardrailBlockedError, InvalidArgumentError
    from ..providers import registry

    if hasattr(counter, "model_counter"):
        counter = counter.model_counter(provider, model)  # tiktoken only where it is the model's tokenizer
    if not counter.loaded:
        await counter.load()
    facts_block = facts.format_for_prompt(await facts.get_all(user_id)) if facts is not None else ""
    system = "\n\n".join(part for part in (prompt, facts_block) if part) or None
    system_tokens = await count_system(system) if count_system else (counter.count(system) if system else 0)
    thread_id = thread["id"] if thread else None
    spec = registry.find(provider)
    if window is None:
        window = spec.context_window(model) if spec is not None else 8_192
    # estimated counts may be short of the model's own: keep a margin free so the window still fits
    budget = max(1, int((window - min(REPLY_RESERVE, window // 4)) / getattr(counter, "margin", 1.0)))
    records = list(await strategy.select(messages, thread_id, counter, reserve_tokens=system_tokens,
                                         max_tokens=budget)) if thread_id else []
    last_user = max((i for i, r in enumerate(records) if r["role"] == "user"), default=None)
    earlier_user = last_user is not None and any(r["role"] == "user" for r in records[:last_user])
    if resume:
        if last_user is None:
            raise InvalidArgumentError(f"Thread {thread_id} has no user message to answer.")
        if (records[last_user].get("guardrail") or {}).get("action") == "blocked":
            raise GuardrailBlockedError("The last message was blocked by the guardrail, so it cannot be answered.")
        records = records[: last_user + 1]  # regenerate: ignore earlier attempts at the answer
    kept, sent = sendable(records, await images(records) if images is not None else None)
    return TurnContext(
        thread_id=thread_id, provider=provider, model=model, window=window,
        prompt=prompt, facts_block=facts_block, system=system, system_tokens=system_tokens,
        prompt_tokens=counter.count(prompt) if prompt else 0,
        facts_tokens=counter.count(facts_block) if facts_block else 0,
        records=tuple(kept), messages=tuple(sent),
        description=strategy.describe(), earlier_user=earlier_user,
        estimated=bool(getattr(counter, "estimated", False)),
    )
