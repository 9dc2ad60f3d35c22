"""Provenance and date caveats for a cited record.

Every caveat comes from one small rule in ``RULES`` at the end of this file:
a code, a badge label and a check that reads the record's fields and returns
a one-sentence explanation quoting its evidence, or None. To add a caveat,
write a check and add one ``Rule`` line; ``docs/caveats.md`` says how to
measure it (``python -m eval.caveats``).

Catalogue records are prose, so the checks are phrase patterns. They are
tuned on labelled records by phrasing, never by record: the same figures are
taken on records the rules have not seen.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import msgspec

from corpus.aliases import load_aliases
from corpus.dates import MONTHS
from corpus.model import Record
from corpus.evidence import find as _find
from corpus.evidence import parsed as _parsed
from corpus.evidence import quoted as _quoted
from corpus.evidence import snippet as _snippet
from corpus.evidence import texts as _texts
from corpus.text import fold


class Caveat(msgspec.Struct, frozen=True):
    code: str
    label: str
    explanation: str


@dataclass(frozen=True)
class Rule:
    code: str
    label: str
    check: Callable[[Record], str | None]
    meaning: str


# --- dates ------------------------------------------------------------------


def _month_only(record: Record) -> str | None:
    if _parsed(record).precision == "month":
        return f'The catalogue dates this record only to the month ("{record.date}"), so the day is unknown.'
    return None


def _year_only(record: Record) -> str | None:
    if (precision := _parsed(record).precision) in ("year", "decade"):
        span = "year" if precision == "year" else "decade"
        return f'The catalogue dates this record only to the {span} ("{record.date}"), so month and day are unknown.'
    return None


_UNDATED = re.compile(r"\bundated\b|\bnot dated\b|\bno date\b|\bdate unknown\b|\bwithout (a )?date\b", re.I)


def _undated(record: Record) -> str | None:
    if found := _find(record, _UNDATED):
        shown = f' and the date shown ("{record.date}") is inferred' if _parsed(record).earliest else ""
        return f"The document itself carries no date: {_quoted(*found)}{shown}."
    if _parsed(record).undated:
        printed = f' ("{record.date}")' if record.date else ""
        return f"The catalogue gives no date for this record{printed}, so any date shown is inferred."
    return None


_APPROX = re.compile(
    r"(?i)\b(?:probably|possibly|likely|presumably|approximately|roughly) (?:dated|written|from|drafted)\b"
    r"|\b(?:circa|approx\.)\s*\d{4}|\bc\.\s?\d{4}|\[\d{4}\?\]|\b\d{4}\?(?!\w)"
    r"|\bdate (?:is )?(?:uncertain|approximate|unclear|estimated)\b|\bexact date\b")


def _approximate(record: Record) -> str | None:
    parsed = _parsed(record)
    if parsed.approximate:
        return f'The catalogue date "{record.date}" is marked as approximate.'
    if parsed.precision == "range":
        return f'The catalogue gives a span ("{record.date}") rather than one date.'
    if found := _find(record, _APPROX):
        return f"The date is an estimate: {_quoted(*found)}."
    return None


_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_WEEKDAY = r"(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day|montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag),?\s+"
_DAY_MONTH = rf"(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<m1>{_MONTH})\.?,?\s+(?P<y1>\d{{4}})"
_MONTH_DAY = rf"(?P<m2>{_MONTH})\.?\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y2>\d{{4}})"
_FULL_DATE = re.compile(rf"\b(?:{_DAY_MONTH}|{_MONTH_DAY})\b", re.I)
# A date counts as the date of the event the title names only after "on" or
# "for" or a comma; dates of conveyed papers ("transmitting the 3 May 1951 telegram")
# and of quoted or bracketed titles do not.
_TITLE_EVENT = re.compile(
    rf"(?:\b(?:on|for)\s+(?:the\s+night\s+of\s+)?|,\s*)(?:{_WEEKDAY})?(?P<date>{_FULL_DATE.pattern})", re.I
)
_OPEN_QUOTE = re.compile(r"(?:^|[\s,(\[])['‘“\"][^'’”\"]*$")


def _enclosed(text: str, position: int) -> bool:
    before = text[:position]
    return before.count("[") > before.count("]") or before.count("(") > before.count(")") or bool(_OPEN_QUOTE.search(before))


_TITLE_RANGE = re.compile(rf"\b\d{{1,2}}\s*(?:[-–]|and|to)\s*{_FULL_DATE.pattern}|{_MONTH_DAY.replace('(?P<', '(?P<r')}\s*[-–]", re.I)
_SUMMARY_EVENT = re.compile(
    rf"(?i)\b(?:discuss(?:es|ed)?|review(?:s|ed)?|meets?|met|talk(?:s|ed)?|confer(?:s|red)?|convene[sd]?)\s+on\s+"
    rf"(?:{_WEEKDAY})?(?P<m>{_MONTH})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<y>\d{{4}}))?\b")
# Titles of papers written after the event they name (reports, cables about a
# talk) may postdate it; minutes and records of conversation carry its date.
_LATER_PAPER = re.compile(
    r"(?i)\b(?:reports?|cable|telegram|letter|information|summary|account|review|airgram|dispatch|annex|"
    r"enclos\w*|transmitt\w*|convey\w*|forward\w*)\b"
    r"|\b(?:about|regarding|concerning|on)\s+(?:his|her|their|the)\s+(?:meeting|conversation|talks?|visit)\b")
# Papers written before talks (plans, instructions, requests) name meetings still to come.
_PLANNED = re.compile(
    r"(?i)\b(?:plans?|planned|preparations?|instructions?|agenda|programme|program|proposals?|upcoming|forthcoming|"
    r"invitation|request(?:s|ing)?|notice|briefing|talking\s+points|directives?|guidance)\b")


def _as_date(match: re.Match[str], default_year: int | None = None) -> date | None:
    g = {k[0]: v for k, v in match.groupdict().items() if v and k[0] in "dmy"}
    try:
        return date(int(g.get("y") or default_year), MONTHS[g["m"].lower().rstrip(".")], int(g["d"]))
    except (TypeError, ValueError, KeyError):
        return None


def _date_conflict(record: Record) -> str | None:
    parsed, title = _parsed(record), record.title
    if parsed.precision != "day" or not parsed.earliest:
        return None
    catalogue = date.fromisoformat(parsed.earliest)
    said = f"The catalogue dates this record {catalogue:%B} {catalogue.day}, {catalogue.year}, but its"
    # A title date that agrees with the catalogue settles it: the others are of
    # enclosures or of earlier talks ("on 26 and 27 January").
    if any(_as_date(m) == catalogue for m in _FULL_DATE.finditer(title)) or _TITLE_RANGE.search(title):
        return None
    event = next((m for m in _TITLE_EVENT.finditer(title) if not _enclosed(title, m.start("date"))), None)
    if event is not None:
        named = _as_date(_FULL_DATE.search(event.group("date")))
        if named is None or named == catalogue:
            return None
        if named < catalogue and _LATER_PAPER.search(title, 0, event.start()):
            return None  # a report or cable about the talk, written after it
        if named > catalogue and _PLANNED.search(title):
            return None  # plans for a meeting still to come
        return f"{said} title says {event.group('date')}."
    if not _MEETING_TITLE.search(title) or _LATER_PAPER.search(title):
        return None
    # In a summary most dates are of past events; only the meeting the record
    # itself minutes ("the delegates meet on May 4 ...") can contradict it.
    for match in _SUMMARY_EVENT.finditer(record.summary):
        if (named := _as_date(match, default_year=catalogue.year)) is not None and named != catalogue:
            return f'{said} summary says the meeting took place on {match["m"]} {match["d"]} ("{_snippet(record.summary, match, 30)}").'
    return None


# --- provenance -------------------------------------------------------------

_DISPUTED = re.compile(
    r"(?i)\bpurported(?:ly)?\s+(?:[\w-]+\s+){0,2}?(?:speech|letter|document|memo\w*|record|text|diary|report|minutes|"
    r"transcript|telegram|cable|note|statement|order|directive|written|authored|by|from|signed|to\s+be)\b"
    r"|\bforger(?:y|ies)\b|\bforged\b|\bapocryphal\b|\bspurious\b|\bnot\s+(?:been\s+)?authenticated\b"
    r"|\b(?:question(?:s|ed|ing)?|doubt(?:s|ed|ing)?|disput(?:es|ed|ing)|contest(?:s|ed|ing)?|challeng(?:es|ed|ing))\s+"
    r"(?:the\s+|its\s+)?(?:validity|authenticity|genuineness|veracity|authorship)\b"
    r"|\b(?:validity|authenticity|genuineness|authorship)\s+(?:of\s+(?:the|this)\s+\w+\s+)?(?:is|was|has\s+been|remains)\s+"
    r"(?:questioned|disputed|doubtful|uncertain|unclear|contested|unconfirmed|unverified|in\s+(?:doubt|question|dispute))\b"
    r"|\b(?:disputed|uncertain|contested|doubtful)\s+authorship\b"
    r"|\bof\s+(?:questionable|doubtful|uncertain|disputed)\s+(?:authenticity|validity|origin|provenance)\b"
    r"|\bmay\s+(?:not\s+be\s+(?:genuine|authentic)|be\s+a\s+(?:forgery|fake|fabrication))\b")


def _disputed(record: Record) -> str | None:
    if found := _find(record, _DISPUTED):
        return f"The document's authenticity is in doubt: {_quoted(*found)}."
    return None


_VERBATIM = re.compile(
    r"(?i)\btranscri(?:pt|ption)s?\b|\bstenographic\b|\bverbatim\b|\baudio\b|\brecordings?\b|\btapes?\b"
    r"|^(?:oral\s+history\s+)?interview\b|\boral\s+history\b|\bprotocol\s+(?:no\b|nº|n°|#|\d)")
_INTERNAL = re.compile(
    r"(?i)\b(?:meeting|meets|discuss\w*)\s+(?:between|with)?\s*(?:[\w.'’-]+\s+){0,4}?(?:and\s+)?(?:his|her|its|their|various|top|senior)?\s*"
    r"(?:own\s+)?(?:\w+\s+)?(?:cabinet|ministers|commanders|advis[eo]rs|aides|staff|general\s+command)\b"
    r"|\b(?:cabinet|staff)\s+meetings?\b")
_W = r"[\w.'’-]+\s+"  # one word of a name or phrase, apostrophes and initials included
_MEETING_TITLE = re.compile(
    r"(?i)\bmemorand(?:um|a)\s+(?:of|on|about)\s+(?:a\s+|the\s+)?(?:\w+\s+)?(?:conversations?|discussions?)\b"
    rf"|\brecords?\s+(?:of|from)\s+(?:{_W}){{0,5}}?(?:conversations?|talks?|meetings?|discussions?|negotiations?|reception|contacts?)\b"
    r"|\bconversation\s+records?\b|^conversations?\b|\baudiences?\s+(?:with|of|for)\b"
    r"|\bminutes\b(?!\s+(?:no|nº|n°|#|\d))"
    rf"|\bnotes?\s+(?:of|from|on|about|taken\s+during|kept\s+by)\s+(?:{_W}){{0,5}}?(?:conversations?|talks?|meetings?|session|discussions?|visit|reception)\b"
    r"|\b(?:journal|diary)\s+of\b"
    r"|\b(?:conversations?|talks?|meetings?|consultations?|discussions?)\s+(?:between|with)\b"
    rf"|\b(?:conversations?|meetings?)\s+of\s+(?:{_W}){{1,8}}?with\b"
    r"|^(?:the\s+)?[A-Z]\w+-[A-Z]\w+\s+talks\b"
    rf"|\b(?:report|summary|account|information|notes?)\s+(?:on|of|about|regarding)\s+(?:{_W}){{0,6}}?(?:talks?|conversations?|meetings?|reception)\b"
    rf"|\b(?:report|summary|account|information|notes?|memorandum)\s+(?:on|of|about|regarding)\s+(?:{_W}){{0,6}}?(?:visit|stay|trip)\b(?=.*\bdelegation\b)"
    r"|\bmeetings?\s+of\s+(?:the\s+|a\s+)?(?:\w+\s+){0,2}delegations?\b"
    r"|\breception\s+(?:by|of|for)\b|\breceives\b"
    r"|\b(?:officials|leaders|delegations|representatives|diplomats)\s+(?:discuss|meet|confer|talk)\b"
    r"|(?-i:\bMeets?\s+(?:with\s+)?[A-Z])")
_ACCOUNT_SUMMARY = re.compile(
    r"(?i)\b(?:reports?|recounts?|summari[sz](?:es|ing|e)|describes?|tells?\s+(?:\w+\s+)?(?:of|about)|"
    r"informs?\s+(?:\w+\s+){0,3}?(?:of|about))\s+(?:on\s+|about\s+)?(?:his|her|their|our)\s+(?:own\s+)?(?:\w+\s+)?"
    r"(?:meetings?|conversations?|talks?|discussions?|negotiations?|visit|trip)\b"
    r"|\breports?\b[^.]{0,60}?\bon\s+(?:his|her|their)\s+(?:own\s+)?(?:meetings?|conversations?|talks?|discussions?)\s+with\b"
    r"|\breports?\s+on\s+(?:(?:a|the|their)\s+)?(?:\w+\s+)?(?:meetings?|conversations?|talks?|discussions?)\s+(?:with|between)\b"
    r"|^(?:an?\s+|the\s+)?(?:\w+\s+)?(?:conversation|meeting|discussion|talks)\s+between\b"
    r"|\b(?:records?|minutes|notes)\s+(?:of|on|from)\s+(?:a\s+|the\s+)?(?:\w+\s+)?(?:meetings?|conversations?|talks|discussions?)\b[^.]{0,40}?\b(?:with|between)\b"
    r"|\b(?:results?|outcome)\s+of\s+(?:the\s+|a\s+|their\s+|his\s+)?(?:[\w'’-]+\s+){0,3}?(?:negotiations?|talks|meetings?|visit|conversations?)\b"
    r"|\bdiscuss(?:ion|es)?\s+(?:of\s+)?(?:the\s+)?conversations?\s+between\b"
    r"|\bbetween\s+(?:himself|herself|myself)\s+and\b")
# A full stop that starts an ordinary sentence, not one after initials ("A. I. Ivanov").
_SENTENCE_END = re.compile(r"[.!?]\s+[A-Z][a-z]+\s+[a-z]")
_RECORDING = re.compile(r"\baudio\b|\brecordings?\b|\bverbatim\b", re.I)


def _unrelayed(record: Record, pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    """The first match not inside a phrase relaying others' talks ("regarding the
    Deputy Premier's conversations with ..."): from where such a phrase starts to
    the end of its sentence, the talks are secondhand, not the author's own."""
    relayed = [m.start() for m in _relays(record, text)]
    for match in pattern.finditer(text):
        if not any(start < match.end() and not _SENTENCE_END.search(text, start, match.start()) for start in relayed):
            return match
    return None


_SENDER_ROLE = re.compile(r"\b(?:ambassador|delegate|representative|envoy|charg[ée](?:\s+d['’]affaires)?|minister|consul|attach[ée])$", re.I)
_SENDER_START = re.compile(r"^(?:[\w\s.-]*?\b(?:telegram|cable|report|letter|memorandum|note|message|dispatch)\b[^,]*?(?:,\s*|\bfrom\s+)|from\s+)", re.I)
_NAME = re.compile(r"(?-i:\b[A-Z][\w’'-]{2,}\b)")
_COMMON = frozenset(
    "The Soviet Chinese Polish Hungarian German French British American Embassy Ministry Foreign Affairs United Nations "
    "Delegation Ambassador Minister Chairman President Premier Comrade Secretary General Central Committee Party "
    "Council Government State Department Office Telegram Cable Report Letter Note Beijing Moscow Washington".split()
)


def _sender_names(title: str) -> list[str]:
    """Name words of whoever sent a telegram, cable or report ("Report, Li Ming to ...")."""
    if (start := _SENDER_START.search(title)) is None:
        return []
    sender = ""
    for part in re.split(r"\s+to\s+", title[start.end():]):
        sender = f"{sender} to {part}" if sender else part
        if not _SENDER_ROLE.search(sender):  # "Ambassador to China X" names X, not China
            break
    return [w for w in _NAME.findall(re.split(r"[,(\[:]", sender)[0]) if w not in _COMMON]


_TAKES_PART = (
    r"(?:,[^,.]{0,40},)?\s+(?:(?:and|,)\s+(?:[\w.’'-]+\s+){1,4}?)*"
    r"(?:meets?|met|talks?\s+with|speaks?\s+with|spoke\s+with|discuss(?:es|ed)?\s+with|confers?\s+with|negotiates?\s+with|"
    r"tr(?:y|ies|ied)\s+to\s+persuade|persuades?|holds?\s+talks|"
    r"reports?\s+(?:mainly\s+)?on\s+the\s+(?:\w+\s+){0,2}(?:session|meeting|conference|talks|negotiations)|"
    r"relays?\s+the\s+(?:events|proceedings|discussions?)\s+of)\b"
)


@functools.lru_cache(maxsize=4096)
def _takes_part(name: str) -> re.Pattern[str]:
    # Compiling the pattern costs ~1 ms, far more than searching with it, and
    # the same senders recur across a collection.
    return re.compile(rf"\b{re.escape(name)}\b{_TAKES_PART}")


def _one_sided(record: Record) -> str | None:
    title = record.title
    if _VERBATIM.search(title) or _RECORDING.search(record.summary):
        return None
    match = _unrelayed(record, _MEETING_TITLE, title)
    planned = _PLANNED.search(title)
    if match and not (planned and planned.start() < match.start()) and not _INTERNAL.search(title):
        return f'The title "{_snippet(title, match, 30)}" marks a record kept by one participant, so it reports what its author chose to record.'
    match = _unrelayed(record, _ACCOUNT_SUMMARY, record.summary)
    for name in _sender_names(title) if match is None else ():
        if name in record.summary and (match := _takes_part(name).search(record.summary)):
            break
    if match:
        return f'This is one participant\'s account of the talks: the summary says "{_snippet(record.summary, match)}".'
    return None


_SECONDHAND = re.compile(
    r"(?i)\brelay(?:s|ed|ing)?\s+(?:\w+\s+){0,3}?(?:requests?|messages?|information|views?|accounts?|positions?|reports?|"
    r"remarks|statements?|news|proposals?|opinions?)\s+(?:from|of|by)\b"
    r"|\bas\s+(?:[\w.'’-]+\s+){0,10}?relayed\s+it\b"
    r"|\bconveyed\s+(?:to\s+\w+\s+)?(?:via|through)\b"
    r"|\b(?:on\s+the\s+basis\s+of|according\s+to)\s+(?:\w+\s+){0,2}?(?:sources?|informants?|intelligence|hearsay|rumou?rs)\b"
    r"|\b(?:unofficial|confidential|reliable|secret)\s+sources?\b|\binformants?\b|\bhearsay\b|\bsecond-?hand\b"
    r"|\b(?:passes\s+on|shares|forwards|transmits|encloses|sends)\s+(?:[\w,;'’-]+\s+){0,10}?records?\s+of\s+(?:a\s+|the\s+)?conversations?\b"
    r"|\bdescrib\w+\s+the\s+speech\s+(?:given|delivered|made)\s+by\b"
    r"|\bfor\s+the\s+information\s+of\b"
    r"|\bsummari[sz]\w*\s+(?:the\s+)?(?:responses|reactions|views|positions|attitudes)\s+(?:of|from|to)\b"
    r"|\breports?\s+on\s+(?:[\w-]+\s+){0,3}?(?:attempts|efforts)\s+to\s+(?:meet|negotiate|contact)\b"
    r"|\b(?:officials|diplomats|circles|observers)\s+(?:from|of|in)\s+(?-i:[A-Z]\w+(?:\s+and\s+[A-Z]\w+)?)\s+(?:are|were|believe|think|consider|say)\b"
    r"|(?-i:\b(?:tells|told|informs|informed)\s+(?:[A-Z][\w.'’-]*\s+){1,3}that\s+(?:[A-Z][\w'’-]+\s+){1,3}"
    r"(?:is|was|has|had|does|did|believes?|thinks?|wants?|intends?|agreed|agrees|claims?)\b)")
# A paper about someone's talks ("Report on the Envoy's Conversations in Paris")
# relays them, unless that someone sent it.
_ABOUT_TALKS = re.compile(
    r"(?i)\b(?:regarding|concerning|about|(?<!based\s)on)\s+(?:of\s+)?(?:the\s+)?(?P<who>(?-i:(?:[A-Z][\w.-]*\s+){0,3}[A-Z][\w.-]*))['’]s\s+"
    r"(?:conversations?|talks)\b")
# Counter-intelligence briefs on what foreign services are doing rest on agents' reports.
_INTELLIGENCE_BRIEF = re.compile(r"^information\s+(?:from\s+(?:[\w-]+\s+){1,4})?(?:on|about)\s+(?:[\w-]+\s+){0,4}intelligence\b", re.I)
_INFORMATION_FROM = re.compile(r"^information\s+(?:from|by)\b.*\bto\b", re.I)
_OTHERS_TALKS = re.compile(r"\bdelegation|\bvisit|\btalks\b|\bconversations?\b|\bstatements?\b", re.I)


def _relays(record: Record, text: str) -> list[re.Match[str]]:
    return list(_relays_in(record.title, text))


@functools.lru_cache(maxsize=256)
def _relays_in(title: str, text: str) -> tuple[re.Match[str], ...]:
    # The rules ask this of the same title and text several times per record.
    senders = set(_sender_names(title))
    about = [m for m in _ABOUT_TALKS.finditer(text) if not set(m["who"].split()) & senders]
    return tuple(sorted([*_SECONDHAND.finditer(text), *about], key=lambda m: m.start()))


def _secondhand(record: Record) -> str | None:
    for field, text in _texts(record):
        if relays := _relays(record, text):
            return f"The record passes on what others said or did: {_quoted(field, text, relays[0])}."
    if found := _find(record, _INTELLIGENCE_BRIEF, ("title",)):
        return f"The record passes on what others said or did: {_quoted(*found)}."
    if (briefing := _INFORMATION_FROM.search(record.title)) and (topic := _OTHERS_TALKS.search(record.summary)):
        return (f'The title "{briefing.group(0)}" marks a briefing passed on to a third party about others\' talks '
                f'(the summary mentions a "{topic.group(0)}").')
    return None


_CODE_PHRASE = re.compile(
    r"(?i)\bcode[\s-]?names?d?\b|\bcodenamed\b|\bpseudonyms?\b|\bcover\s+names?\b|\bnom\s+de\s+guerre\b|\bunder\s+the\s+(?:alias|name)\b")


def _code_name(record: Record) -> str | None:
    aliases = load_aliases()
    for field, text in _texts(record):
        for code, person in aliases.code_names_in(text):
            return f'The {field} names a participant by the code name "{code}", which stands for {person.name}.'
    if found := _find(record, _CODE_PHRASE):
        return f"A participant appears under a code name: {_quoted(*found)}."
    return None


_DRAFT = re.compile(
    r"(?i)(?<!the\s)(?<!of\s)(?<!on\s)(?<!over\s)(?<!study\s)\bdrafts?\b(?!\s+(?:on|of\s+the\s+npt|npt|non-?proliferation)\b)"
    r"|\bwith\s+(?:a\s+|the\s+)?drafts?\b")
_DRAFT_SUMMARY = re.compile(
    r"(?i)(?:^|[.!?]\s+)[\[(]?(?:(?:probable|this|a|second|third|first|final|revised|unsigned|proposed)\s+)*drafts?\b"
    r"|\b(?:approv\w*|adopt\w*|submit\w*|sends?|sent|enclos\w*|attach\w*|forward\w*|transmit\w*)\s+"
    r"(?:the\s+|a\s+|his\s+|its\s+|their\s+)?(?:attached\s+|enclosed\s+|proposed\s+)?drafts?\b")
_UNSENT = re.compile(
    r"(?i)\bfinal\s+version\b|\bunsent\b|\b(?:never|not)\s+(?:been\s+)?sent\b|\b(?:was\s+)?never\s+delivered\b|\bundelivered\b"
    r"|\bto\s+be\s+(?:presented|delivered|read\s+out)\b"
    r"|\bnotes\s+for\s+(?:a|the|his|her)\s+speech\b|\bspeaking\s+notes\b|\brevisions?\s+(?:for|of|to)\s+(?:a|the)\s+speech\b")


def _draft(record: Record) -> str | None:
    found = _find(record, _UNSENT) or _find(record, _DRAFT, ("title",)) or _find(record, _DRAFT_SUMMARY, ("summary",))
    if found:
        return f"The text may differ from what was finally sent or delivered: {_quoted(*found)}."
    return None


_TRANSLATION = re.compile(r"\btranslat(?:ion|ions|ed|ing)\b", re.I)


def _translation(record: Record) -> str | None:
    if record.translation:
        return f'The record is a translation ("{record.translation[:80]}").'
    if fold(record.language).strip() not in ("", "en", "eng", "english"):
        return f"The original is in {record.language}, while the summary is in English."
    if found := _find(record, _TRANSLATION):
        return f"The text is a translation: {_quoted(*found)}."
    return None


_EXCERPT = re.compile(
    r"(?i)\bexc?erpts?\b|\bextracts?\b|\bfragments?\b|\babridged\b|\bpartial\s+(?:text|transcript|translation|record|copy)\b"
    r"|\b(?:a|this)\s+portion\s+of\b|\bselections?\s+from\b"
    r"|^part\s+of\b|\bpart\s+of\s+(?:a|the)\s+(?:conversation|speech|letter|report|document|text|record|diary)\b")
_EXCERPT_SUMMARY = re.compile(
    r"(?i)\bexc?erpts?\b|\bextracts?\s+(?:of|from)\b|\b(?:a|this)\s+portion\s+of\b|\bpartial\s+(?:text|transcript|translation|record|copy)\b"
    r"|\babridged\b")
_INCLUDES = re.compile(r"\b(?:includes?|including|contains?|quotes?)\s+(?:an?\s+)?$", re.I)


def _excerpt(record: Record) -> str | None:
    found = _find(record, _EXCERPT, ("title",))
    if found is None and (found := _find(record, _EXCERPT_SUMMARY, ("summary", "notes"))):
        # "The bulletin includes an extract from a study": part of the record is an excerpt, not the record.
        if _INCLUDES.search(found[1], 0, found[2].start()):
            found = None
    if found:
        return f"Only part of the document is given: {_quoted(*found)}."
    return None


# --- the rule table: one line per caveat, in the order badges are shown --------

RULES: list[Rule] = [
    Rule("date_month_only", "Month only", _month_only, "The date is known only to the month."),
    Rule("date_year_only", "Year only", _year_only, "The date is known only to the year or decade."),
    Rule("date_undated", "Undated", _undated, "The document has no date; any date shown is inferred."),
    Rule("date_approximate", "Approximate date", _approximate, "The date is marked approximate, or is a range."),
    Rule("date_conflict", "Date conflict", _date_conflict, "A date in the title or summary contradicts the catalogue date."),
    Rule("authenticity_disputed", "Disputed authenticity", _disputed, "The document is said to be purported, forged or of disputed authorship."),
    Rule("one_sided_account", "One side's record", _one_sided, "A record of talks written by one participant."),
    Rule("secondhand_report", "Secondhand report", _secondhand, "The author reports talks or events they did not take part in."),
    Rule("code_name", "Code name", _code_name, "A participant appears under a code name or pseudonym."),
    Rule("draft_or_unsent", "Draft or unsent", _draft, "A draft, a marked version, or notes rather than the text delivered."),
    Rule("translation", "Translation", _translation, "The text is a translation."),
    Rule("excerpt", "Excerpt", _excerpt, "Only part of the document is given."),
]

CODES: tuple[str, ...] = tuple(rule.code for rule in RULES)
RULES_BY_CODE: dict[str, Rule] = {rule.code: rule for rule in RULES}


def caveats_for(record: Record) -> list[Caveat]:
    """The caveats that apply to a record, in table order."""
    return list(_caveats_of(msgspec.json.encode(record)))


_decode_record = msgspec.json.Decoder(Record).decode


# The rules cost ~1 ms a record (the talk and report patterns are long) and
# every answer runs them on each source; the same records come back often.
# Keyed by the record's full encoding, so a changed record is checked anew.
@functools.lru_cache(maxsize=8192)
def _caveats_of(encoded: bytes) -> tuple[Caveat, ...]:
    record = _decode_record(encoded)
    return tuple(Caveat(rule.code, rule.label, why) for rule in RULES if (why := rule.check(record)))
