"""Token counting with tiktoken that works offline.

tiktoken downloads its encoding files on first use, which fails without a
network. ``TokenCounter`` never lets it try: it builds the ``tiktoken.Encoding``
itself from a local ``.tiktoken`` file, checked against tiktoken's published
SHA-256, found in this order:

1. the copy shipped in this package (``memory/encodings/``, MIT, see the
   ``LICENSE`` beside the files);
2. tiktoken's own download cache (``TIKTOKEN_CACHE_DIR`` / ``DATA_GYM_CACHE_DIR``
   / the temp dir), if an earlier online run left the file there.

If neither is found the counter degrades to ``estimate_tokens`` (a word and
punctuation based guess), logs one warning and says so (``counter.estimated``);
it never raises and never touches the network. Loading an encoding costs
~0.4 s and 45-80 MiB, so it happens lazily, once per process and encoding:
``await counter.load()`` runs it in a thread.

tiktoken is exact only for OpenAI's models. ``TokenCounter.for_model`` gives
those their encoding and every other model (Ollama, llama.cpp, Anthropic) an
estimating counter that never loads tiktoken: its counts are shown with "≈",
and a budget built on them keeps ``ESTIMATE_MARGIN`` free.
"""

from __future__ import annotations

import asyncio
import binascii
import gzip
import hashlib
import json
import logging
import math
import os
import re
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidArgumentError
from ..types import Message

__all__ = [
    "TokenCounter",
    "ENCODINGS",
    "DEFAULT_ENCODING",
    "ESTIMATE_MARGIN",
    "encoding_for",
    "MESSAGE_OVERHEAD",
    "TOOL_CALL_OVERHEAD",
    "estimate_tokens",
]

log = logging.getLogger(__name__)

DEFAULT_ENCODING = "o200k_base"
# Chat formats wrap each message in a few role/separator tokens (OpenAI's
# cookbook counts 3-4); each tool call adds its own wrapper too.
MESSAGE_OVERHEAD = 4
TOOL_CALL_OVERHEAD = 3

# A local model's own tokenizer can split text into up to ~25 % more tokens than
# the estimate (32k-vocabulary models on non-English text), so a window filled
# from estimates is shrunk by this factor to still fit.
ESTIMATE_MARGIN = 1.25

_ENDOFTEXT = "<|endoftext|>"
_ENDOFPROMPT = "<|endofprompt|>"


@dataclass(frozen=True, slots=True)
class _EncodingSpec:
    """What tiktoken's ``tiktoken_ext/openai_public.py`` publishes for one encoding."""

    name: str
    url: str
    sha256: str
    pat_str: str
    special_tokens: dict[str, int]


ENCODINGS: dict[str, _EncodingSpec] = {
    "cl100k_base": _EncodingSpec(
        name="cl100k_base",
        url="https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        sha256="223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        pat_str=(
            r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
            r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
        ),
        special_tokens={
            _ENDOFTEXT: 100257,
            "<|fim_prefix|>": 100258,
            "<|fim_middle|>": 100259,
            "<|fim_suffix|>": 100260,
            _ENDOFPROMPT: 100276,
        },
    ),
    "o200k_base": _EncodingSpec(
        name="o200k_base",
        url="https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        sha256="446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        pat_str="|".join(
            [
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""\p{N}{1,3}""",
                r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
                r"""\s*[\r\n]+""",
                r"""\s+(?!\S)""",
                r"""\s+""",
            ]
        ),
        special_tokens={_ENDOFTEXT: 199999, _ENDOFPROMPT: 200018},
    ),
}

# One loaded encoding per name for the whole process, like tiktoken's own
# registry: it is immutable, ~100 MB for o200k, and costs ~130 ms to build, so
# every counter (runner, TUI, workers) shares it. ``None`` means "not found".
_loaded: dict[str, Any] = {}
_load_lock = threading.Lock()
_warned: set[str] = set()


# --- estimate ---------------------------------------------------------------

# Runs of ASCII letters, digits and ASCII punctuation, and any other single
# character (CJK, emoji, accented letters) roughly follow how BPE splits text.
_PUNCT = r"!-/:-@\[-`{-~"
_WORDISH = re.compile(rf"[A-Za-z]+|\d+|[{_PUNCT}]+|[^\sA-Za-z\d{_PUNCT}]")


def estimate_tokens(text: str) -> int:
    """Guess the token count of ``text`` without an encoding (words, digits, punctuation).

    Within about 25% of o200k/cl100k on English prose and code, erring high so
    a token budget built on it is rarely overrun.
    """
    total = 0
    for match in _WORDISH.finditer(text):
        piece = match.group()
        first = piece[0]
        if first.isascii() and first.isalpha():
            # Common English words are one token; long ones split every ~6 letters.
            total += 1 + (len(piece) - 1) // 6
        elif first.isdigit():
            total += math.ceil(len(piece) / 3)  # both encodings split digits in threes
        elif first.isascii():
            total += math.ceil(len(piece) / 2)  # "->", '"""', "()" merge in pairs
        else:
            total += 1
    return total


# --- loading ----------------------------------------------------------------


ENCODINGS_DIR = Path(__file__).with_name("encodings")
"""Where the package keeps its ``<name>.tiktoken.gz`` files."""


def _bundled_path(spec: _EncodingSpec) -> Path | None:
    """The ``.tiktoken.gz`` shipped in this package, if present."""
    path = ENCODINGS_DIR / f"{spec.name}.tiktoken.gz"
    return path if path.is_file() else None


def _tiktoken_cache_path(spec: _EncodingSpec) -> Path | None:
    """Where tiktoken itself would have cached a downloaded file (same rule as ``tiktoken.load``)."""
    cache_dir = os.environ.get("TIKTOKEN_CACHE_DIR")
    if cache_dir is None:
        cache_dir = os.environ.get("DATA_GYM_CACHE_DIR")
    if cache_dir is None:
        cache_dir = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    if not cache_dir:
        return None
    path = Path(cache_dir) / hashlib.sha1(spec.url.encode()).hexdigest()
    return path if path.is_file() else None


def _read_verified(spec: _EncodingSpec) -> bytes | None:
    """The encoding file's bytes from the first local source whose hash matches, else None."""
    for source in (_bundled_path(spec), _tiktoken_cache_path(spec)):
        if source is None:
            continue
        try:
            raw = source.read_bytes()
            data = gzip.decompress(raw) if source.suffix == ".gz" else raw
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            log.debug("cannot read %s: %s", source, exc)
            continue
        if hashlib.sha256(data).hexdigest() == spec.sha256:
            return data
        log.warning("Ignoring %s: it does not match tiktoken's published hash.", source)
    return None


def _parse_ranks(data: bytes) -> dict[bytes, int]:
    """Parse a ``.tiktoken`` file (``base64-token rank`` per line), as ``tiktoken.load`` does."""
    b64 = binascii.a2b_base64  # base64.b64decode's argument checks add ~40 % to the parse
    return {b64(token): int(rank) for token, rank in (line.split() for line in data.splitlines() if line)}


def _build_encoding(spec: _EncodingSpec) -> Any | None:
    """Build the tiktoken Encoding from a verified local file; None when there is none."""
    data = _read_verified(spec)
    if data is None:
        return None
    import tiktoken  # deferred: importing it costs startup time the app does not have

    encoding = tiktoken.Encoding(
        spec.name,
        pat_str=spec.pat_str,
        mergeable_ranks=_parse_ranks(data),
        special_tokens=dict(spec.special_tokens),
    )
    # The Rust encoder keeps its own copy of the ranks; the Python dict (29 MiB for
    # o200k) only serves decoding helpers a counter never calls.
    if isinstance(getattr(encoding, "_mergeable_ranks", None), dict):
        encoding._mergeable_ranks = {}
    return encoding


def _get_encoding(name: str) -> Any | None:
    """The shared Encoding for ``name``, loading it on first use; None means estimate."""
    if name in _loaded:
        return _loaded[name]
    with _load_lock:
        if name not in _loaded:
            try:
                encoding = _build_encoding(ENCODINGS[name])
            except Exception:  # a broken install must not take the app down
                log.debug("building encoding %s failed", name, exc_info=True)
                encoding = None
            if encoding is None and name not in _warned:
                _warned.add(name)
                log.warning(
                    "The %s token encoding file is not available offline; token counts are "
                    "estimates (shown as ≈). Reinstall tui-agents (it ships the file) to get exact counts.",
                    name,
                )
            _loaded[name] = encoding
    return _loaded[name]


# --- the counter ------------------------------------------------------------


def _field(message: Any, name: str) -> Any:
    """Read a field from a ``Message`` or a dict-like message record."""
    if isinstance(message, Mapping):
        return message.get(name)
    return getattr(message, name, None)


def _call_parts(call: Any) -> tuple[str, str]:
    """A tool call's name and its arguments as JSON, from a ToolCall or a dict."""
    name = _field(call, "name") or ""
    arguments = _field(call, "arguments")
    if isinstance(arguments, str):
        return name, arguments
    return name, json.dumps(arguments or {}, ensure_ascii=False, separators=(",", ":"))


_MODEL_OWN: Any = object()  # TokenCounter's default: the encoding follows the model

# Model-name prefixes whose own tokenizer is a tiktoken encoding (tiktoken's
# ``model.py`` table); the longest matching prefix wins.
_MODEL_ENCODINGS: dict[str, str] = {
    "gpt-5": "o200k_base", "gpt-4.1": "o200k_base", "gpt-4.5": "o200k_base", "gpt-4o": "o200k_base",
    "chatgpt-4o": "o200k_base", "o1": "o200k_base", "o3": "o200k_base", "o4": "o200k_base",
    "gpt-4": "cl100k_base", "gpt-3.5": "cl100k_base", "gpt-35": "cl100k_base",
    "text-embedding-3": "cl100k_base", "text-embedding-ada": "cl100k_base",
}


def encoding_for(provider: str | None, model: str | None) -> str | None:
    """The tiktoken encoding that is ``model``'s own tokenizer, or None when tiktoken could only approximate it.

    A local server's model (Ollama, llama.cpp) never gets one, whatever its name.
    """
    from ..providers import registry

    spec = registry.find(provider)
    if spec is not None and spec.local:
        return None
    name = (model or "").lower().rsplit("/", 1)[-1]
    best = max((prefix for prefix in _MODEL_ENCODINGS if name.startswith(prefix)), key=len, default=None)
    return _MODEL_ENCODINGS[best] if best is not None else None


class TokenCounter:
    """Counts tokens with a tiktoken encoding (``o200k_base`` or ``cl100k_base``), offline, or estimates them.

    ``TokenCounter()`` follows the model: ``for_model`` (``build_context`` calls
    it) turns it into the model's counter; counting with it directly uses
    ``o200k_base``. ``TokenCounter(None)`` only estimates and never loads tiktoken.
    Call ``await load()`` once from async code so the load runs in a thread;
    ``count`` called before that loads synchronously. When the encoding file
    cannot be found every count is an estimate (``exact`` is False).
    ``save_counts=False``: a memory strategy uses its counts but does not cache them on the rows.
    """

    def __init__(self, encoding: str | None = _MODEL_OWN, *, follow_model: bool | None = None,
                 save_counts: bool = True) -> None:
        if follow_model is None:
            follow_model = encoding is _MODEL_OWN
        if encoding is _MODEL_OWN:
            encoding = DEFAULT_ENCODING
        if encoding is not None and encoding not in ENCODINGS:
            known = ", ".join(sorted(ENCODINGS))
            raise InvalidArgumentError(f"Unknown token encoding {encoding!r}; use one of: {known}.")
        self.encoding_name = encoding
        self._encoding: Any | None = None
        self._resolved = encoding is None  # an estimating counter has nothing to load
        # only the argument-less counter adapts to the model; a named encoding is the caller's choice
        self._follow_model = follow_model
        self._by_model: dict[str | None, TokenCounter] = {}
        self.save_counts = save_counts

    @classmethod
    def for_model(cls, provider: str | None, model: str | None) -> TokenCounter:
        """A counter for ``model``: exact with its tiktoken encoding, else an estimating one."""
        return cls(encoding_for(provider, model), follow_model=False)

    def model_counter(self, provider: str | None, model: str | None) -> TokenCounter:
        """The counter to use for ``model``: this one unless it follows the model (``TokenCounter()``)."""
        if not self._follow_model:
            return self
        encoding = encoding_for(provider, model)
        counter = self._by_model.get(encoding)
        if counter is None:
            counter = self._by_model[encoding] = TokenCounter(encoding, follow_model=False)
        return counter

    @property
    def margin(self) -> float:
        """How much a token budget built on these counts must be shrunk to be safe (1.0: exact)."""
        return 1.0 if self._resolved and self._encoding is not None else ESTIMATE_MARGIN

    def __repr__(self) -> str:
        state = "unloaded" if not self._resolved else ("exact" if self._encoding is not None else "estimate")
        return f"TokenCounter({self.encoding_name!r}, {state})"

    async def load(self) -> bool:
        """Load the encoding in a thread if not done yet; True when counts are exact."""
        if not self._resolved:
            await asyncio.to_thread(self._resolve)
        return self.exact

    @property
    def loaded(self) -> bool:
        """True once the encoding has been looked for (found or not)."""
        return self._resolved

    @property
    def exact(self) -> bool:
        """True when counts come from the real encoding rather than an estimate (loads it if needed)."""
        return self._resolve() is not None

    @property
    def estimated(self) -> bool:
        """True once the encoding was looked for and not found: counts are estimates (show "≈").

        Never loads anything, so a status bar may read it on every refresh.
        """
        return self._resolved and self._encoding is None

    def _resolve(self) -> Any | None:
        if not self._resolved and self.encoding_name is not None:
            self._encoding = _get_encoding(self.encoding_name)
            self._resolved = True
        return self._encoding

    def count(self, text: str) -> int:
        """Tokens in ``text`` (special-token strings are counted as ordinary text)."""
        if not text:
            return 0
        encoding = self._resolve()
        if encoding is None:
            return estimate_tokens(text)
        return len(encoding.encode_ordinary(text))

    def count_message(self, message: Message | Mapping[str, Any]) -> int:
        """Tokens of a message: content, tool call names and JSON arguments, plus overhead."""
        return self._message_tokens(message, self.count)

    @staticmethod
    def estimate_tokens(text: str) -> int:
        """An encoding-free guess of the tokens in ``text``."""
        return estimate_tokens(text)

    @staticmethod
    def estimate_message(message: Message | Mapping[str, Any]) -> int:
        """An encoding-free guess of ``count_message``."""
        return TokenCounter._message_tokens(message, estimate_tokens)

    @staticmethod
    def _message_tokens(message: Any, count: Any) -> int:
        total = MESSAGE_OVERHEAD + count(_field(message, "content") or "")
        for call in _field(message, "tool_calls") or ():
            name, arguments = _call_parts(call)
            total += TOOL_CALL_OVERHEAD + count(name) + count(arguments)
        if _field(message, "tool_call_id"):
            total += 1  # the id is sent with a tool result
        return total
