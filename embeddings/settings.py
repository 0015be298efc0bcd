"""The one settings table: every tunable with its default, help text and MEDCODES_* env override."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path


def _setting(default, help_text: str, least: float | None = None, most: float | None = None):
    """A field with its help text and, for numbers, the range a value must fall in (checked on every Settings)."""
    return field(default=default, metadata={"help": help_text, "least": least, "most": most})


@dataclass(frozen=True)
class Settings:
    """Each field can be overridden by the environment variable MEDCODES_<FIELD NAME IN CAPITALS>."""

    index_dir: Path = _setting(Path("data/index"), "Built index directory the service reads (a symlink to the current build).")
    cache_dir: Path = _setting(Path("data/cache"), "Embedding cache (vectors keyed by text hash), reused by every build.")
    model: str = _setting("", "Path of a local sentence-transformers model, or of a packed copy `make model` writes "
                          "(data/model/medcodes-minilm-int8); empty means the packaged all-MiniLM-L6-v2.")
    encoder: str = _setting("onnx-int8", "'onnx-int8': the model on ONNX Runtime, its matrix products quantised to "
                            "int8 (the default: encodes about twice as fast, recall within 0.5 point); 'onnx': "
                            "the same in fp32 (the vectors of 'sentence'); 'sentence': sentence-transformers on "
                            "torch; 'stub': tests only.")
    index_type: str = _setting("hnsw", "FAISS index kind: 'hnsw' (approximate, fast) or 'flat' (exact).")
    hnsw_m: int = _setting(32, "HNSW graph degree.", least=2)
    hnsw_ef_construction: int = _setting(200, "HNSW build-time beam width.", least=1)
    hnsw_ef_search: int = _setting(1024, "HNSW query-time beam width (dense mode, Similar Codes, evaluation probes).",
                                  least=1)
    hnsw_ef_hybrid: int = _setting(384, "HNSW beam width of hybrid search's meaning path when the ranker is on: its "
                                   "candidates join the words' and the ranker rescores each exactly, so a narrower "
                                   "beam loses nothing measured (docs/history.md) at a third of the graph's time.")
    batch_size: int = _setting(64, "Encoding batch size.", least=1)
    threads: int = _setting(0, "CPU threads for torch and FAISS; 0 keeps the library default.", least=0)
    host: str = _setting("127.0.0.1", "Address the server binds to.")
    port: int = _setting(8000, "Port the server listens on.", least=1, most=65535)
    max_query_chars: int = _setting(500, "Longest accepted query, in characters.", least=1)
    max_limit: int = _setting(100, "Largest page size a client may ask for.", least=1)
    max_offset: int = _setting(1000, "Deepest result offset a client may ask for.", least=0)
    query_cache_size: int = _setting(4096, "Query embeddings kept in memory for repeated queries.", least=0)
    ranker_file: str = _setting("", "Weights of the learned ranking stage (`make ranker` writes them); empty means the "
                                "committed service/search/ranker.json. Name another file to train and serve a ranker "
                                "for another model without touching the committed one.")
    rrf_k: int = _setting(60, "Reciprocal-rank-fusion constant.", least=0)
    candidates: int = _setting(100, "Candidates each retrieval path contributes before fusion.", least=1)
    overlap_paths: bool = _setting(True, "Run the meaning path (query encoding, FAISS) on a second thread while the "
                                   "word path runs; the same results, sooner on an idle core.")
    verify_checksums: bool = _setting(True, "Verify manifest checksums of index files when loading.")
    admin_token: str = _setting("", "Token that enables POST /admin/reload; empty disables it.")
    watch_seconds: float = _setting(0.0, "Every this many seconds, reload when the index link points at a new build "
                                    "(replicas on shared storage follow a rebuild); 0 turns the watch off.", least=0)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            least, most, value = f.metadata["least"], f.metadata["most"], getattr(self, f.name)
            if (least is not None and value < least) or (most is not None and value > most):
                bounds = f"from {least} to {most}" if most is not None else f"at least {least}"
                raise ValueError(f"{env_name(f.name)}={value!r} is out of range: it must be {bounds}")

    @classmethod
    def from_env(cls, environ: dict | None = None, **overrides) -> "Settings":
        environ = os.environ if environ is None else environ
        values = {}
        for f in dataclasses.fields(cls):
            raw = environ.get(env_name(f.name))
            if raw is not None:
                values[f.name] = _parse(f, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **changes)


def env_name(field_name: str) -> str:
    return "MEDCODES_" + field_name.upper()


def _parse(f: dataclasses.Field, raw: str):
    kind = type(f.default)
    try:
        if kind is bool:
            if raw.strip().lower() in {"1", "true", "yes", "on"}:
                return True
            if raw.strip().lower() in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(raw)
        if issubclass(kind, Path):
            return Path(raw)
        return kind(raw)
    except ValueError:
        raise ValueError(f"{env_name(f.name)}={raw!r} is not a valid {kind.__name__}") from None


def settings_table() -> list[dict]:
    """Rows of (env variable, default, help) for documentation and `medcodes settings`."""
    return [
        {"name": env_name(f.name), "default": str(f.default), "help": f.metadata["help"]}
        for f in dataclasses.fields(Settings)
    ]
