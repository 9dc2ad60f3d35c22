"""The light loading path (embeddings/light_encoder.py): which model directories
it takes, that it gives SentenceTransformer's vectors, that it falls back for
anything else, and that it never imports sentence_transformers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from embeddings.encoder import DEFAULT_MODEL, SentenceTransformerEncoder, bundled_model_path, load_encoder
from embeddings.light_encoder import LightSpec, NotLight, read_light_spec

ROOT = Path(__file__).resolve().parent.parent
TRANSFORMER = {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}
POOLING = {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}
NORMALIZE = {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}
DROPOUT = {"idx": 2, "name": "2", "path": "2_Dropout", "type": "sentence_transformers.models.Dropout"}
MEAN = {"word_embedding_dimension": 384, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False}


def model_variant(tmp_path: Path, overrides: dict[str, object]) -> Path:
    """A copy of the bundled model's directory (the weights linked, not copied)
    with some files replaced: {relative path: JSON value, or None to delete}."""
    source, target = bundled_model_path(), tmp_path / "variant-model"
    for item in source.rglob("*"):
        destination = target / item.relative_to(source)
        if item.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
        elif item.suffix == ".safetensors":
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.symlink_to(item)
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(item, destination)
    for relative, value in overrides.items():
        path = target / relative
        if value is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(value), encoding="utf-8")
    return target


def test_the_bundled_model_takes_the_light_path():
    assert read_light_spec(bundled_model_path()) == LightSpec(max_seq_length=256, do_lower_case=False, pooling="mean", dimension=384)


@pytest.mark.parametrize(
    ("overrides", "spec"),
    [
        ({"1_Pooling/config.json": {**MEAN, "pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True}}, ("cls", 256, False)),
        ({"1_Pooling/config.json": {"embedding_dimension": 384, "pooling_mode": "max", "include_prompt": True}}, ("max", 256, False)),
        ({"1_Pooling/config.json": {"word_embedding_dimension": 384}}, ("mean", 256, False)),  # no mode: mean
        ({"sentence_bert_config.json": {"max_seq_length": 128, "do_lower_case": True}}, ("mean", 128, True)),
        ({"modules.json": [TRANSFORMER, POOLING]}, ("mean", 256, False)),  # Normalize is optional
        (  # what sentence-transformers 6 writes
            {"modules.json": [{**TRANSFORMER, "type": "sentence_transformers.base.modules.transformer.Transformer"},
                              {**POOLING, "type": "sentence_transformers.sentence_transformer.modules.pooling.Pooling"},
                              {**NORMALIZE, "type": "sentence_transformers.base.modules.normalize.Normalize"}],
             "sentence_bert_config.json": {"transformer_task": "feature-extraction", "max_seq_length": 256, "do_lower_case": False,
                                           "modality_config": {"text": {"method": "forward", "method_output_name": "last_hidden_state"}},
                                           "module_output_name": "token_embeddings"}},
            ("mean", 256, False),
        ),
    ],
)
def test_supported_variants_are_read_from_the_config_files(tmp_path, overrides, spec):
    read = read_light_spec(model_variant(tmp_path, overrides))
    assert (read.pooling, read.max_seq_length, read.do_lower_case) == spec


@pytest.mark.parametrize(
    "overrides",
    [
        {"modules.json": [TRANSFORMER, POOLING, DROPOUT, NORMALIZE]},
        {"modules.json": [TRANSFORMER, POOLING, {**NORMALIZE, "type": "sentence_transformers.models.Dense"}]},
        {"modules.json": [TRANSFORMER, {**POOLING, "kwargs": {"task": "query"}}]},
        {"modules.json": None},
        {"modules.json": ["sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling"]},
        {"1_Pooling/config.json": {**MEAN, "pooling_mode_mean_tokens": False, "pooling_mode_weightedmean_tokens": True}},
        {"1_Pooling/config.json": {**MEAN, "pooling_mode_max_tokens": True}},  # two modes, concatenated
        {"1_Pooling/config.json": {"embedding_dimension": 384, "pooling_mode": "lasttoken"}},
        {"2_Normalize/config.json": {"module_input_name": "token_embeddings"}},
        {"sentence_bert_config.json": {"max_seq_length": 256, "do_lower_case": False, "model_args": {"dtype": "float16"}}},
        {"sentence_bert_config.json": {"max_seq_length": 256, "transformer_task": "sequence-classification"}},
        {"sentence_bert_config.json": None},
        {"config_sentence_transformers.json": {"prompts": {"query": "query: "}, "default_prompt_name": "query"}},
        {"config_sentence_transformers.json": {"model_type": "SparseEncoder"}},
        {"adapter_config.json": {"base_model_name_or_path": "elsewhere"}},
        {"config.json": {"model_type": "bert", "hidden_size": 384, "auto_map": {"AutoModel": "custom.Model"}}},
    ],
)
def test_anything_else_is_not_light(tmp_path, overrides):
    with pytest.raises(NotLight):
        read_light_spec(model_variant(tmp_path, overrides))


def varied_texts() -> list[str]:
    """≥ 50 texts: questions, catalogue-like summaries, near-empty strings,
    non-ASCII scripts, and long ones that the 256-token limit truncates."""
    sentences = [
        "What did Stalin tell Mao about Kim Il Sung's plans in May 1950?",
        "Telegram from Filippov (Stalin) to Mao Zedong, 14 May 1950.",
        "Memorandum of conversation between Khrushchev and Ulbricht on the Berlin question, 1961.",
        "Why did Soviet troops withdraw from Iran in 1946?",
        "Report on the Hungarian events of October–November 1956, prepared for the CC CPSU.",
        "Minutes of the Politburo meeting; excerpt; translated from Russian.",
        "The Cuban missile crisis: Castro's letter of 26 October 1962.",
        "Draft, not sent: a note on nuclear tests in the atmosphere.",
        "undated",
        "c. 1953",
    ]
    non_ascii = [
        "Встреча Сталина и Мао Цзэдуна в Москве, декабрь 1949 года.",
        "毛泽东与斯大林的会谈记录，一九五〇年",
        "Gespräch zwischen Ulbricht und Chruschtschow über Westberlin (geheim).",
        "Rapport de l'ambassade de France à Pékin — «situation en Corée».",
        "تقرير عن أزمة السويس عام ١٩٥٦",
        "김일성과 스탈린의 회담 🇰🇵 ☭",
        "Œuvres complètes, naïve façade, ångström, Łódź, Ærø",
    ]
    near_empty = ["", " ", "\n\t ", ".", "?", "—", "0", "\u200b", "a"]
    long_texts = [
        " ".join(sentences) * 3,  # ~330 words: well past 256 tokens
        " ".join(non_ascii) * 8,
        "Kim Il Sung " * 200,
        ("Memorandum of conversation, Beijing. " * 60) + "The decisive sentence comes last and is truncated away.",
    ]
    mixed = [f"{a} {b}" for a, b in zip(sentences, reversed(non_ascii + near_empty))]
    return sentences + non_ascii + near_empty + long_texts + mixed + [s.upper() for s in sentences] + [s.lower() for s in non_ascii]


def assert_same_vectors(light: np.ndarray, reference: np.ndarray) -> None:
    assert light.shape == reference.shape and light.dtype == np.float32
    assert float(np.abs(light - reference).max()) <= 1e-5
    assert float((light * reference).sum(axis=1).min()) >= 0.99999


@pytest.fixture(scope="module")
def reference_encoder():
    return SentenceTransformerEncoder(bundled_model_path(), DEFAULT_MODEL)


@pytest.mark.model
def test_light_path_gives_sentence_transformers_vectors(real_encoder, reference_encoder):
    texts = varied_texts()
    assert len(texts) >= 50
    assert real_encoder.loader == "transformers" and real_encoder.name == DEFAULT_MODEL
    token_counts = [len(real_encoder.tokenizer(t)["input_ids"]) for t in texts]
    assert sum(count > 256 for count in token_counts) >= 4  # the long ones really get truncated
    for batch_size in (1, 16, 64):
        assert_same_vectors(real_encoder.encode(texts, batch_size=batch_size), reference_encoder.encode(texts, batch_size=16))
    assert real_encoder.encode([]).shape == (0, 384)


@pytest.mark.model
@pytest.mark.parametrize(
    "overrides",
    [
        {"1_Pooling/config.json": {**MEAN, "pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True}},
        {"1_Pooling/config.json": {"embedding_dimension": 384, "pooling_mode": "max"}},
        {"sentence_bert_config.json": {"max_seq_length": 32, "do_lower_case": True}, "modules.json": [TRANSFORMER, POOLING]},
    ],
    ids=["cls", "max", "lower-case-32-tokens-no-normalize"],
)
def test_light_path_follows_the_declared_options(tmp_path, overrides):
    path = model_variant(tmp_path, overrides)
    texts = varied_texts()[:30]
    light = load_encoder(str(path))
    assert light.loader == "transformers" and light.name == path.name
    assert_same_vectors(light.encode(texts, batch_size=8), SentenceTransformerEncoder(path, path.name).encode(texts, batch_size=8))


@pytest.mark.model
def test_unsupported_module_list_falls_back_to_sentence_transformers(tmp_path, real_encoder):
    # Dropout (identity when encoding) is a module the light path does not know.
    path = model_variant(tmp_path, {"modules.json": [TRANSFORMER, POOLING, DROPOUT, {**NORMALIZE, "idx": 3, "name": "3"}],
                                    "2_Dropout/config.json": {"dropout": 0.2}})
    encoder = load_encoder(str(path))
    assert encoder.loader == "sentence-transformers" and encoder.name == path.name
    texts = varied_texts()[:10]
    assert_same_vectors(real_encoder.encode(texts), encoder.encode(texts))


@pytest.mark.model
def test_light_path_does_not_import_sentence_transformers():
    script = (
        "import json, sys\n"
        "from embeddings.encoder import load_encoder\n"
        "encoder = load_encoder('all-MiniLM-L6-v2', threads=1)\n"
        "encoder.encode(['Stalin to Mao, May 1950'])\n"
        "print(json.dumps([encoder.loader, sorted(m for m in sys.modules if m.split('.')[0] == 'sentence_transformers')]))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True, timeout=300)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == ["transformers", []]
