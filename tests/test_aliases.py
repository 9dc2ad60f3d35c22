"""The alias table: canonical names, variants, code names and query expansion."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from corpus.aliases import DEFAULT_PATH, AliasError, load_aliases, normalize, parse_aliases


@pytest.fixture(scope="module")
def aliases():
    return load_aliases()


def test_the_shipped_table_loads_and_has_the_required_facts(aliases):
    assert DEFAULT_PATH.name == "aliases.toml"
    assert ("Filippov", "Stalin") in aliases.code_names()
    assert ("Feng Xi", "Stalin") in aliases.code_names()
    assert ("Terebin", "Andrei Orlov") in aliases.code_names()
    assert aliases.canonical("Jieshi") == "Chiang Kai-shek"
    assert {"Vyshinsky", "Vyshinskii", "Vyshinskyy"} <= aliases.variants("Vyshinskii")
    assert aliases.canonical("Mao Tse-tung") == aliases.canonical("Mao Zedong") == "Mao Zedong"
    assert aliases.canonical("Chou En-lai") == "Zhou Enlai"
    assert aliases.canonical("Kim Il-sung") == aliases.canonical("Kim Il Sung")
    assert aliases.canonical("Gomulka") == aliases.canonical("Gomułka")
    assert aliases.canonical("Khrushchov") == aliases.canonical("Khrushchev")
    assert aliases.canonical("Dehuai") == "Peng Dehuai"
    assert aliases.canonical("Shtytkov") == aliases.canonical("Shtykov")


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("GOMUŁKA", "Władysław Gomułka"),  # case and diacritics folded
        ("kim il-sung", "Kim Il Sung"),  # hyphen or space
        ("I.V. Stalin", "Stalin"),  # spacing of initials
        ("  Mao Tse-tung ", "Mao Zedong"),
    ],
)
def test_matching_ignores_case_diacritics_hyphens_and_initial_spacing(aliases, written, canonical):
    assert aliases.canonical(written) == canonical


def test_an_unknown_name_comes_back_unchanged(aliases):
    assert aliases.canonical("Harold Wilson") == "Harold Wilson"
    assert aliases.variants("Harold Wilson") == {"Harold Wilson"}
    assert aliases.person("Harold Wilson") is None


def test_variants_include_code_names_but_not_names_that_are_also_ordinary_surnames(aliases):
    names = aliases.variants("Stalin")
    assert {"Stalin", "Filippov", "Feng Xi"} <= names
    assert "Kuznetsov" not in names  # a glossed-only cover name: also a real Soviet diplomat
    assert aliases.canonical("Kuznetsov") == "Kuznetsov"
    assert aliases.person("Kuznetsov", glossed=True).name == "Stalin"


def test_code_names_separate_cover_names_from_spelling_variants(aliases):
    codes = dict(aliases.code_names())
    assert "Jieshi" not in codes and "Mao Tse-tung" not in codes
    assert "Kuznetsov" not in codes
    assert ("Kuznetsov", "Stalin") in aliases.code_names(include_glossed=True)
    assert aliases.is_code_name("filippov")
    assert not aliases.is_code_name("Stalin")


def test_expand_a_code_name_to_the_real_name(aliases):
    extra = aliases.expand("What did Filippov tell Mao?")
    assert extra[0] == "Stalin"
    assert "Feng Xi" in extra
    assert "Filippov" not in extra  # already in the question


def test_expand_a_real_name_to_its_code_names(aliases):
    extra = aliases.expand("What did Stalin tell Mao?")
    assert extra[0] == "Filippov"
    assert "Feng Xi" in extra
    assert "Stalin" not in extra
    assert "Joseph Stalin" not in extra  # no new word beyond "Stalin"
    assert "Kuznetsov" not in extra


def test_expand_matches_whole_words_only(aliases):
    assert aliases.expand("Maoist slogans at Stalinabad") == []
    assert aliases.expand("the Orlov trotters") == []


def test_expand_is_case_and_diacritic_insensitive(aliases):
    assert "Vyshinsky" in aliases.expand("what did VYSHINSKII say in 1950?")
    assert "Zhou Enlai" in aliases.expand("CHOU EN-LAI in Geneva")
    assert aliases.expand("Mao Zedong's reply") == aliases.expand("MAO ZEDONG'S REPLY") == ["Mao"]


def test_a_possessive_still_names_the_person(aliases):
    assert [p.name for _, p in aliases.mentions("Gomułka's letter")] == ["Władysław Gomułka"]
    assert [p.name for _, p in aliases.mentions("gomulka’s letter")] == ["Władysław Gomułka"]


def test_the_longest_name_wins_where_names_overlap(aliases):
    people = {person.name for _, person in aliases.mentions("Chiang Ching-kuo met Raúl Castro")}
    assert people == {"Chiang Ching-kuo", "Raúl Castro"}


def test_code_names_in_text(aliases):
    def found(text):
        return [(code, person.name) for code, person in aliases.code_names_in(text)]

    assert found("Ciphered telegram from Filippov [Stalin] to Roshchin") == [("Filippov", "Stalin")]
    assert found("Letter from Feng Xi (Stalin) to Kim Il Sung") == [("Feng Xi", "Stalin")]
    assert found("Cable, Kuznetsov's (Stalin) reply") == [("Kuznetsov", "Stalin")]
    assert found("Telegram from Flipov [Stalin]") == [("Flipov", "Stalin")]  # misspelt, still the cover name
    assert found("Cable from Terebin on the journey") == [("Terebin", "Andrei Orlov")]
    # A bracketed spelling variant is not a code name, nor is a bracketed title.
    assert found("Talks with Jiang Jieshi [Chiang Kai-shek]") == []
    assert found("Report to the Chairman [Mao Zedong]") == []
    # Cover names that are ordinary names count only when glossed.
    assert found("Deputy Foreign Minister V. V. Kuznetsov in New York") == []


def test_load_a_table_from_a_file_and_reload_when_it_changes(tmp_path: Path):
    path = tmp_path / "aliases.toml"
    path.write_text('[[person]]\nname = "Tito"\nvariants = ["Josip Broz"]\n', encoding="utf-8")
    assert load_aliases(path).canonical("josip broz") == "Tito"
    assert load_aliases(path) is load_aliases(path)  # cached
    path.write_text('[[person]]\nname = "Tito"\ncode_names = ["Walter"]\n', encoding="utf-8")
    stamp = time.time() + 5
    os.utime(path, (stamp, stamp))
    assert load_aliases(path).code_names() == [("Walter", "Tito")]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[[person]]\nvariants = ["X"]\n', "missing name"),
        ('[[person]]\nname = "A"\nnicknames = ["B"]\n', "unknown keys"),
        ('[[person]]\nname = "A"\nvariants = "B"\n', "list"),
        ('[[person]]\nname = "A"\nvariants = ["Z"]\n[[person]]\nname = "B"\nvariants = ["z"]\n', "both"),
        ('[[person]]\nname = "A"\nvariants = ["Z"]\nglossed_code_names = ["Z"]\n', "both"),
        ("[[person]\n", "aliases"),
    ],
)
def test_a_malformed_table_is_reported(toml, message):
    with pytest.raises(AliasError, match=message):
        parse_aliases(toml)


def test_normalize():
    assert normalize("Kim Il-sung") == normalize("kim il sung")
    assert normalize("I.V. Stalin") == normalize("I. V. Stalin") == "i. v. stalin"
    assert normalize("Gomułka") == "gomulka"


def test_places_expand_like_people(aliases):
    assert set(aliases.expand("the shelling of Quemoy")) >= {"Jinmen", "Kinmen"}
    assert "Beijing" in aliases.expand("a cable to Peking")
    assert "Stalingrad" in aliases.expand("Volgograd in 1961")


def test_unknown_table_is_an_error():
    with pytest.raises(AliasError, match="unknown tables"):
        parse_aliases('[[city]]\nname = "Paris"\n')
