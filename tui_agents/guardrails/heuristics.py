"""Cheap prompt-injection heuristics: pattern checks that need no model call.

``scan(text)`` returns one of three levels:

- ``injection``: a confident hit (e.g. "ignore all previous instructions",
  "reveal your system prompt", jailbreak markers such as "developer mode",
  chat-template tokens like ``<|im_start|>``, or text hidden in invisible
  Unicode tag characters). The judge is not asked.
- ``suspicious``: a weak signal ("you are now", "system prompt", "pretend to
  be", zero-width characters inside words, bidi controls). The judge decides.
- ``benign``: no signal at all.

Matching runs on a normalised copy of the text (NFKC, invisible characters
removed, case folded, whitespace collapsed), so "IGNORE  previous" and
"ig\u200bnore previous" are caught like "ignore previous".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

__all__ = ["HeuristicResult", "Level", "normalise", "scan"]

Level = Literal["injection", "suspicious", "benign"]

_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff\u180e\u00ad"
_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_INVISIBLE_RE = re.compile(f"[{_ZERO_WIDTH}{_BIDI}]")
_TAG_RE = re.compile("[\U000e0000-\U000e007f]+")
# A subdivision flag (e.g. England) is a black flag followed by tag characters ending in CANCEL TAG.
_FLAG_SEQUENCE_RE = re.compile("\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f")
# Only between Latin letters: ZWJ/ZWNJ are normal inside emoji and in Persian or Indic words.
_HIDDEN_IN_WORD_RE = re.compile(f"[A-Za-z0-9][{_ZERO_WIDTH}{_BIDI}]+[A-Za-z0-9]")

_STRONG: list[tuple[str, re.Pattern[str]]] = [
    (
        "asks to ignore or override earlier instructions",
        re.compile(
            r"\b(ignore|disregard|forget|override|bypass|drop|abandon)\b[^.!?\n]{0,40}?"
            r"\b(previous|prior|above|earlier|preceding|initial|original|system|developer|existing)\b"
            r"[^.!?\n]{0,25}?\b(instructions?|prompts?|rules|directions|directives|guidelines|constraints|programming)\b"
        ),
    ),
    (
        "asks to reveal the hidden instructions",
        re.compile(
            r"\b(reveal|show|print|repeat|output|display|leak|dump|share|recite|tell me|give me|what (is|are|was|were))\b"
            r"[^.!?\n]{0,30}?\b(system prompt|system message|initial prompt|original prompt|hidden (instructions|prompt)"
            r"|(initial|original|hidden|secret) instructions|instructions (you were|you have been) given)"
        ),
    ),
    (
        "uses a known jailbreak persona or mode",
        re.compile(
            r"\b(do anything now|dan mode|developer mode (enabled|on|activated)|jailbreak(ed|ing)? mode"
            r"|(you are|you're|act as) (now )?(a |an )?(jailbroken|unrestricted|unfiltered|uncensored)"
            r"|without any (restrictions|filters|limitations|guidelines)|no (ethical|moral) (guidelines|restrictions))\b"
        ),
    ),
    (
        "contains chat-template control tokens",
        re.compile(r"<\|(im_start|im_end|system|endoftext|start_header_id|eot_id)\|>|<<sys>>|\[/?inst\]"),
    ),
]

_WEAK: list[tuple[str, re.Pattern[str]]] = [
    ("mentions a new identity (\"you are now\")", re.compile(r"\byou are now\b|\bfrom now on,? you\b")),
    ("mentions the system prompt", re.compile(r"\bsystem (prompt|message)\b|\byour (instructions|rules)\b")),
    ("asks for role-play as another assistant", re.compile(r"\b(pretend (to be|you are)|act as if|roleplay as|role-play as)\b")),
    ("announces new instructions", re.compile(r"\b(new|updated|real|actual) instructions\b")),
    ("mentions jailbreaking", re.compile(r"\bjailbreak")),
]

# Matched line by line, so it needs the text before whitespace is collapsed.
_ROLE_LINE = ("imitates a system or developer message", re.compile(r"(?m)^\s*(#+\s*)?\[?(system|developer)\]?\s*:"))


@dataclass(frozen=True)
class HeuristicResult:
    """What the heuristics found: a level, a one-line reason and the signals behind it."""

    level: Level
    reason: str
    signals: tuple[str, ...] = ()


def normalise(text: str) -> str:
    """NFKC, invisible characters removed, hidden tag text revealed, case folded, whitespace collapsed."""
    text = _FLAG_SEQUENCE_RE.sub("", text)
    text = _TAG_RE.sub(lambda m: " " + _decode_tags(m.group()) + " ", text)
    text = _INVISIBLE_RE.sub("", unicodedata.normalize("NFKC", text))
    return " ".join(text.casefold().split())


def _decode_tags(run: str) -> str:
    return "".join(chr(ord(ch) - 0xE0000) for ch in run if 0xE0020 <= ord(ch) <= 0xE007E)


def scan(text: str) -> HeuristicResult:
    """Classify ``text`` with patterns only."""
    flat = normalise(text)
    strong = [reason for reason, pattern in _STRONG if pattern.search(flat)]
    hidden = _FLAG_SEQUENCE_RE.sub("", text)
    if any(_decode_tags(run).strip() for run in _TAG_RE.findall(hidden)):
        strong.append("hides text in invisible Unicode tag characters")
    if strong:
        return HeuristicResult("injection", _sentence("; ".join(strong)), tuple(strong))
    weak = [reason for reason, pattern in _WEAK if pattern.search(flat)]
    lines = _INVISIBLE_RE.sub("", unicodedata.normalize("NFKC", text)).casefold()
    if _ROLE_LINE[1].search(lines):
        weak.append(_ROLE_LINE[0])
    if _HIDDEN_IN_WORD_RE.search(text):
        weak.append("has invisible characters inside words")
    if any(ch in _BIDI for ch in text):
        weak.append("has bidirectional-text control characters")
    if weak:
        return HeuristicResult("suspicious", _sentence("possible injection: " + "; ".join(weak)), tuple(weak))
    return HeuristicResult("benign", "No prompt-injection markers found.")


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."
