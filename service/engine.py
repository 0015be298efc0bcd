"""Hybrid search: exact/prefix code lookup, FTS5 BM25 and FAISS dense retrieval fused by reciprocal rank."""
from __future__ import annotations

import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from threading import Lock

import numpy as np

from embeddings import index as ix
from embeddings.encoder import Encoder, make_encoder
from embeddings.settings import Settings
from service import query as q
from service import understanding as qu
from service.store import IndexStore

MODES = ("hybrid", "lexical", "dense")
# Query-understanding features on by default; the evaluation's ablation says what each one adds.
DEFAULT_FEATURES = frozenset(qu.FEATURES)
# Path weights in the fusion; exact code matches are pinned above everything.
WEIGHTS = {"code": 4.0, "lexical": 1.0, "dense": 1.0}
# A lexical hit that matched only some of the query words ("heart" of "heart attack") counts for less.
PARTIAL_MATCH_WEIGHT = 0.5
# A word found in more than this share of documents ("left", "encounter", "approach") is evidence too weak
# to retrieve by alone, and an OR over such posting lists costs tens of milliseconds.
COMMON_SHARE = 0.05
MAX_ANY_WORDS = 8  # the any-word stage of a long query uses its rarest words only
MIN_PREFIX = 3  # typeahead completes a last word of at least this many letters


@dataclass(frozen=True)
class Hit:
    system: str
    code: str
    title: str
    billable: bool
    kind: str
    chapter: str
    score: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class SearchResult:
    query: str
    hits: tuple[Hit, ...]
    total: int
    took_ms: float
    mode: str = "hybrid"
    did_you_mean: str | None = None
    expansions: tuple[str, ...] = ()


class QueryEmbeddings:
    """A bounded LRU of query vectors: repeated and typeahead queries skip the encoder."""

    def __init__(self, encoder: Encoder, size: int):
        self.encoder, self.size = encoder, size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = Lock()

    def __call__(self, text: str) -> np.ndarray:
        key = text.lower()
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        vector = self.encoder.encode([key])[0]
        with self._lock:
            self._cache[key] = vector
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return vector


class SearchEngine:
    def __init__(self, store: IndexStore, encoder: Encoder, settings: Settings):
        ix.check_model(store.manifest, encoder.name, encoder.dim)
        self.store, self.encoder, self.settings = store, encoder, settings
        self.embed = QueryEmbeddings(encoder, settings.query_cache_size)
        vocabulary = dict(store.db.execute("SELECT word, freq FROM vocabulary"))
        table = qu.load_table()
        speller = qu.Speller(vocabulary, self._known_word, {w for k in table for w in k} | qu.model_words(encoder))
        # Words in more than this many documents are left out of the any-word stage (see _or_words).
        self.common = max(1, int(COMMON_SHARE * store.manifest["counts"]["codes"]))
        self.vocabulary = vocabulary
        self.understanding = qu.Understanding(table, speller)

    def _known_word(self, word: str) -> bool:
        """True when some document matches the word after stemming ('fractured' is known through 'fracture')."""
        row = self.store.db.execute("SELECT 1 FROM lexical WHERE lexical MATCH ? LIMIT 1", (q.fts_phrase(word),))
        return row.fetchone() is not None

    def clear_query_cache(self) -> None:
        """Forget cached query vectors, so a timing run pays for encoding like a first-time query."""
        self.embed = QueryEmbeddings(self.encoder, self.settings.query_cache_size)

    @classmethod
    def open(cls, settings: Settings, encoder: Encoder | None = None) -> "SearchEngine":
        store = IndexStore(Path(settings.index_dir), settings.verify_checksums, settings.hnsw_ef_search)
        encoder = encoder or make_encoder(settings.encoder, settings.model, settings.threads, Path(settings.cache_dir))
        return cls(store, encoder, settings)

    # -- validation shared by every entry point -------------------------------------------------
    def check_system(self, system: str | None) -> str | None:
        if system in (None, "", "all"):
            return None
        if system not in self.store.systems:
            raise q.QueryError(f"unknown system {system!r}; loaded systems: {', '.join(self.store.systems)}")
        return system

    def check_paging(self, limit: int, offset: int = 0) -> None:
        if not 1 <= limit <= self.settings.max_limit:
            raise q.QueryError(f"limit must be between 1 and {self.settings.max_limit}")
        if not 0 <= offset <= self.settings.max_offset:
            raise q.QueryError(f"offset must be between 0 and {self.settings.max_offset}")

    @staticmethod
    def check_features(features) -> frozenset[str]:
        if features is None:
            return DEFAULT_FEATURES
        unknown = set(features) - set(qu.FEATURES)
        if unknown:
            raise q.QueryError(f"unknown query-understanding feature(s) {sorted(unknown)}; "
                               f"known: {', '.join(qu.FEATURES)}")
        return frozenset(features)

    # -- retrieval paths -------------------------------------------------------------------------
    def code_matches(self, code: str, system: str | None, limit: int) -> list[tuple[int, str]]:
        """Exact key first, then codes under that prefix in code order (k922 -> K92.2; 0DTJ -> 0DTJ0ZZ ...)."""
        sql = "SELECT id, key FROM codes WHERE key >= ? AND key < ?" + (" AND system = ?" if system else "")
        args = [code, code + "\uffff"] + ([system] if system else [])
        rows = self.store.db.execute(sql + " ORDER BY length(key), key LIMIT ?", args + [limit]).fetchall()
        return [(r[0], "code" if r[1] == code else "code prefix") for r in rows]

    def lexical(self, words: tuple[str, ...], system: str | None, limit: int,
                prefix_last: bool = False) -> list[tuple[int, float]]:
        """BM25 matches as (row id, weight): all words matched weighs 1, only some of them weighs less."""
        if not words:
            return []
        prefix_last = prefix_last and len(words[-1]) >= MIN_PREFIX  # 'o*' would match a third of the vocabulary
        stages = [(q.fts_expression(words, "AND", prefix_last), 1.0)]
        if len(words) > 1:
            some = self._or_words(words[:-1]) + words[-1:] if prefix_last else self._or_words(words)
            stages.append((q.fts_expression(some, "OR", prefix_last), PARTIAL_MATCH_WEIGHT))
        return self._fts(stages, system, limit)

    def lexical_understood(self, u: qu.Understood, system: str | None, limit: int) -> list[tuple[int, float]]:
        """Like `lexical`, with each query slot matched by its own words, an expansion or a spelling correction."""
        if not u.slots:
            return []
        stages = [(q.fts_slots(u.slots), 1.0)]
        if len(u.any_words) > 1:
            stages.append((q.fts_expression(self._or_words(u.any_words), "OR"), PARTIAL_MATCH_WEIGHT))
        return self._fts(stages, system, limit)

    def _or_words(self, words: tuple[str, ...]) -> tuple[str, ...]:
        """The words for the any-word stage: all but the very common ones (the rarest is kept if all are)."""
        kept = tuple(w for w in words if self.vocabulary.get(w, 0) <= self.common)
        if len(kept) > MAX_ANY_WORDS:  # a long description: its rarest words say the most and cost the least
            rarest = set(sorted(kept, key=lambda w: self.vocabulary.get(w, 0))[:MAX_ANY_WORDS])
            kept = tuple(w for w in kept if w in rarest)
        return kept or (min(words, key=lambda w: self.vocabulary.get(w, 0)),)

    def _fts(self, stages: list[tuple[str, float]], system: str | None, limit: int) -> list[tuple[int, float]]:
        where = " AND c.system = ?" if system else ""
        sql = (f"SELECT c.id FROM lexical JOIN codes c ON c.id = lexical.rowid WHERE lexical MATCH ?{where} "
               f"ORDER BY bm25(lexical, 10.0, 4.0, 1.0) LIMIT ?")
        found: dict[int, float] = {}
        for expression, weight in stages:
            for (row_id,) in self.store.db.execute(sql, [expression] + ([system] if system else []) + [limit]):
                found.setdefault(row_id, weight)
            if len(found) >= limit:
                break
        return list(found.items())[:limit]

    def dense(self, text: str, system: str | None, limit: int) -> list[tuple[int, float]]:
        vector = self.embed(text).reshape(1, -1)
        results: list[tuple[int, float]] = []
        for name in ([system] if system else self.store.systems):
            scores, positions = self.store.dense[name].search(vector, limit)
            ids = self.store.ids[name]
            results += [(int(ids[p]), float(s)) for s, p in zip(scores[0], positions[0]) if p >= 0]
        return sorted(results, key=lambda r: -r[1])[:limit]

    # -- the public call -------------------------------------------------------------------------
    def search(self, text: str, system: str | None = None, billable: bool | None = None, chapter: str | None = None,
               limit: int = 10, offset: int = 0, mode: str = "hybrid",
               features: frozenset[str] | None = None) -> SearchResult:
        """`features` picks query-understanding steps (default: DEFAULT_FEATURES; empty: none, the plain baselines)."""
        started = time.perf_counter()
        parsed = q.parse(text, self.settings.max_query_chars)
        system = self.check_system(system)
        self.check_paging(limit, offset)
        if mode not in MODES:
            raise q.QueryError(f"mode must be one of {', '.join(MODES)}")
        features = self.check_features(features)
        typing = not text.endswith((" ", "\t"))  # the last word may be unfinished
        u = self.understanding.understand(parsed.text, system, features, partial_last=typing)
        k = self.settings.candidates
        scores: dict[int, float] = {}
        reasons: dict[int, list[str]] = {}

        def add(ranked, path, reason_of, weight_of=lambda _item: 1.0):
            for rank, item in enumerate(ranked):
                row_id = item[0]
                weight = WEIGHTS[path] * weight_of(item)
                scores[row_id] = scores.get(row_id, 0.0) + weight / (self.settings.rrf_k + rank + 1)
                reasons.setdefault(row_id, []).append(reason_of(item))

        matches = self.code_matches(parsed.code, system, k) if parsed.code else []
        add(matches, "code", lambda m: m[1])
        for row_id, why in matches:
            if why == "code":
                scores[row_id] += 10.0
        # A query that is a code ("k922") has no meaning to search for in words once it matched codes.
        if mode in ("hybrid", "lexical"):
            add(self.lexical_understood(u, system, k), "lexical", lambda _i: "lexical", lambda m: m[1])
        if mode in ("hybrid", "dense") and not matches:
            add(self.dense(u.dense_text, system, k), "dense", lambda d: f"semantic {d[1]:.2f}")
        if u.intent:
            for row_id in scores:
                if self.store.system_of[row_id] != u.intent:
                    scores[row_id] *= qu.CONFLICT
        ranked = sorted(scores, key=lambda i: -scores[i])
        if u.sides or u.encounter:
            ranked = self._steer(ranked, scores, reasons, u)
        ranked = self._filter(ranked, billable, chapter)
        page = ranked[offset:offset + limit]
        rows = self.store.rows(page)
        hits = tuple(self._hit(rows[i], scores[i], reasons[i], u) for i in page if i in rows)
        return SearchResult(parsed.text, hits, len(ranked), round((time.perf_counter() - started) * 1000, 2), mode,
                            u.did_you_mean, tuple(str(e) for e in u.expansions))

    def _steer(self, ranked: list[int], scores: dict[int, float], reasons: dict[int, list[str]],
               u: qu.Understood) -> list[int]:
        """Re-order the top candidates by agreement with the query's side (left/right) and encounter."""
        head = ranked[:qu.STEER_DEPTH]
        rows = self.store.rows(head)
        for row_id in head:
            factor, why = qu.steer_factor(rows[row_id][3], u) if row_id in rows else (1.0, "")
            scores[row_id] *= factor
            if why:
                reasons[row_id].append(why)
        return sorted(head, key=lambda i: -scores[i]) + ranked[qu.STEER_DEPTH:]

    def _filter(self, ids: list[int], billable: bool | None, chapter: str | None) -> list[int]:
        if billable is not None:
            ids = [i for i in ids if self.store.billable[i] == billable]
        if chapter:
            ids = [i for i in ids if self.store.chapter[i] == chapter]
        return ids

    def _hit(self, row, score: float, why: list[str], u: qu.Understood | tuple[str, ...]) -> Hit:
        words = u.any_words if isinstance(u, qu.Understood) else u
        reasons = []
        for reason in why:
            if reason == "lexical":
                matched = matched_words(row[3], words)
                reasons.append("words: " + ", ".join(matched) if matched else "index or inclusion terms")
                if isinstance(u, qu.Understood):
                    reasons += [f"expanded {e}" for e in u.expansions
                                if matched_words(row[3], tuple(q.tokens(e.expansion))) and e.term not in matched]
            else:
                reasons.append(reason)
        return Hit(row[1], row[2], row[3], bool(row[4]), row[5], row[6], round(score, 5), tuple(reasons))

    def suggest(self, text: str, system: str | None = None, limit: int = 10) -> list[Hit]:
        """Typeahead: codes by prefix when code-shaped, otherwise titles whose words start with what was typed."""
        parsed = q.parse(text, self.settings.max_query_chars)
        system = self.check_system(system)
        self.check_paging(limit)
        found: list[tuple[int, str]] = []
        if parsed.code:
            found = self.code_matches(parsed.code, system, limit)
        if len(found) < limit and parsed.words:
            seen = {i for i, _ in found}
            prefix_last = not text.endswith(" ")
            found += [(i, "words") for i, _w in self.lexical(parsed.words, system, limit * 2, prefix_last)
                      if i not in seen]
        rows = self.store.rows([i for i, _ in found[:limit]])
        return [self._hit(rows[i], 0.0, [why], parsed.words) for i, why in found[:limit] if i in rows]


def matched_words(title: str, words: tuple[str, ...]) -> list[str]:
    """Query words found in a title, comparing the first five letters so 'fractures' matches 'fracture'."""
    title_words = {w[:5] for w in re.findall(r"[a-z0-9]+", title.lower())}
    return [w for w in words if w[:5] in title_words]
