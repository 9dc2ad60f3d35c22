"""Word handling shared by lexical search and answer composition."""

from __future__ import annotations

import re
import unicodedata

STOPWORDS = frozenset(
    "a an the and or but of to in on at by for with about from into over after before during as is are was were be been "
    "being do does did what which who whom whose when where why how that this these those it its he she they them his her "
    "their there here not no yes can could would should will shall may might must than then so such any all some more most "
    "other tell told say said ask asked i me my we our you your one two also between".split()
)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def fold(text: str) -> str:
    """Lower-case and strip diacritics: "Gomułka" -> "gomulka"."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.replace("ł", "l").replace("Ł", "L"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def _content_words(text: str):
    return (w for w in _WORD.findall(fold(text)) if w not in STOPWORDS and (len(w) > 1 or w.isdigit()))


def terms(text: str) -> list[str]:
    """Content words of a text, folded, stopwords removed, first occurrence order."""
    return list(dict.fromkeys(_content_words(text)))


# A five-letter prefix is a crude stem that needs no language data:
# "negotiations" ~ "negotiate", "Korean" ~ "Korea".
STEM = 5


def prefix_stems(text: str) -> frozenset[str]:
    """Every word's stem, stopwords kept: what the hybrid rerank matches on."""
    # Most catalogue text is ASCII, and folding it character by character
    # costs several times the rest of this function.
    return frozenset(w[:STEM] for w in _WORD.findall(text.lower() if text.isascii() else fold(text)))


def record_words(title: str, summary: str, notes: list[str]) -> frozenset[str]:
    """The stems of a record's searchable text; computed once at ingest and
    stored with the record (embeddings.store), because at ~40 µs a record
    computing them for a few hundred candidates per question would cost more
    than the rest of the second stage."""
    return prefix_stems(f"{title} {summary} {' '.join(notes)}")


def stems(text: str) -> set[str]:
    """The stems of ``terms(text)``, without keeping their order."""
    return {w[:STEM] for w in _content_words(text)}
