"""Full-text search helpers: making user text safe for FTS5 MATCH, and the app-side best-match score.

User text never reaches MATCH as written. It is split into words and
``"quoted phrases"``; each becomes an FTS5 string (``"..."`` with ``"``
doubled), so punctuation, ``col:value``, ``NEAR/2`` or ``AND(`` are plain text;
a trailing ``*`` on a word keeps its prefix meaning; bare operators (``AND``,
``OR``, ``NOT``, ``NEAR``) are dropped; pieces without a letter or digit
(emoji, lone ``*``, quotes) are dropped, control characters are spaces; at most ``MAX_TERMS`` terms of at most
``MAX_TERM_CHARS`` characters are kept. Terms are ANDed. Nothing left: no query.

Best match: FTS5's ``bm25()`` reads every match of each term to get its
document frequency, which costs seconds for common words in a big history, so
``order="best"`` instead scores, in Python, the newest ``BEST_WINDOW`` matches
with BM25 (k1 1.2, b 0.75). Each term's document frequency is estimated from its
newest ``DF_SAMPLE`` matches (exact when it has fewer; otherwise their density
in the rowid range they span, times the corpus size), so every step is bounded.
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
DF_SAMPLE = 1000
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


def parse_query(text: str | None) -> list[Term]:
    """The safe terms of a user's search text (possibly none)."""
    terms: list[Term] = []
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
    return terms


def match_expression(terms: list[Term]) -> str | None:
    """An FTS5 MATCH expression ANDing the terms, or None when there are none."""
    return " ".join(t.fts() for t in terms) or None


def _pattern(term: Term) -> re.Pattern[str]:
    words = [re.escape(w) for w in term.words()]
    tail = "" if term.prefix else r"(?![^\W_])"
    return re.compile(r"(?<![^\W_])" + r"[\W_]+".join(words) + tail, re.IGNORECASE)


class BestScorer:
    """BM25 over a bounded window of newest matches, computed by the app (see module docstring)."""

    def __init__(self, db: sqlite3.Connection, fts_table: str, terms: list[Term]) -> None:
        self.terms = terms
        self.patterns = [_pattern(t) for t in terms]
        max_row = db.execute(f"SELECT max(rowid) FROM {fts_table}").fetchone()[0] or 0
        self.n_docs = max(1, max_row)
        self.idf = [self._idf(db, fts_table, t) for t in terms]

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
        lengths = [max(1, len(text.split())) for _, text in docs]
        avg = sum(lengths) / len(lengths)
        scored = []
        for (rowid, text), length in zip(docs, lengths):
            norm = 1.2 * (0.25 + 0.75 * length / avg)
            score = 0.0
            for pattern, idf in zip(self.patterns, self.idf):
                tf = len(pattern.findall(text))
                score += idf * tf * 2.2 / (tf + norm)
            scored.append((score, rowid))
        scored.sort(key=lambda s: (-s[0], -s[1]))
        return scored
