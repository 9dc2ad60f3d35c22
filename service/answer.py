"""Compose a cited answer from retrieved records, using only their own words.

The answer never says anything the records do not: each line is a date, a
title and the summary sentences most related to the question, followed by
the citation number of the record it came from. Lines run in date order.
"""

from __future__ import annotations

import re

from corpus.model import Record
from corpus.text import stems

BASIS = "Built from catalogue summaries, not the documents' full texts."

# Periods after these do not end a sentence ("N.V. Roshchin", "Lt. Gen.", "U.S.").
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "gen", "lt", "col", "maj", "capt", "adm", "sgt", "st", "no", "nos", "vol", "cf",
    "vs", "etc", "jr", "sr", "prof", "rev", "gov", "sen", "rep", "amb", "cde", "comr", "ca", "approx", "dept", "fig",
    "jan", "feb", "mar", "apr", "aug", "sept", "sep", "oct", "nov", "dec", "inc", "co", "corp", "u.s", "u.k", "u.n",
}


def split_sentences(text: str) -> list[str]:
    sentences: list[str] = []
    start = 0
    for match in re.finditer(r"[.!?][\"'”’)]*\s+(?=[\"“‘(\[]?[A-Z0-9])", text):
        before = text[start : match.start()].rsplit(None, 1)
        last_word = before[-1].lower().strip("(\"“") if before else ""
        if text[match.start()] == "." and (last_word in _ABBREVIATIONS or re.fullmatch(r"(?:[a-z]\.)*[a-z]", last_word)):
            continue
        sentences.append(text[start : match.end()].strip())
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def key_sentences(record: Record, wanted: set[str], limit: int = 2) -> str:
    """The summary sentences that share most of the question's stems ``wanted``, in their original order."""
    sentences = split_sentences(record.summary) or [record.title]
    # The first sentence of a catalogue abstract usually states what the document is; it wins ties.
    scored = sorted(range(len(sentences)), key=lambda i: (-len(stems(sentences[i]) & wanted), i))
    chosen = sorted(scored[:limit]) if len(sentences) > limit else list(range(len(sentences)))
    return " ".join(sentences[i] for i in chosen)


def chronological(records: list[Record]) -> list[Record]:
    """Date order by earliest possible date; undated records last, in relevance order."""
    dated = sorted((r for r in records if r.earliest), key=lambda r: (r.earliest, r.latest))
    return dated + [r for r in records if not r.earliest]


def compose(question: str, records: list[Record], caveats: list | None = None) -> str:
    """``records`` are already in citation order (number i+1 is records[i]);
    ``caveats`` are the answer's caveats (code, label, sources)."""
    if len(records) == 1:
        lines = ["From the most relevant record in the collection:"]
    else:
        lines = [f"From the {len(records)} most relevant records in the collection, in date order:"]
    wanted = stems(question)
    for n, record in enumerate(records, start=1):
        when = record.date or "Undated"
        lines.append(f"- {when}: {record.title}. {key_sentences(record, wanted)} [{n}]")
    if caveats:
        lines.append("Caveats — " + "; ".join(f"{c.label}: " + " ".join(f"[{n}]" for n in c.sources) for c in caveats))
    lines.append(BASIS)
    return "\n".join(lines)


def compose_abstention(question: str, searched) -> str:
    span = f" dated {searched.earliest[:4]}–{searched.latest[:4]}" if searched.earliest and searched.latest else ""
    scope = f"all {searched.records:,} records{span}"
    if searched.date_from or searched.date_to:
        scope += f", looking for records dated {searched.date_from or 'any time'} to {searched.date_to or 'any time'} (and the {searched.undated:,} undated ones)"
    return (
        f"The collection holds nothing relevant enough to answer this question. I searched {scope}.{_why(searched)} "
        "This means the answer is not in this collection, not that no such document exists."
    )


def _why(searched) -> str:
    """Which of the two tests failed (service.engine.answer_sources): the
    support of the best records, or the cosine floor for citing one."""
    if searched.support is not None and searched.min_support is not None and searched.support < searched.min_support:
        return (
            f" The best match scored {searched.support:.2f}, below the {searched.min_support:.2f} needed to answer"
            " (the score counts a record's similarity to the question, the question's words it contains,"
            " and whether its date fits the dates the question names)."
        )
    if searched.best_score is not None:
        return f" The closest record scored {searched.best_score:.2f}, below the relevance threshold of {searched.min_score:.2f} for citing it."
    return ""
