"""Name variants and code names, read from ``corpus/aliases.toml``.

Retrieval uses the table to expand a question ("What did Filippov tell Mao?"
also searches "Stalin" and "Mao Zedong"); the ``code_name`` caveat uses it to
say who a pseudonym stands for. The table is data, edited by historians, so
it lives in one TOML file and this module only reads and indexes it.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache
from pathlib import Path

from corpus.text import fold

DEFAULT_PATH = Path(__file__).with_name("aliases.toml")


class AliasError(ValueError):
    """The alias file is malformed; the message names the entry."""


@dataclass(frozen=True)
class Person:
    name: str
    variants: tuple[str, ...] = ()
    code_names: tuple[str, ...] = ()
    glossed_code_names: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """Every name that identifies this person on its own, canonical first."""
        return (self.name, *self.variants, *self.code_names)


def normalize(text: str) -> str:
    """Fold case and diacritics and the ways catalogues space names.

    "Kim Il-sung" / "Kim Il Sung" and "I.V. Stalin" / "I. V. Stalin" become
    the same string, so the table need not list such pairs.
    """
    text = fold(text).replace("’", "'").replace("‘", "'")
    text = re.sub(r"[-‐‑–]", " ", text)
    text = text.replace(".", ". ")
    return " ".join(text.split())


# Up to three capitalised words glossed by a bracketed name: "Filippov [Stalin]", "Feng Xi (Stalin)".
_GLOSS = re.compile(r"(?P<code>(?:[A-Z][\w'’-]*\s+){0,2}[A-Z][\w'’-]+?)(?:['’]s)?\s+[\[(](?P<real>[^\[\]()]{2,40})[\])]")


# Whole names only: not "Mao" in "Maoist", but "Gomułka" in "Gomułka's".
_BEFORE, _AFTER = r"(?<![\w'])", r"(?!\w|'(?!s\b))"


def _pattern(names: list[str]) -> re.Pattern[str] | None:
    if not names:
        return None
    # Longest first, so "Chiang Ching-kuo" wins over "Chiang" at the same place.
    ordered = sorted(set(names), key=len, reverse=True)
    return re.compile(_BEFORE + "(?:" + "|".join(re.escape(n) for n in ordered) + ")" + _AFTER)


class AliasTable:
    def __init__(self, people: list[Person]) -> None:
        self.people = list(people)
        self._by_name: dict[str, Person] = {}
        self._glossed: dict[str, Person] = {}
        for person in self.people:
            for name in person.names:
                self._claim(self._by_name, name, person)
        for person in self.people:
            for name in person.glossed_code_names:
                if normalize(name) in self._by_name:
                    raise AliasError(f"{name!r} is listed both as a name and as a glossed code name")
                self._claim(self._glossed, name, person)
        self._names_re = _pattern(list(self._by_name))
        self._glossed_re = _pattern(list(self._glossed))

    @staticmethod
    def _claim(index: dict[str, Person], name: str, person: Person) -> None:
        key = normalize(name)
        other = index.get(key)
        if other is not None and other is not person:
            raise AliasError(f"{name!r} is listed for both {other.name!r} and {person.name!r}")
        index[key] = person

    def person(self, name: str, *, glossed: bool = False) -> Person | None:
        """The person a name identifies; with ``glossed``, cover names that
        are also ordinary names count too (use only when the record glosses them)."""
        key = normalize(name)
        found = self._by_name.get(key)
        if found is None and glossed:
            found = self._glossed.get(key)
        return found

    def canonical(self, name: str) -> str:
        """"Mao Tse-tung" -> "Mao Zedong"; an unknown name comes back unchanged."""
        found = self.person(name)
        return found.name if found else name.strip()

    def variants(self, name: str) -> set[str]:
        """All names of the person, the given one included; just the name if unknown."""
        found = self.person(name)
        return set(found.names) if found else {name.strip()}

    def code_names(self, *, include_glossed: bool = False) -> list[tuple[str, str]]:
        """(code name, real name) pairs, in table order."""
        pairs = [(code, p.name) for p in self.people for code in p.code_names]
        if include_glossed:
            pairs += [(code, p.name) for p in self.people for code in p.glossed_code_names]
        return pairs

    def is_code_name(self, name: str, *, glossed: bool = False) -> bool:
        key = normalize(name)
        person = self.person(name, glossed=glossed)
        if person is None:
            return False
        codes = person.code_names + (person.glossed_code_names if glossed else ())
        return any(normalize(c) == key for c in codes)

    def code_names_in(self, text: str) -> list[tuple[str, Person]]:
        """Code names a text uses, each with the person it stands for.

        A cover name glossed with a real name counts ("Kuznetsov [Stalin]"),
        even misspelt ("Flippov [Stalin]"); so does a code name that is not
        also an ordinary name, on its own ("Filippov"). Other glossed names
        are spelling variants ("Jiang Jieshi [Chiang Kai-shek]"), not code names.
        """
        found: dict[str, tuple[str, Person]] = {}
        for match in _GLOSS.finditer(text):
            person = self.person(match.group("real").strip())
            code = person and self._cover_name(match.group("code").split(), person)
            if code:
                found.setdefault(normalize(code), (code, person))
        for key, person in self.mentions(text):
            if self.is_code_name(key):
                found.setdefault(key, (next(c for c in person.code_names if normalize(c) == key), person))
        return list(found.values())

    @staticmethod
    def _cover_name(words: list[str], person: Person) -> str | None:
        codes = [normalize(c) for c in (*person.code_names, *person.glossed_code_names)]
        for start in range(len(words)):
            candidate = " ".join(words[start:])
            key = normalize(candidate)
            if key in codes or any(SequenceMatcher(None, key, code).ratio() >= 0.85 for code in codes):
                return candidate
        return None

    def mentions(self, text: str) -> list[tuple[str, Person]]:
        """(name as found, normalized; person) for each name in the text, in order."""
        if self._names_re is None:
            return []
        return [(m.group(0), self._by_name[m.group(0)]) for m in self._names_re.finditer(normalize(text))]

    def expand(self, text: str) -> list[str]:
        """Extra search terms: the other names of everyone the text mentions.

        "What did Filippov tell Mao?" -> ["Stalin", ..., "Mao Zedong", ...].
        Names already in the text, longer forms of a name already searched
        ("Joseph Stalin" next to "Stalin": no new word to search), and
        cover names that are also ordinary names are left out.
        """
        found = self.mentions(text)
        used = [re.compile(_BEFORE + re.escape(key) + _AFTER) for key, _ in found]
        seen: set[str] = set()
        extra: list[str] = []
        for _, person in found:
            for name in person.names:
                key = normalize(name)
                if key in seen or any(u.search(key) for u in used):
                    continue
                seen.add(key)
                used.append(re.compile(_BEFORE + re.escape(key) + _AFTER))
                extra.append(name)
        return extra


def _strings(entry: dict, key: str, where: str) -> tuple[str, ...]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise AliasError(f"{where}: {key} must be a list of non-empty names")
    return tuple(v.strip() for v in value)


def parse_aliases(text: str, source: str = "aliases") -> AliasTable:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AliasError(f"{source}: {exc}") from None
    unknown_tables = sorted(set(data) - {"person", "place"})
    if unknown_tables:
        raise AliasError(f"{source}: unknown tables {unknown_tables} (expected [[person]] and [[place]])")
    # Places (Peking/Beijing, Quemoy/Jinmen) have the same shape as people and expand questions the same way.
    entries = [("person", n, e) for n, e in enumerate(data.get("person", []), start=1)]
    entries += [("place", n, e) for n, e in enumerate(data.get("place", []), start=1)]
    people = []
    for kind, number, entry in entries:
        where = f"{source}: {kind} #{number}"
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise AliasError(f"{where}: missing name")
        unknown = set(entry) - {"name", "variants", "code_names", "glossed_code_names"}
        if unknown:
            raise AliasError(f"{where} ({name}): unknown keys {sorted(unknown)}")
        people.append(
            Person(
                name=name.strip(),
                variants=_strings(entry, "variants", where),
                code_names=_strings(entry, "code_names", where),
                glossed_code_names=_strings(entry, "glossed_code_names", where),
            )
        )
    return AliasTable(people)


@lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int) -> AliasTable:
    return parse_aliases(Path(path).read_text(encoding="utf-8"), source=path)


def load_aliases(path: str | Path | None = None) -> AliasTable:
    """The alias table at ``path`` (default: the bundled ``aliases.toml``).

    Cached until the file changes, so callers may call this per request.
    """
    resolved = Path(path) if path is not None else DEFAULT_PATH
    return _load(str(resolved), resolved.stat().st_mtime_ns)
