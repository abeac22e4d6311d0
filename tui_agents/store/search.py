"""Full-text search helpers: making user text safe for FTS5 MATCH, and the app-side best-match score.

User text never reaches MATCH as written. It is split into words and
``"quoted phrases"``; each becomes an FTS5 string (``"..."`` with ``"``
doubled), so punctuation, ``col:value``, ``NEAR/2`` or ``AND(`` are plain text;
a trailing ``*`` on a word keeps its prefix meaning; bare operators (``AND``,
``OR``, ``NOT``, ``NEAR``) are dropped; pieces without a letter or digit
(emoji, lone ``*``, quotes) are dropped; control characters become spaces. At
most ``MAX_TERMS`` terms of at most ``MAX_TERM_CHARS`` characters are kept.
Terms are ANDed. When nothing is left there is no query (no hits). With
``prefix_last`` (search as you type) the last bare word is a prefix: "que"
finds "question".

Best match: FTS5's ``bm25()`` reads every match of each term to get its
document frequency, which costs seconds for common words in a big history, so
``order="best"`` instead scores, in Python, the newest ``BEST_WINDOW`` matches
with BM25 (k1 1.2, b 0.75; term frequency counted with a regex on the
lower-cased text). With several terms, each term's document frequency is
estimated from its newest ``DF_SAMPLE`` matches (exact when it has fewer,
otherwise their density over the rowid range they span times the corpus size);
with one term it is not needed. Every step is bounded whatever the history size.
"""

from __future__ import annotations

import math
import re
import sqlite3
from dataclasses import dataclass

__all__ = ["Term", "parse_query", "match_expression", "BestScorer", "MAX_TERMS", "BEST_WINDOW"]

MAX_TERMS = 12
MAX_TERM_CHARS = 100
BEST_WINDOW = 300
DF_SAMPLE = 200
SNIPPET_TOKENS = 12

_PIECE = re.compile(r'"([^"]*)"(\*?)|([^\s"]+)')
_HAS_TOKEN = re.compile(r"[^\W_]")
_EDGE_PUNCT = re.compile(r"^[\W_]+|[\W_]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # FTS5's parser stops at NUL: no control characters
_OPERATORS = {"AND", "OR", "NOT", "NEAR"}
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Term:
    """One ANDed search term: a word or a phrase, optionally a prefix of its last word."""

    text: str
    prefix: bool = False

    def fts(self) -> str:
        """The term as an FTS5 string, e.g. ``"col:value"`` or ``"th"*``."""
        return '"' + self.text.replace('"', '""') + '"' + ("*" if self.prefix else "")

    def words(self) -> list[str]:
        """Lower-cased words, roughly as FTS5's unicode61 tokenizer splits them."""
        return [w.lower() for w in _WORD.findall(self.text)]


def _is_operator(core: str) -> bool:
    bare = _EDGE_PUNCT.sub("", core)
    return bare in _OPERATORS or (bare.startswith("NEAR") and core[4:5] in ("/", "("))


def parse_query(text: str | None, prefix_last: bool = False) -> list[Term]:
    """The safe terms of a user's search text (possibly none); ``prefix_last`` makes the last bare word a prefix."""
    terms: list[Term] = []
    last_bare = False
    for m in _PIECE.finditer(_CONTROL.sub(" ", text or "")):
        if len(terms) >= MAX_TERMS:
            break
        phrase, phrase_star, word = m.groups()
        if phrase is not None:
            body, prefix = phrase.strip(), bool(phrase_star)
        else:
            if _is_operator(word):
                continue
            prefix = word.endswith("*")
            body = word.strip("*")
        if len(body) > MAX_TERM_CHARS:
            # cut inside a word: what is left of that word is a prefix of it
            prefix = bool(_HAS_TOKEN.match(body[MAX_TERM_CHARS]))
            body = body[:MAX_TERM_CHARS]
        if not _HAS_TOKEN.search(body):
            continue
        # a prefix only makes sense right after a letter or digit ("foo.*" is just "foo")
        prefix = prefix and bool(_HAS_TOKEN.match(body[-1]))
        terms.append(Term(body, prefix))
        last_bare = phrase is None
    if prefix_last and terms and last_bare and _HAS_TOKEN.match(terms[-1].text[-1]):
        terms[-1] = Term(terms[-1].text, True)
    return terms


def match_expression(terms: list[Term]) -> str | None:
    """An FTS5 MATCH expression ANDing the terms, or None when there are none."""
    return " ".join(t.fts() for t in terms) or None


def _pattern(term: Term) -> re.Pattern[str]:
    """A regex for the term in lower-cased text; the literal comes first so ``re`` can scan for it fast."""
    words = [re.escape(w) for w in term.words()]
    tail = "" if term.prefix else r"(?![^\W_])"
    return re.compile(r"[\W_]+".join(words) + tail)


def _count(pattern: re.Pattern[str], text: str) -> int:
    """Matches of ``pattern`` in ``text`` that start a word."""
    return sum(1 for m in pattern.finditer(text) if m.start() == 0 or not text[m.start() - 1].isalnum())


class BestScorer:
    """BM25 over a bounded window of newest matches, computed by the app (see module docstring)."""

    def __init__(self, db: sqlite3.Connection, fts_table: str, terms: list[Term]) -> None:
        self.terms = terms
        self.patterns = [_pattern(t) for t in terms]
        max_row = db.execute(f"SELECT max(rowid) FROM {fts_table}").fetchone()[0] or 0
        self.n_docs = max(1, max_row)
        # with one term every candidate shares its idf: ranking needs none
        self.idf = [1.0] if len(terms) == 1 else [self._idf(db, fts_table, t) for t in terms]

    def _idf(self, db: sqlite3.Connection, fts_table: str, term: Term) -> float:
        count, lowest = db.execute(
            f"SELECT count(*), min(rowid) FROM (SELECT rowid FROM {fts_table} WHERE {fts_table} MATCH ? "
            f"ORDER BY rowid DESC LIMIT {DF_SAMPLE})", (term.fts(),)).fetchone()
        df = float(count)
        if count >= DF_SAMPLE and lowest is not None:
            df = count / max(1, self.n_docs - lowest + 1) * self.n_docs
        df = min(df, self.n_docs)
        return math.log((self.n_docs - df + 0.5) / (df + 0.5) + 1.0)

    def rank(self, docs: list[tuple[int, str]]) -> list[tuple[float, int]]:
        """(score, rowid) for each (rowid, text), best first."""
        if not docs:
            return []
        lowered = [(rowid, text.lower()) for rowid, text in docs]
        lengths = [text.count(" ") + 1 for _, text in lowered]
        avg = sum(lengths) / len(lengths)
        scored = []
        for (rowid, text), length in zip(lowered, lengths):
            norm = 1.2 * (0.25 + 0.75 * length / avg)
            score = 0.0
            for pattern, idf in zip(self.patterns, self.idf):
                tf = _count(pattern, text)
                score += idf * tf * 2.2 / (tf + norm)
            scored.append((score, rowid))
        scored.sort(key=lambda s: (-s[0], -s[1]))
        return scored
