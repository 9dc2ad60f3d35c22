"""A sentence-transformers model run with ``transformers`` alone.

``import sentence_transformers`` costs ~1.2 s more than the ``transformers``
model it wraps (scipy, sklearn, pandas, rich: its training and evaluation
modules), which is a quarter of ``docent serve``'s start-up and which encoding
never needs. The common model layout — a Transformer module followed by
Pooling and optionally Normalize, as all-MiniLM-L6-v2 is — is simple enough
to run directly: tokenise, forward, pool over the attention mask, normalise.

Whether a model directory qualifies is decided by reading its configuration
files (``read_light_spec``); anything this module does not reproduce exactly
(other module types, prompts, pooling modes, tokenizer or model arguments,
custom code, adapters, processors) raises ``NotLight`` with the reason, and
the caller loads the model with ``SentenceTransformer`` instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# modules.json "type" values, as each generation of sentence-transformers writes them.
TRANSFORMER_TYPES = {"sentence_transformers.models.Transformer", "sentence_transformers.base.modules.transformer.Transformer"}
POOLING_TYPES = {"sentence_transformers.models.Pooling", "sentence_transformers.sentence_transformer.modules.pooling.Pooling"}
NORMALIZE_TYPES = {"sentence_transformers.models.Normalize", "sentence_transformers.base.modules.normalize.Normalize"}

POOLING_MODES = ("cls", "max", "mean")
# The legacy Pooling keys, in the order sentence-transformers concatenates them.
LEGACY_POOLING_KEYS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}
# sentence_bert_config.json keys that may be present only with these values
# (what sentence-transformers itself writes for a plain text embedding model).
TRANSFORMER_DEFAULTS: dict[str, tuple] = {
    "transformer_task": ("feature-extraction",),
    "modality_config": ({"text": {"method": "forward", "method_output_name": "last_hidden_state"}},),
    "module_output_name": ("token_embeddings",),
    "unpad_inputs": (None, False),
    **{key: ({},) for key in ("model_args", "model_kwargs", "tokenizer_args", "processor_kwargs",
                              "config_args", "config_kwargs", "processing_kwargs")},
}
# Files whose presence means loading is more than AutoTokenizer + AutoModel.
NOT_LIGHT_FILES = ("adapter_config.json", "processor_config.json", "preprocessor_config.json")


class NotLight(Exception):
    """This model directory needs ``SentenceTransformer``; the message says why."""


@dataclass(frozen=True)
class LightSpec:
    max_seq_length: int | None
    do_lower_case: bool
    pooling: str
    dimension: int


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise NotLight(f"cannot read {path.name}: {exc}") from None


def _pooling_dir(path: Path) -> Path:
    """The Pooling module's directory, if modules.json is Transformer (at the
    root), Pooling, and optionally Normalize, with no per-module kwargs."""
    modules = _json(path / "modules.json")
    listed = isinstance(modules, list) and all(isinstance(m, dict) for m in modules)
    types = [m.get("type") for m in modules] if listed else None
    if (
        types is None or len(types) not in (2, 3)
        or types[0] not in TRANSFORMER_TYPES or types[1] not in POOLING_TYPES
        or (len(types) == 3 and types[2] not in NORMALIZE_TYPES)
    ):
        raise NotLight(f"modules {types} are not Transformer, Pooling[, Normalize]")
    if modules[0].get("path", "") != "" or any(m.get("kwargs") for m in modules):
        raise NotLight("the Transformer module is not at the model's root, or a module has kwargs")
    if len(modules) == 3:
        _check_normalize(path / modules[2].get("path", ""))
    return path / modules[1].get("path", "")


def _check_normalize(directory: Path) -> None:
    # The encoder normalises every vector anyway; only a Normalize aimed at
    # another output (token embeddings) would differ.
    config = _json(directory / "config.json") if (directory / "config.json").is_file() else {}
    if config.get("module_input_name", "sentence_embedding") != "sentence_embedding" or config.get("module_output_name") not in (None, "sentence_embedding"):
        raise NotLight(f"Normalize applies to {config}")


def _check_model_config(path: Path) -> None:
    """No prompts, no other model kind, no custom code, no adapters, no
    processors: the model is exactly AutoTokenizer + AutoModel."""
    st_config = path / "config_sentence_transformers.json"
    config = _json(st_config) if st_config.is_file() else {}
    if config.get("model_type", "SentenceTransformer") != "SentenceTransformer":
        raise NotLight(f"model_type is {config['model_type']}")
    if config.get("default_prompt_name") or config.get("requirements"):
        raise NotLight("the model declares a default prompt or requirements")
    hf_config = _json(path / "config.json")
    if hf_config.get("auto_map") or hf_config.get("is_encoder_decoder"):
        raise NotLight("the model has custom code or is an encoder-decoder")
    if present := [name for name in NOT_LIGHT_FILES if (path / name).exists()]:
        raise NotLight(f"the model directory has {present}")


def _transformer_options(path: Path) -> tuple[int | None, bool]:
    """max_seq_length and do_lower_case from sentence_bert_config.json, which
    may hold nothing else but defaults."""
    config = _json(path / "sentence_bert_config.json")
    for key, value in config.items():
        if key not in ("max_seq_length", "do_lower_case") and value not in TRANSFORMER_DEFAULTS.get(key, ()):
            raise NotLight(f"sentence_bert_config.json sets {key}={value!r}")
    max_seq_length = config.get("max_seq_length")
    if max_seq_length is not None and not isinstance(max_seq_length, int):
        raise NotLight(f"max_seq_length is {max_seq_length!r}")
    return max_seq_length, bool(config.get("do_lower_case", False))


def _pooling(directory: Path) -> tuple[str, int]:
    """The one pooling mode (cls, max or mean) and the embedding dimension."""
    config = dict(_json(directory / "config.json"))
    dimension = config.pop("word_embedding_dimension", config.pop("embedding_dimension", None))
    config.pop("include_prompt", None)  # no prompt is ever added (checked above), so nothing to exclude
    legacy = [mode for key, mode in LEGACY_POOLING_KEYS.items() if config.pop(key, False)]
    mode = config.pop("pooling_mode", None) or legacy or ["mean"]  # sentence-transformers' default
    modes = [mode] if isinstance(mode, str) else list(mode)
    if config or not isinstance(dimension, int) or len(modes) != 1 or modes[0] not in POOLING_MODES:
        raise NotLight(f"pooling {modes} with options {config} is not one of {POOLING_MODES}")
    return modes[0], dimension


def read_light_spec(path: Path) -> LightSpec:
    """How to run the model at ``path`` without sentence-transformers, or ``NotLight``."""
    if not (path / "modules.json").is_file() or not (path / "sentence_bert_config.json").is_file():
        raise NotLight("no modules.json or sentence_bert_config.json")
    pooling_dir = _pooling_dir(path)
    _check_model_config(path)
    max_seq_length, do_lower_case = _transformer_options(path)
    mode, dimension = _pooling(pooling_dir)
    return LightSpec(max_seq_length, do_lower_case, mode, dimension)


def pool(token_embeddings, attention_mask, mode: str):
    """One vector per text from its tokens' vectors, ignoring padding, as
    sentence-transformers' Pooling does for ``mode``."""
    import torch

    mask = attention_mask.unsqueeze(-1).to(token_embeddings.dtype)
    if mode == "mean":
        # Half-precision sums lose digits; sentence-transformers accumulates in float32 too.
        total = torch.float32 if token_embeddings.dtype in (torch.float16, torch.bfloat16) else token_embeddings.dtype
        summed = (token_embeddings * mask).sum(dim=1, dtype=total)
        return (summed / mask.sum(dim=1, dtype=total).clamp(min=1e-9)).to(token_embeddings.dtype)
    if mode == "max":
        return token_embeddings.masked_fill(mask == 0, float("-inf")).max(dim=1).values
    # cls: the first real token (position 0 unless the tokenizer pads on the left).
    first = attention_mask.to(torch.int).argmax(dim=1)
    return token_embeddings[torch.arange(token_embeddings.shape[0]), first]


def _lowercase(tokenizer) -> None:
    """Lower-case before tokenising (``do_lower_case``), unless the tokenizer already does."""
    from tokenizers.normalizers import Lowercase, Sequence

    backend = tokenizer.backend_tokenizer
    normalizer = backend.normalizer
    steps = list(normalizer) if isinstance(normalizer, Sequence) else [] if normalizer is None else [normalizer]
    if not any(isinstance(step, Lowercase) for step in steps):
        backend.normalizer = Sequence([Lowercase(), *steps])


class LightEncoder:
    """A model directory that ``read_light_spec`` accepted, run with ``transformers``;
    the same vectors as ``SentenceTransformer(path).encode(..., normalize_embeddings=True)``."""

    loader = "transformers"

    def __init__(self, path: Path, name: str, spec: LightSpec, device: str = "cpu") -> None:
        from transformers import AutoConfig, AutoModel

        config = AutoConfig.from_pretrained(str(path), local_files_only=True)
        if getattr(config, "hidden_size", None) != spec.dimension:
            raise NotLight(f"Pooling expects {spec.dimension} dimensions, the model has {getattr(config, 'hidden_size', None)}")
        if hasattr(config, "use_cache"):
            config.use_cache = False  # as sentence-transformers loads it: no key/value cache for encoding
        self.tokenizer = self._tokenizer(path, spec, config)
        self.model = AutoModel.from_pretrained(str(path), config=config, local_files_only=True).to(device).eval()
        self.name, self.dimension, self.pooling, self.device = name, spec.dimension, spec.pooling, device

    @staticmethod
    def _tokenizer(path: Path, spec: LightSpec, config):
        from transformers import AutoTokenizer

        limit = {} if spec.max_seq_length is None else {"model_max_length": spec.max_seq_length}
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True, **limit)
        positions = getattr(config, "max_position_embeddings", -1)
        if not limit and positions != -1:  # no declared limit: the model's own positions cap it
            tokenizer.model_max_length = min(tokenizer.model_max_length, positions)
        if spec.do_lower_case:
            _lowercase(tokenizer)
        return tokenizer

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        import torch.nn.functional as F

        features = self.tokenizer(texts, padding=True, truncation="longest_first", return_tensors="pt").to(self.device)
        tokens = self.model(**features, return_dict=True).last_hidden_state
        vectors = F.normalize(pool(tokens, features["attention_mask"], self.pooling), p=2, dim=1)
        return vectors.float().cpu().numpy()

    def encode(self, texts: list[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        import torch

        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        # Longest first, as SentenceTransformer.encode batches: texts of similar
        # length pad each other least.
        order = np.argsort([-len(text) for text in texts])
        starts = range(0, len(texts), batch_size)
        if progress:
            from tqdm import tqdm

            starts = tqdm(starts, desc="Batches")
        with torch.inference_mode():
            for start in starts:
                rows = order[start:start + batch_size]
                vectors[rows] = self._encode_batch([texts[i] for i in rows])
        return vectors
