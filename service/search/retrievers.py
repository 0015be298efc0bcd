"""The three retrieval paths behind one contract, `search(..., system, limit) -> list[Candidate]`."""
from __future__ import annotations

import bisect
import re
from collections import OrderedDict
from threading import Lock

import numpy as np

from embeddings.abbreviations import claim_words
from embeddings.encoders import Encoder
from embeddings.index import dense
from embeddings.index.store import IndexStore
from service.search import query as q
from service.search import understanding as qu
from service.search.fusion import PARTIAL_MATCH_WEIGHT, Candidate

# A word found in more than this share of documents ("left", "encounter", "approach") is evidence too weak
# to retrieve by alone.
COMMON_SHARE = 0.05
MAX_ANY_WORDS = 8  # the any-word stage of a long query uses its rarest words only
# The any-word stage ranks, by BM25, every document it matches, and its cost grows with the number of documents
# (about 7 µs each here; an OR of eight words can match 40,000). So it matches only documents holding one of its
# anchors, the rarest words whose document counts add up to at most ANCHOR_POSTINGS, and ranks them by all its
# words: the same order at the top, for a bounded cost.
ANCHOR_POSTINGS = 5000
MIN_PREFIX = 3  # typeahead completes a last word of at least this many letters
# Words are matched in the official text only. Claim text (CMS short descriptions) is matched whole, as an
# identifier: word by word, a sibling's claim shares every abbreviation of the query but one and outranks the code.
OFFICIAL_COLUMNS = ("title", "terms", "context")
TYPEAHEAD_COLUMNS = ("title", "terms", "claim")  # a code's own words, without the hierarchy's
MIN_CLAIM_WORDS = 2  # a one-word query is searched as a word, not as a whole claim text
CLAIM_LOOKUP = 8  # claim texts starting with the query's words that are read to find the one equal to it
_TEXT_WORD = re.compile(r"[a-z0-9]+")
SYNONYMS_SEARCHED = 40  # synonym vectors nearest the query whose codes join the meaning path (`terms`)
SYNONYM_MAX_CODES = 5  # a synonym naming more codes than this names a family (a PCS Index term): not a candidate
GUARD_DEPTH = 40  # lexical candidates the stem-collision guard reads; deeper ones add little to the fusion


class CodeRetriever:
    """Exact key first, then codes under that prefix in code order (k922 -> K92.2; 0DTJ -> 0DTJ0ZZ ...)."""

    def __init__(self, store: IndexStore):
        self.store = store

    def search(self, key: str, system: str | None, limit: int) -> list[Candidate]:
        return [Candidate(r.id, 1.0, "code" if r.key == key else "code prefix", exact=r.key == key)
                for r in self.store.keys_from(key, system, limit)]


class LexicalRetriever:
    """FTS5 BM25 in stages: every query slot matched first (weight 1), then any of its rarer words (less)."""

    def __init__(self, store: IndexStore, vocabulary: dict[str, int]):
        self.store, self.vocabulary = store, vocabulary
        stored, by_word = store.term_documents()
        self.terms = stored | by_word
        self.stored = sorted(stored)  # the stored terms in order, for the postings of a prefix
        self.stored_counts = [stored[t] for t in self.stored]
        self.common = max(1, int(COMMON_SHARE * store.manifest["counts"]["codes"]))
        self.budget = ANCHOR_POSTINGS

    def search(self, words: tuple[str, ...], system: str | None, limit: int,
               prefix_last: bool = False) -> list[Candidate]:
        """Typeahead's words: all of them, then some; the last one as a prefix when it may be unfinished. Only a
        code's own text is matched (title, synonyms, claim text), not its hierarchy: 'skin' suggests codes that say
        skin, not the whole chapter, and reads about a fourteenth of the postings ('skin': 1,693 of 24,058)."""
        if not words:
            return []
        prefix_last = prefix_last and len(words[-1]) >= MIN_PREFIX  # 'o*' would match a third of the vocabulary
        stages = [(q.fts_expression(words, "AND", prefix_last), 1.0)]
        if len(words) > 1:
            # The unfinished last word ranks, and anchors only when its postings fit ('fra*' is a fifth of the index).
            if prefix_last:
                stages += self.any_word_stage(self.or_words(words[:-1]), words[-1:])
            else:
                stages += self.any_word_stage(self.or_words(words))
        own = " ".join(TYPEAHEAD_COLUMNS)
        return self._staged([(f"{{{own}}} : ({expression})", weight) for expression, weight in stages], system, limit)

    def search_understood(self, u: qu.Understood, system: str | None, limit: int) -> list[Candidate]:
        """Each query slot matched by its own words, an expansion or a spelling correction."""
        if not u.slots:
            return []
        stages = [(q.fts_slots(u.slots), 1.0)]
        if len(u.any_words) > 1:
            stages += self.any_word_stage(self.or_words(u.any_words), anchored=u.anchored)
        official = " ".join(OFFICIAL_COLUMNS)
        stages = [(f"{{{official}}} : ({expression})", weight) for expression, weight in stages]
        found = self._staged(stages, system, limit)
        return self.forms_first(found, u.slots) if u.stem_guard else found

    def search_slots(self, slots: tuple[tuple[tuple[str, ...], ...], ...], system: str | None,
                     limit: int) -> list[Candidate]:
        """Typeahead's table terms: every slot matched in a code's own words, no any-word stage, and only when the
        matches are few enough to rank at typing speed (at most `budget`, counted by each slot's rarest words: 'heart
        att' -> acute myocardial infarction is; 'broken' -> fracture, in a fifth of the codes, is left to the words)."""
        if not slots or min(sum(min(self.document_count(w) for w in alt) for alt in slot if alt)
                            for slot in slots) > self.budget:
            return []
        own = " ".join(TYPEAHEAD_COLUMNS)
        return self._staged([(f"{{{own}}} : ({q.fts_slots(slots)})", 1.0)], system, limit)

    def whole_claims(self, text: str, system: str | None) -> list[Candidate]:
        """Codes whose claim text is the query word for word (case, punctuation and 'w/o' forms aside): pasted
        from a claim, it names its code as the code itself would, and is pinned first like an exact code."""
        words = claim_words(text)
        if len(words) < MIN_CLAIM_WORDS:
            return []
        expression = "claim : ^" + q.fts_phrase(" ".join(words))
        return [Candidate(i, 1.0, "claim text", exact=True)
                for i, claim in self.store.claims(expression, system, CLAIM_LOOKUP) if claim_words(claim) == words]

    def forms_first(self, found: list[Candidate], slots: tuple[tuple[tuple[str, ...], ...], ...]) -> list[Candidate]:
        """Stem-collision guard: of the top GUARD_DEPTH, candidates that hold a form of every slot's words keep
        their BM25 order ahead of those the stemmer alone matched ('fits' finds seizures before 'Device Fitting')."""
        head, rest = found[:GUARD_DEPTH], found[GUARD_DEPTH:]
        texts = self.store.lexical_texts([c.id for c in head], OFFICIAL_COLUMNS)
        good: list[Candidate] = []
        weak: list[Candidate] = []
        asked = q.asked(slots)
        for c in head:
            # The query words the text holds a form of.
            in_text = {w for t in set(_TEXT_WORD.findall(texts.get(c.id, "").lower())) for w in asked[t]}
            held = all(any(in_text.issuperset(alt) for alt in slot if alt) for slot in slots)
            (good if held else weak).append(c if held or c.weight < 1 else Candidate(c.id, PARTIAL_MATCH_WEIGHT,
                                                                                      c.reason))
        return good + weak + rest

    def any_word_stage(self, some: tuple[str, ...], prefix: tuple[str, ...] = (),
                       anchored: bool = True) -> list[tuple[str, float]]:
        """The any-word stage over `some` (and an unfinished last word, `prefix`, which ranks, and anchors when the
        budget left allows), or none when nothing is rare enough to anchor it; unanchored, plain BM25 over every
        document holding any of `some`."""
        anchors = self.anchors(some) if anchored else some
        last = prefix[0] if prefix else ""
        left = self.budget - sum(self.document_count(w) for w in anchors)
        prefix_anchors = bool(last) and anchored and self.prefix_documents(last, left) <= left
        if not anchors and not prefix_anchors:
            return []
        rest = tuple(w for w in some if w not in anchors)
        return [(q.fts_anchored(anchors, rest, last, prefix_anchors), PARTIAL_MATCH_WEIGHT)]

    def or_words(self, words: tuple[str, ...]) -> tuple[str, ...]:
        """The words for the any-word stage: all but the very common ones (the rarest is kept if all are)."""
        kept = tuple(w for w in words if self.vocabulary.get(w, 0) <= self.common)
        if len(kept) > MAX_ANY_WORDS:  # a long description: its rarest words say the most and cost the least
            rarest = set(sorted(kept, key=lambda w: self.vocabulary.get(w, 0))[:MAX_ANY_WORDS])
            kept = tuple(w for w in kept if w in rarest)
        return kept or (min(words, key=lambda w: self.vocabulary.get(w, 0)),)

    def anchors(self, words: tuple[str, ...]) -> tuple[str, ...]:
        """The rarest of the words whose document counts add up to at most the budget, in query order; none when
        even the rarest is that common (the all-words stage and meaning search still run)."""
        counts = {w: self.document_count(w) for w in words}
        kept: set[str] = set()
        total = 0
        for word in sorted(counts, key=lambda w: (counts[w], w)):
            if total + counts[word] > self.budget:
                break
            kept.add(word)
            total += counts[word]
        return tuple(w for w in counts if w in kept)

    def document_count(self, word: str) -> int:
        """Documents the lexical table matches the word in, the cost of its posting list: through its stem for a
        word of the official text, as stored for others (claim abbreviations: 'fx', 'init')."""
        return max(self.terms.get(word, 0), self.vocabulary.get(word, 0) + self.vocabulary.get(word + "s", 0))

    def prefix_documents(self, prefix: str, limit: int) -> int:
        """Postings of the stored terms that start with `prefix` (what 'neph*' reads), counted up to just past
        `limit`."""
        total = 0
        i = bisect.bisect_left(self.stored, prefix)
        while i < len(self.stored) and self.stored[i].startswith(prefix) and total <= limit:
            total += self.stored_counts[i]
            i += 1
        return total

    def _staged(self, stages: list[tuple[str, float]], system: str | None, limit: int) -> list[Candidate]:
        found: dict[int, float] = {}
        for expression, weight in stages:
            for row_id in self.store.lexical(expression, system, limit):
                found.setdefault(row_id, weight)
            if len(found) >= limit:
                break
        return [Candidate(i, w, "lexical") for i, w in list(found.items())[:limit]]


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
        vector: np.ndarray = self.encoder.encode([key])[0]
        with self._lock:
            self._cache[key] = vector
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return vector

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()


class DenseRetriever:
    """FAISS inner-product search of the query vector in each system searched, merged by score."""

    def __init__(self, store: IndexStore, embed: QueryEmbeddings):
        self.store, self.embed = store, embed

    def search(self, text: str, system: str | None, limit: int, synonyms: bool = False,
               beam: int = 0) -> list[Candidate]:
        """`beam`: the HNSW beam width for this search (0 or less: the index's own, `hnsw_ef_search`)."""
        vector = self.embed(text).reshape(1, -1)
        results: list[tuple[int, float]] = []
        found_by: dict[int, str] = {}  # codes found through one of their synonyms: which one
        for name in ([system] if system else self.store.scope):
            scores, positions = dense.search(self.store.dense[name], vector, limit, beam)
            ids = self.store.ids[name]
            results += [(int(ids[p]), float(s)) for s, p in zip(scores[0], positions[0]) if p >= 0]
        if synonyms and self.store.term_vectors is not None:
            # Best of the code's own vector and its synonyms' vectors: a query worded like one synonym finds the code
            # even where the code's single vector, a blend of title and synonyms, lies farther away.
            best = dict(results)
            scope = {system} if system else set(self.store.scope)
            for i, s, synonym in self.store.term_vectors.nearest(vector[0], SYNONYMS_SEARCHED, SYNONYM_MAX_CODES):
                # Codable codes, and ICD-10-CM categories (their includes notes), not PCS tables or sections.
                codable = self.store.billable[i] or self.store.system_of[i] == "icd10cm"
                if codable and self.store.system_of[i] in scope and s > best.get(i, -1.0):
                    best[i] = s
                    found_by[i] = synonym
            results = list(best.items())
        results.sort(key=lambda r: -r[1])
        return [Candidate(i, 1.0, f"semantic {s:.2f}" + (f", synonym: {found_by[i]}" if i in found_by else ""), score=s)
                for i, s in results[:limit]]

    def similarities(self, text: str, ids: list[int]) -> dict[int, float]:
        """The query's cosine similarity to each candidate's stored vector (candidates without one are left out)."""
        vector = self.embed(text)  # the search just encoded it: a cache hit
        found: dict[int, float] = {}
        for i in ids:
            stored = self.store.vector(str(self.store.system_of[i]), i)
            if stored is not None:
                found[i] = float(stored @ vector)
        return found

    def term_similarities(self, text: str, ids: list[int]) -> dict[int, float]:
        """The query's best cosine to one of each candidate's own synonyms (an index without them: none)."""
        terms = self.store.term_vectors
        return terms.best(ids, self.embed(text)) if terms is not None else {}
