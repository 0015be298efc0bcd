"""Writing an index's SQLite files: the catalogue (codes, FTS5 lexical table, vocabularies, content) and groupings."""
from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Mapping, Sequence

from embeddings.codesets.content import ContentEntry
from embeddings.crossrefs import Mention
from embeddings.documents import Document
from embeddings.index import format as fmt
from embeddings.records import Code, SystemInfo, code_key

FAST_WRITES = "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-262144; PRAGMA temp_store=MEMORY;"
_VOCABULARY_WORD = re.compile(r"[a-z][a-z0-9']{2,}")


def write_catalogue(path: Path, infos: Sequence[SystemInfo], codes: Sequence[Code], docs: Sequence[Document],
                    content: Sequence[ContentEntry] = (), abbreviations: Mapping[str, str] | None = None,
                    vocabulary_systems: set[str] | None = None,
                    mentions: Mapping[tuple[str, str], Sequence[Mention]] | None = None) -> None:
    """`mentions`: the phrases other codes' notes use for a code, shown on its page."""
    db = sqlite3.connect(path)
    try:
        # Written aside and fsynced before any server may open it: no journal and no syncs while writing.
        db.executescript(FAST_WRITES)
        db.executescript(fmt.CATALOGUE_SCHEMA)
        db.executemany("INSERT INTO systems VALUES (?, ?)", [(i.name, json.dumps(fmt.info_dict(i))) for i in infos])
        rows = ((n, c.system, c.code, c.key, c.title, int(c.billable), c.kind, c.parent, c.chapter,
                 len(c.parents), json.dumps(c.to_dict(), separators=(",", ":")), d.embed_text)
                for n, (c, d) in enumerate(zip(codes, docs)))
        db.executemany("INSERT INTO codes VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        db.executemany("INSERT INTO lexical(rowid, title, terms, context, claim) VALUES (?,?,?,?,?)",
                       ((n, d.title, d.terms, d.context, d.claim) for n, d in enumerate(docs)))
        db.executemany("INSERT INTO names VALUES (?, ?, ?)", [(n, name, official) for n, d in enumerate(docs)
                                                              for official, found in ((1, d.names), (0, d.wordings))
                                                              for name in found])
        db.executemany("INSERT INTO abbreviations VALUES (?, ?)", sorted((abbreviations or {}).items()))
        db.executemany("INSERT INTO content VALUES (?, ?, ?, ?)",
                       [(e.system, code_key(e.code), e.source, json.dumps(e.sections)) for e in content])
        db.executemany("INSERT INTO mentions VALUES (?, ?, ?, ?, ?)",
                       [(system, code_key(code), m.source, m.kind, m.text)
                        for (system, code), found in sorted((mentions or {}).items()) for m in found])
        words = Counter(w for d in docs if vocabulary_systems is None or d.system in vocabulary_systems
                        for w in _VOCABULARY_WORD.findall(f"{d.title} {d.terms}".lower()))
        db.executemany("INSERT INTO vocabulary VALUES (?, ?)", words.items())
        db.executemany("INSERT INTO conditions VALUES (?, ?)", sorted(condition_words(docs).items()))
        db.execute("INSERT INTO lexical(lexical) VALUES ('optimize')")
        db.commit()
        db.execute("VACUUM")
    finally:
        db.close()


def condition_words(docs: Sequence[Document]) -> Counter[str]:
    """Words that begin ICD-10-CM titles ('obstruction', 'deficiency', 'congenital') and that no ICD-10-PCS title or
    synonym uses, each with the number of titles it begins: a query that says one asks for a diagnosis."""
    procedure = {w for d in docs if d.system == "icd10pcs" for w in _VOCABULARY_WORD.findall(f"{d.title} {d.terms}".lower())}
    first = Counter(m.group(0) for d in docs if d.system == "icd10cm" and (m := _VOCABULARY_WORD.match(d.title.lower())))
    return Counter({w: n for w, n in first.items() if w not in procedure})


def write_groupings(path: Path, meta: list[tuple[str, str]], labels: list[tuple[str, str, str, str]],
                    groups: list[tuple[str, str, str, str]], families: list[tuple[str, str, str, str, str]],
                    gems: list[tuple[str, str, str, str, str, int, int]]) -> None:
    db = sqlite3.connect(path)
    try:
        db.executescript(fmt.GROUPINGS_SCHEMA)
        db.executemany("INSERT INTO meta VALUES (?, ?)", meta)
        db.executemany("INSERT INTO labels VALUES (?,?,?,?)", labels)
        db.executemany("INSERT INTO groups VALUES (?,?,?,?)", groups)
        db.executemany("INSERT INTO families VALUES (?,?,?,?,?)", families)
        db.executemany("INSERT INTO gems VALUES (?,?,?,?,?,?,?)", gems)
        db.commit()
    finally:
        db.close()
