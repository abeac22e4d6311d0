"""The export file format: its version, limits and the pydantic models every imported field is checked against."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from tui_agents.images import MEDIA_TYPES
from tui_agents.store.records import MAX_JSON_DEPTH

EXPORT_FORMAT = "aiagents-tui/thread"


EXPORT_VERSION = 2


MAX_IMPORT_BYTES = 512 * 1024 * 1024


MAX_TIMESTAMP = 253402300799.0  # 9999-12-31 23:59:59 UTC, the last second a date can show


MAX_COUNT = 2**31 - 1  # positions and token counts


# The export's own structure (document > messages > message > meta) on top of the stored values' limit.
MAX_IMPORT_DEPTH = MAX_JSON_DEPTH + 4


Timestamp = Annotated[float, Field(ge=0, le=MAX_TIMESTAMP, allow_inf_nan=False)]


Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]


Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


MediaType = Literal["image/png", "image/jpeg", "image/gif", "image/webp"]


EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}
assert set(EXTENSIONS) == set(MEDIA_TYPES)  # a new accepted type needs its extension here


FILE_PREFIX = 16  # hex digits of the sha256 in an image's file name beside a Markdown export


_BLOCK_FIELDS = {"thinking": ("thinking", "signature"), "redacted_thinking": ("data",)}


def _check_block(block: dict[str, Any]) -> dict[str, Any]:
    """An Anthropic thinking block, kept exactly as given (the API checks its signature)."""
    kind = block.get("type")
    needs = _BLOCK_FIELDS.get(kind) if isinstance(kind, str) else None
    if needs is None:
        raise ValueError(f"a thinking block's type must be 'thinking' or 'redacted_thinking', not {_short(kind)}")
    for key in needs:
        if not isinstance(block.get(key), str):
            raise ValueError(f"a {kind} block needs '{key}' as text")
    return block


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


ThinkingBlock = Annotated[dict[str, Any], AfterValidator(_check_block)]


# --------------------------------------------------------------------------- models


class _Strict(BaseModel):
    # strict: a number given as text, or 1.0 for a position, is a mistake to report, not to guess at.
    model_config = ConfigDict(extra="forbid", strict=True)


class ExportedToolCall(_Strict):
    """One tool call of an assistant message."""

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class ExportedImageRef(_Strict):
    """A message's reference to an image of the file's ``images`` (as ``store.images.image_ref`` writes it)."""

    sha256: Sha256
    media_type: MediaType
    name: str | None = None
    bytes: Count
    width: Count | None = None
    height: Count | None = None


class ExportedImage(_Strict):
    """An image's bytes, once per file, as base64."""

    sha256: Sha256
    media_type: MediaType
    data: str


class ExportedAlternative(_Strict):
    """Where a reply row sits among a slot's regenerated alternatives (``store.alternatives``)."""

    slot: Count  # position of the slot's first row
    index: Count  # 0-based alternative
    chosen: bool


class ExportedMessage(_Strict):
    """A message as stored."""

    id: str
    position: Count
    role: Literal["system", "user", "assistant", "tool"]
    content: str
    tool_calls: list[ExportedToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None
    status: Literal["complete", "streaming", "interrupted", "error"] = "complete"
    model: str | None = None
    usage: dict[str, Count] | None = None
    token_count: Count | None = None
    guardrail: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None
    created_at: Timestamp
    updated_at: Timestamp
    thinking: str | None = None
    thinking_blocks: list[ThinkingBlock] = Field(default_factory=list)
    images: list[ExportedImageRef] = Field(default_factory=list)
    alternative: ExportedAlternative | None = None


class ExportedAgent(_Strict):
    """The thread's agent record."""

    id: str
    name: str
    system_prompt: str = ""
    definition: dict[str, Any] | None = None
    provider: str | None = None
    model: str | None = None
    tools: list[str] = Field(default_factory=list)
    memory_strategy: str | None = None
    memory_params: dict[str, Any] = Field(default_factory=dict)
    created_at: Timestamp
    updated_at: Timestamp


class ExportedThreadInfo(_Strict):
    """The thread record (without its agent id, which travels as ``agent``)."""

    id: str
    user_id: str | None = None
    title: str | None = None
    title_source: Literal["user", "auto"] | None = None
    summary: str | None = None
    provider: str | None = None
    model: str | None = None
    created_at: Timestamp
    updated_at: Timestamp
    archived_at: Timestamp | None = None
    trashed_at: Timestamp | None = None
    forked_from: str | None = None
    forked_from_message: str | None = None
    fork_kind: Literal["fork", "branch"] | None = None


class ExportedThread(_Strict):
    """A whole exported thread: our JSON file."""

    format: Literal["aiagents-tui/thread"]
    version: Literal[1, 2]  # 1: before alternatives, thinking and images; still read
    exported_at: Timestamp
    thread: ExportedThreadInfo
    agent: ExportedAgent | None = None
    lineage: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    messages: list[ExportedMessage]
    images: list[ExportedImage] = Field(default_factory=list)


@dataclass
class ImportReport:
    """What an import wrote: one thread id per imported conversation, and notes."""

    thread_ids: list[str] = field(default_factory=list)
    kept_ids: bool = True
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- parsing


def _error_text(exc: ValidationError) -> str:
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first["loc"]) or "(top)"
    return f"{loc}: {first['msg'].removeprefix('Value error, ')}"
