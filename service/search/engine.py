"""Hybrid search: validates a request, runs the retrieval paths, fuses them and steers the top by query cues."""
from __future__ import annotations

import re
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from threading import Lock

from embeddings.encoders import Encoder, make_encoder
from embeddings.index import format as ix
from embeddings.index.rows import CodeRow
from embeddings.index.store import IndexStore
from embeddings.settings import Settings
from service.errors import QueryError
from service.search import coverage, families, headings, morphology, names, newtech, ranker, spelling, steering, terms, typeahead
from service.search import operations as ops
from service.search import query as q
from service.search import understanding as qu
from service.search.checks import Checks
from service.search.codelist import codes_listed, listed_result, only_common_words
from service.search.compose import Composer
from service.search.fusion import Candidate, Fusion
from service.search.intent import CONDITION_MIN_TITLES
from service.search.reasons import lexical_reason, matched_words
from service.search.retrievers import CodeRetriever, DenseRetriever, LexicalRetriever, QueryEmbeddings
from service.search.rolldown import SPECIFIC_WORDS, roll_down

MODES = ("hybrid", "lexical", "dense")
_CODE_START = re.compile(r"[A-Za-z]?[0-9]")
# Query-understanding features on by default; the evaluation's ablation says what each one adds.
DEFAULT_FEATURES = frozenset(qu.FEATURES)
# For lists with one code per row and no room for siblings (FHIR $expand, CTSS): every code keeps its own row.
FLAT_FEATURES = DEFAULT_FEATURES - {"families", "headings"}
INACTIVE_FACTOR = 0.5
PATH_THREADS = 4  # meaning-path threads: queries of a server's request threads wait their turn beyond this


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
    variants: tuple[families.Variant, ...] = ()  # the 7th-character siblings this hit stands for in the list


@dataclass(frozen=True)
class SearchResult:
    query: str
    hits: tuple[Hit, ...]
    total: int
    took_ms: float
    mode: str = "hybrid"
    did_you_mean: str | None = None
    expansions: tuple[str, ...] = ()
    warming: bool = False  # semantic search is not loaded yet (a words-stage index): words and codes only


class SearchEngine(Checks):
    def __init__(self, store: IndexStore, encoder: Encoder | None, settings: Settings):
        # A words-stage index has no model vectors: no model is needed and searches use codes and words only.
        self.warming = store.stage != "full"
        if not self.warming:
            if encoder is None:
                raise ValueError("an index with model vectors needs its encoder")
            ix.check_model(store.manifest, encoder.name, encoder.dim)
        self.store, self.encoder, self.settings = store, encoder, settings
        self.embed = QueryEmbeddings(encoder, settings.query_cache_size) if encoder is not None else None
        self.vocabulary = store.vocabulary()
        table = terms.load_table()
        protected = {w for k in table for w in k} | (encoder.vocabulary() if encoder is not None else set())
        speller = spelling.Speller(self.vocabulary, self._known_word, protected,
                                   lambda word, cap: store.lexical_count(q.fts_phrase(word), cap))
        operations = ops.Operations(ops.load_rules(), ops.device_words(store.titles_starting("icd10pcs", "Removal of ")),
                                    ops.root_words(store.first_title_words("icd10pcs", "table")))
        parts = morphology.Morphology(morphology.load_parts(), self.vocabulary)
        self.understanding = qu.Understanding(table, speller, store.abbreviations(), self._official_word, operations,
                                              parts, store.condition_words(CONDITION_MIN_TITLES),
                                              Composer(parts, self.vocabulary))
        self.ranker = ranker.load_configured(settings.ranker_file)
        self.codes = CodeRetriever(store)
        self.words = LexicalRetriever(store, self.vocabulary)
        self.meaning = DenseRetriever(store, self.embed) if self.embed is not None and not self.warming else None

    def _known_word(self, word: str) -> bool:
        """True when some document matches the word after stemming ('fractured' is known through 'fracture')."""
        return self.store.lexical_matches(q.fts_phrase(word))

    def _official_word(self, word: str) -> bool:
        """True when a title or synonym uses the word as written (or its plural), claim text aside."""
        # Exact words, not stems: the stemmer would take 'subs' for 'sub' and 'ant' stays an insect.
        return word in self.vocabulary or word + "s" in self.vocabulary

    def clear_query_cache(self) -> None:
        """Forget cached query vectors, so a timing run pays for encoding like a first-time query."""
        if self.embed is not None:
            self.embed.clear()

    @classmethod
    def open(cls, settings: Settings, encoder: Encoder | None = None) -> "SearchEngine":
        store = IndexStore(Path(settings.index_dir), settings.verify_checksums, settings.hnsw_ef_search,
                           Path(settings.cache_dir))
        if encoder is None and store.stage == "full":
            encoder = make_encoder(settings.encoder, settings.model, settings.threads, Path(settings.cache_dir))
        return cls(store, encoder, settings)

    # -- the public calls ------------------------------------------------------------------------
    def search(self, text: str, system: str | None = None, billable: bool | None = None, chapter: str | None = None,
               limit: int = 10, offset: int = 0, mode: str = "hybrid",
               features: frozenset[str] | None = None) -> SearchResult:
        """`features` picks query-understanding steps (default: DEFAULT_FEATURES; empty: none, the plain baselines)."""
        started = time.perf_counter()
        parsed = q.parse(text, self.settings.max_query_chars)
        system = self.check_system(system)
        self.check_paging(limit, offset)
        if mode not in MODES:
            raise QueryError(f"mode must be one of {', '.join(MODES)}")
        features = self.check_features(features)
        if (listed := codes_listed(self, parsed.text, system)) is not None:  # 'E11.9, I10': each code
            return listed_result(self, parsed.text, listed, billable, chapter, limit, offset, mode, started)
        if not parsed.code and only_common_words(parsed.text):  # 'the and of' would only find noise
            return SearchResult(parsed.text, (), 0, round((time.perf_counter() - started) * 1000, 2), mode,
                                warming=self.warming)
        parsed, u, fusion = self.candidates(text, parsed, system, mode, features)
        # A code-shaped query ('99213', 'I2199': a letter at most before a digit; 'covid19' is a word) that is no code,
        # no code's prefix and no word of any code has nothing the meaning path could be near: hybrid finds nothing.
        meaning_only = (parsed.code and mode == "hybrid" and _CODE_START.match(parsed.text) is not None
                        and all(set(p) == {"dense"} for p in fusion.seen.values()))
        ranked = [] if meaning_only else fusion.ranked()
        if "ranker" in features and self.ranker is not None:
            ranked = ranker.rerank(ranked, fusion, self.store, u, self.ranker, use_coverage="coverage" in features)
        elif "coverage" in features and u.slots:
            ranked = coverage.rerank(ranked, fusion, self.store, u.slots)
        inactive = any(self.store.inactive[i] for i in ranked[:steering.STEER_DEPTH])
        if (u.sides or u.encounter or u.operations or u.seventh or u.history or u.cause or u.intent or u.defaults
                or u.polarity or inactive):
            ranked = self._steer(ranked, fusion, u)
        said = frozenset(q.stem(w) for w in u.any_words)
        if "names" in features and not parsed.code:
            ranked = names.named_first(ranked, u.did_you_mean or parsed.text, fusion, self.store, said, u.expansions)
        if "new_technology" in features and u.slots:
            ranked = newtech.after_standard(ranked, self.store, u.slots)
        if "rolldown" in features:
            specific = len(parsed.words) >= SPECIFIC_WORDS  # a short query names no complication: the default code
            ranked = roll_down(ranked, fusion, self.store, specific, None if specific or not u.defaults else said)
        ranked = self._filter(ranked, billable, chapter)
        folded: dict[int, list[int]] = {}
        folding = "families" in features and families.applies(ranked, fusion, u)
        if folding:
            ranked, folded = families.fold(ranked, self.store)
        if "headings" in features and not parsed.code and billable is not False:
            ranked = headings.fold(ranked, self.store, folded)
        page = ranked[offset:offset + limit]
        if folding and u.encounter == steering.UNSTATED:  # read as unstated, not merely unread (feature off)
            page = families.initial_holders(page, folded, fusion, self.store)
        rows = self.store.rows(page + [j for i in page for j in folded.get(i, ())])
        # The synonyms of word matches whose titles lack the query's words, read at once, for their reasons.
        synonyms = self.store.official_names([i for i in page if i in rows and "lexical" in fusion.reasons[i]
                                              and not matched_words(rows[i].title, u.any_words)], title=False)
        hits = tuple(self.hit(rows[i], fusion.scores[i], fusion.reasons[i], u,
                               tuple(families.variant(rows[i], rows[j]) for j in folded.get(i, ()) if j in rows),
                               tuple(synonyms.get(i, ()))) for i in page if i in rows)
        return SearchResult(parsed.text, hits, len(ranked), round((time.perf_counter() - started) * 1000, 2), mode,
                            u.did_you_mean, tuple(str(e) for e in u.expansions), self.warming)

    def candidates(self, text: str, parsed: q.ParsedQuery, system: str | None, mode: str,
                   features: frozenset[str]) -> tuple[q.ParsedQuery, qu.Understood, Fusion]:
        """Understanding and fused retrieval, before any re-ranking: what the learned ranker is trained on."""
        typing = not text.endswith((" ", "\t"))  # the last word may be unfinished
        u = self.understanding.understand(parsed.text, system, features, partial_last=typing)
        beam = self.settings.hnsw_ef_hybrid if mode == "hybrid" and "ranker" in features and self.ranker else 0
        fusion = self._retrieve(parsed, u, system, mode, beam)
        if u.intent:
            fusion.damp([i for i in fusion.scores if self.store.system_of[i] != u.intent], steering.CONFLICT)
        # Codes deleted since an earlier release stay findable, below the codes valid today (unless typed exactly).
        fusion.damp([i for i in fusion.scores if self.store.inactive[i] and "code" not in fusion.reasons[i]],
                    INACTIVE_FACTOR)
        if "ranker" in features and self.meaning is not None and mode == "hybrid":
            # A candidate only the words found still has a meaning score: the ranker weighs both for every one.
            # (Also while no model is loaded: training collects these features before the model exists.)
            head = fusion.ranked()[:ranker.RANK_DEPTH]
            if any("dense" in fusion.seen.get(i, {}) for i in head):
                unseen = [i for i in head if "dense" not in fusion.seen.get(i, {})]
                fusion.similarity.update(self.meaning.similarities(u.dense_text, unseen))
                if "terms" in features:
                    fusion.term_similarity = self.meaning.term_similarities(u.dense_text, head)
        return parsed, u, fusion

    def _retrieve(self, parsed: q.ParsedQuery, u: qu.Understood, system: str | None, mode: str, beam: int) -> Fusion:
        k = self.settings.candidates
        fusion = Fusion(self.settings.rrf_k)
        matches = self.codes.search(parsed.code, system, k) if parsed.code else []
        fusion.add("code", matches)
        # A query that is a code ("k922") has no meaning to search for in words once it matched codes.
        meaning = mode in ("hybrid", "dense") and not matches and self.meaning is not None
        dense: Future[list[Candidate]] | None = None
        if meaning and self.settings.overlap_paths and mode == "hybrid":
            # ONNX Runtime, FAISS and SQLite release the GIL: encoding runs while FTS5 ranks.
            dense = _paths().submit(self._meaning, u.dense_text, system, k, u.synonyms, beam)
        if mode in ("hybrid", "lexical"):
            if u.claim_text and not matches:
                fusion.add("claim", self.words.whole_claims(parsed.text, system))
            fusion.add("lexical", self.words.search_understood(u, system, k))
        if meaning:
            fusion.add("dense", dense.result() if dense is not None else self._meaning(u.dense_text, system, k,
                                                                                      u.synonyms, beam))
        elif mode == "dense" and not matches and self.meaning is None:
            # semantic search is warming up: words stand in, and the result says so
            fusion.add("lexical", self.words.search_understood(u, system, k))
        return fusion

    def _meaning(self, text: str, system: str | None, k: int, synonyms: bool = False, beam: int = 0) -> list[Candidate]:
        assert self.meaning is not None
        return self.meaning.search(text, system, k, synonyms, beam)

    def _steer(self, ranked: list[int], fusion: Fusion, u: qu.Understood) -> list[int]:
        """Re-order the top candidates by agreement with the query's side (left/right) and encounter."""
        head = ranked[:steering.STEER_DEPTH]
        if u.seventh:
            head = families.with_seventh(head, fusion, self.store, u.seventh)
        rows = self.store.rows(head)
        for row_id in head:
            row = rows.get(row_id)
            factor, why = steering.steer_factor(row.title, u, row.code, row.system) if row else (1.0, "")
            # The ranker's order too yields to what the query's words ask for, and to codes valid today.
            if u.intent and self.store.system_of[row_id] != u.intent:
                factor *= steering.CONFLICT
            if self.store.inactive[row_id] and "code" not in fusion.reasons[row_id]:
                factor *= INACTIVE_FACTOR
            fusion.scores[row_id] *= factor
            if why:
                fusion.reasons[row_id].append(why)
        return sorted(head, key=lambda i: -fusion.scores[i]) + ranked[steering.STEER_DEPTH:]

    def _filter(self, ids: list[int], billable: bool | None, chapter: str | None) -> list[int]:
        if billable is not None:
            ids = [i for i in ids if self.store.billable[i] == billable]
        if chapter:
            ids = [i for i in ids if self.store.chapter[i] == chapter]
        return ids

    def hit(self, row: CodeRow, score: float, why: list[str], u: qu.Understood | tuple[str, ...],
             variants: tuple[families.Variant, ...] = (), synonyms: tuple[str, ...] = ()) -> Hit:
        """`synonyms`: a word match's official synonyms when its title lacks the query's words (read by `search`)."""
        words = u.any_words if isinstance(u, qu.Understood) else u
        reasons = []
        for reason in why:
            if reason == "lexical":
                matched = matched_words(row.title, words)
                reasons.append(lexical_reason(row.title, synonyms, words))
                if isinstance(u, qu.Understood):
                    reasons += [f"expanded {e}" for e in u.expansions
                                if matched_words(row.title, tuple(q.tokens(e.expansion))) and e.term not in matched]
            else:
                reasons.append(reason)
        return Hit(row.system, row.code, row.title, row.billable, row.kind, row.chapter, round(score, 5),
                   tuple(reasons), variants)

    def suggest(self, text: str, system: str | None = None, limit: int = 10) -> list[Hit]:
        """Typeahead (`typeahead.suggest`): codes by prefix, codes a table term names, titles' words as typed."""
        return typeahead.suggest(self, text, system, limit)


_POOL: list[ThreadPoolExecutor] = []
_POOL_LOCK = Lock()


def _paths() -> ThreadPoolExecutor:
    """The threads the meaning path runs on beside the word path, one pool for the process (engines come and go)."""
    with _POOL_LOCK:
        if not _POOL:
            _POOL.append(ThreadPoolExecutor(max_workers=PATH_THREADS, thread_name_prefix="medcodes-meaning"))
        return _POOL[0]
