"""How a question is read before retrieval, and reported back to the user.

Three steps, each visible in the response's ``interpretation``:
1. a follow-up ("What did he answer?", "And in 1951?") is completed with the
   topic of the conversation's previous turn;
2. explicit dates become a date constraint (an explicit ``date_from``/``date_to``
   in the request wins over dates in the question, which win over dates
   carried over from the conversation);
3. names are expanded with their variants and code names from the alias table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import msgspec

from corpus.aliases import AliasTable
from corpus.text import terms
from service.dates_in_question import extract_date_constraint, strip_date_phrase

# Words that make a question lean on what came before.
_FOLLOW_UP_START = re.compile(r"^(?:and|but|also|so|then|what about|how about|what else)\b", re.I)
# A capitalised word after the first names its own subject ("What did Stalin say about his health?").
_NAME = re.compile(r"(?<=\s)[A-Z][\w'’.-]+")
_PRONOUN = re.compile(r"\b(?:he|she|they|him|her|them|his|hers|their|theirs|it|its|this|that|these|those|there|then)\b", re.I)
FOLLOW_UP_MAX_TERMS = 4
MAX_TOPIC_CHARS = 400


class AliasUse(msgspec.Struct, kw_only=True):
    name: str
    added: list[str]
    # The name as the question wrote it (normalised), so that retrieval can
    # count it and the names added as one word of the question.
    found: str = ""


class Interpretation(msgspec.Struct, kw_only=True):
    """What was actually searched, and why."""

    question: str
    query: str
    lexical_terms: list[str]
    topic: str  # the question, completed from the conversation, without its date words
    aliases: list[AliasUse] = msgspec.field(default_factory=list)
    date_from: str | None = None
    date_to: str | None = None
    date_source: str | None = None  # "request" | "question" | "conversation"
    date_phrase: str | None = None
    context: str | None = None  # the earlier question a follow-up was completed with


@dataclass
class PreviousTurn:
    """What a follow-up may inherit: the topic (question without its date words) and the dates."""

    topic: str
    date_from: str | None = None
    date_to: str | None = None
    question: str = ""
    extra: dict = field(default_factory=dict)


def is_follow_up(question: str) -> bool:
    content = terms(question)
    if len(content) > FOLLOW_UP_MAX_TERMS:
        return False
    if _FOLLOW_UP_START.match(question):
        return True
    if _NAME.search(question):
        return False
    # Pronoun-led questions ("What did he answer?") and fragments ("Mao's reply?") cannot stand alone.
    return bool(_PRONOUN.search(question)) or len(content) <= 2


def interpret(
    question: str,
    aliases: AliasTable | None,
    *,
    date_from: str | None = None,
    date_to: str | None = None,
    previous: PreviousTurn | None = None,
) -> Interpretation:
    constraint = extract_date_constraint(question)
    topic = strip_date_phrase(question, constraint)
    context = None
    query = question
    if previous is not None and is_follow_up(question):
        context = previous.question or previous.topic
        if terms(topic):
            query, topic = f"{question} ({previous.topic})", f"{topic} ({previous.topic})"[:MAX_TOPIC_CHARS]
        else:
            query = topic = previous.topic
    source = phrase = None
    if date_from or date_to:
        source = "request"
    elif constraint is not None:
        date_from, date_to, source, phrase = constraint.date_from, constraint.date_to, "question", constraint.phrase
    elif context is not None and (previous.date_from or previous.date_to):
        date_from, date_to, source = previous.date_from, previous.date_to, "conversation"
    uses: list[AliasUse] = []
    added: list[str] = []
    canonical: list[str] = []
    if aliases is not None:
        for found, person in aliases.mentions(query):
            extra = [n for n in aliases.expand(found) if n not in added]
            if extra:
                uses.append(AliasUse(name=person.name, added=extra, found=found))
                added += extra
            if person.name in extra and person.name not in canonical:
                canonical.append(person.name)
    # The sentence encoder gets the canonical name of a code name or variant
    # ("Filippov" -> "Stalin"); a list of every spelling would pull the
    # question's vector toward the names and away from what is asked. BM25
    # gets every variant: an extra spelling only adds matches.
    searched = query + (" (" + "; ".join(canonical) + ")" if canonical else "")
    return Interpretation(
        question=question,
        query=searched,
        lexical_terms=terms(query + " " + " ".join(added)),
        topic=topic,
        aliases=uses,
        date_from=date_from,
        date_to=date_to,
        date_source=source,
        date_phrase=phrase,
        context=context,
    )


def previous_from(interpretation: Interpretation) -> PreviousTurn:
    """What the next turn of the conversation may inherit from this one."""
    return PreviousTurn(
        topic=interpretation.topic,
        date_from=interpretation.date_from,
        date_to=interpretation.date_to,
        question=interpretation.question,
    )
