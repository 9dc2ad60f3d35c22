"""Opening the engine: the index is read while a model still loads."""

import pytest

from corpus.errors import IndexMismatchError
from embeddings.collection import Collection
from embeddings.encoder import HASHING_MODEL, HashingEncoder
from service.engine import Docent


class Loading(HashingEncoder):
    """An encoder process still loading: asking its model blocks until then."""

    def __init__(self, events: list[str], model: str = HASHING_MODEL) -> None:
        super().__init__()
        self.events, self.model = events, model

    @property
    def name(self) -> str:
        self.events.append("model asked")
        return self.model


def test_the_index_is_opened_before_the_encoder_is_asked_for_its_model(tiny_index, monkeypatch):
    events: list[str] = []
    opened = Collection.open.__func__

    def recording(cls, *args, **kwargs):
        events.append("index opened")
        return opened(cls, *args, **kwargs)

    monkeypatch.setattr(Collection, "open", classmethod(recording))
    docent = Docent.open(tiny_index, Loading(events))
    docent.close()
    assert events == ["index opened", "model asked"]


def test_an_index_of_another_model_is_refused_and_closed(tiny_index, monkeypatch):
    closed: list[bool] = []
    close = Collection.close
    monkeypatch.setattr(Collection, "close", lambda self: (closed.append(True), close(self))[1])
    with pytest.raises(IndexMismatchError, match="built with model 'hashing' but the service is set to 'other-model'"):
        Docent.open(tiny_index, Loading([], model="other-model"))
    assert closed == [True]
