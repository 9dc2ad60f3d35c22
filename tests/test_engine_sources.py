"""Which retrieved records /ask cites: near-ties are spread over the sides of a conversation."""

from corpus.model import Record
from service.engine import TIED, select_sources, side
from service.retrieval import Candidate

RUSSIAN = "Archive of the President of the Russian Federation (APRF)"
CHINESE = "Central Archives of China"


def cand(pos, repository, fused, cosine=0.8):
    record = Record(id=f"r{pos}", title=f"Record of conversation {pos}", repository=repository)
    return Candidate(pos, record, cosine, fused, None, None, None)


def test_equally_relevant_records_cover_both_sides_of_the_talks():
    soviet, soviet_again, chinese = cand(0, RUSSIAN, 1.00), cand(1, RUSSIAN, 0.99), cand(2, CHINESE, 0.98)
    chosen = select_sources([soviet, soviet_again, chinese], 2, 0.5)
    # By score alone the two Soviet records would be cited; the Chinese one is as relevant.
    assert [c.pos for c in chosen] == [0, 2]
    # With room for all three, all are cited.
    assert [c.pos for c in select_sources([soviet, soviet_again, chinese], 3, 0.5)] == [0, 2, 1]


def test_a_clearly_less_relevant_record_is_not_promoted_for_its_side():
    soviet, soviet_again = cand(0, RUSSIAN, 1.00), cand(1, RUSSIAN, 0.99)
    chinese = cand(2, CHINESE, 0.99 * TIED * 0.99)
    assert [c.pos for c in select_sources([soviet, soviet_again, chinese], 2, 0.5)] == [0, 1]


def test_records_of_unknown_side_keep_their_order():
    unknown = [cand(i, "", 1.0 - i / 100) for i in range(3)]
    assert [c.pos for c in select_sources(unknown, 2, 0.5)] == [0, 1]


def test_side_comes_from_the_catalogue_then_the_sender_in_the_title():
    assert side(Record(id="a", title="x", repository=RUSSIAN, language="Russian")) == RUSSIAN.lower()
    assert side(Record(id="b", title="x", collection="Korean War")) == "korean war"
    assert side(Record(id="c", title="x", language="Chinese")) == "chinese"
    assert side(Record(id="d", title="Ciphered Telegram, Roshchin to Cde. Filippov [Stalin]")) == "roshchin"
    assert side(Record(id="e", title="Telegram from Mao Zedong to Filippov [Stalin]")) == "mao zedong"
    assert side(Record(id="f", title="Record of Conversation between Mao Zedong and Stalin")) is None
