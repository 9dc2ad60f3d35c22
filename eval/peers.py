"""Other systems evaluated side by side with ours (optional extras).

``txtai``: txtai's hybrid search (BM25 + the same sentence model, its own
fusion) over the same records' "title. summary" texts. Install with
``pip install 'archive-docent[compare]'``; the index is built in memory per run.
"""

from __future__ import annotations

import os

from corpus.errors import ConfigError
from service.engine import Docent
from service.retrieval import Candidate

_indexes: dict[int, object] = {}


def _txtai_index(docent: Docent):
    key = id(docent)
    if key not in _indexes:
        try:
            from txtai import Embeddings
        except ImportError:
            raise ConfigError("config 'txtai' needs the optional extra: pip install 'archive-docent[compare]'") from None
        from embeddings.encoder import DEFAULT_MODEL, bundled_model_path

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        model = docent.settings.model
        path = str(bundled_model_path()) if model == DEFAULT_MODEL else model
        index = Embeddings(path=path, hybrid=True, content=True)
        index.index((r.id, r.embedding_text(), None) for r in docent.collection.store.records())
        _indexes[key] = index
    return _indexes[key]


def txtai_retrieve(docent: Docent, text: str, k: int) -> list[Candidate]:
    hits = _txtai_index(docent).search(text, k)
    out = []
    for hit in hits:
        record = docent.collection.store.by_id(hit["id"])
        if record is not None:
            # txtai's scores are its own; there is no cosine to abstain on, so the
            # abstention columns are left out for this configuration.
            out.append(Candidate(-1, record, float("nan"), float(hit["score"]), None, None, None))
    return out
