"""Reading a question: dates in it, follow-ups, alias expansion."""

import pytest

from corpus.aliases import load_aliases
from service.dates_in_question import extract_date_constraint
from service.interpret import interpret, is_follow_up, previous_from


@pytest.mark.parametrize(
    "question, date_from, date_to",
    [
        ("What did Stalin tell Mao in May 1950?", "1950-05-01", "1950-05-31"),
        ("Soviet policy in 1950", "1950-01-01", "1950-12-31"),
        ("Talks between 1948 and 1950 on the treaty", "1948-01-01", "1950-12-31"),
        ("from 1948 to 1950", "1948-01-01", "1950-12-31"),
        ("Sino-Soviet relations in the 1960s", "1960-01-01", "1969-12-31"),
        ("Reports on Hungary before 1956", None, "1955-12-31"),
        ("Reports on Hungary until 1956", None, "1956-12-31"),
        ("What changed after 1956?", "1957-01-01", None),
        ("Exercises on the border in July-August 1968", "1968-07-01", "1968-08-31"),
        ("turmoil in South Korea in spring 1960", "1960-03-01", "1960-05-31"),
        ("at the end of April 1954", "1954-04-20", "1954-04-30"),
        ("Quemoy shelling, late October 1958", "1958-10-20", "1958-10-31"),
        ("the conversation of 16 October 1949", "1949-10-16", "1949-10-16"),
        ("the telegram of May 14, 1950", "1950-05-14", "1950-05-14"),
        ("the opposition after the August 1956 plenum", "1956-08-01", None),
        ("the 1962-63 talks", "1962-01-01", "1963-12-31"),
        ("Warsaw Pact planning, 1957", "1957-01-01", "1957-12-31"),
        ("winter 1950", "1950-12-01", "1951-02-28"),
    ],
)
def test_explicit_dates_become_a_constraint(question, date_from, date_to):
    found = extract_date_constraint(question)
    assert found is not None and (found.date_from, found.date_to) == (date_from, date_to)


@pytest.mark.parametrize("question", [
    "How did Seoul and Pyongyang prepare the 1972 joint communique?",  # a year used as an adjective
    "What did Stalin tell Mao after Stalin's death?",  # needs knowledge of events: out of scope
    "Who was Filippov?",
])
def test_no_constraint_without_explicit_dates(question):
    assert extract_date_constraint(question) is None


@pytest.mark.parametrize("question, expected", [
    ("What did he answer?", True),
    ("And in 1951?", True),
    ("What about Zhou Enlai?", True),
    ("How did they respond?", True),
    ("Why did Stalin withdraw Soviet troops from Iran?", False),
    ("What did Stalin say about his health?", False),
    ("What did the Soviet ambassador report about Mao's views on Yugoslavia in 1949?", False),
])
def test_follow_up_detection(question, expected):
    assert is_follow_up(question) is expected


def test_follow_up_carries_topic_and_dates():
    aliases = load_aliases()
    first = interpret("What did Stalin tell Mao about Kim Il Sung's plans in May 1950?", aliases)
    assert (first.date_from, first.date_to, first.date_source, first.date_phrase) == ("1950-05-01", "1950-05-31", "question", "May 1950")
    second = interpret("What did he answer?", aliases, previous=previous_from(first))
    assert second.context == first.question
    assert "Kim Il Sung's plans" in second.query and "May 1950" not in second.topic
    assert (second.date_from, second.date_source) == ("1950-05-01", "conversation")
    third = interpret("And in 1951?", aliases, previous=previous_from(second))
    assert (third.date_from, third.date_to, third.date_source) == ("1951-01-01", "1951-12-31", "question")
    assert "Kim Il Sung's plans" in third.query
    fresh = interpret("Why did Stalin withdraw Soviet troops from Iran?", aliases, previous=previous_from(third))
    assert fresh.context is None and fresh.date_from is None and "Kim" not in fresh.query


def test_request_dates_win_over_the_question():
    reading = interpret("What happened in May 1950?", None, date_from="1949-01-01", date_to="1949-12-31")
    assert (reading.date_from, reading.date_to, reading.date_source) == ("1949-01-01", "1949-12-31", "request")


def test_aliases_expand_both_ways():
    aliases = load_aliases()
    by_code = interpret("What did Filippov tell Mao?", aliases)
    assert "Stalin" in by_code.query and "stalin" in by_code.lexical_terms
    by_name = interpret("What did Stalin tell Mao?", aliases)
    assert "filippov" in by_name.lexical_terms
    assert [u.name for u in by_name.aliases][0] == "Stalin"
