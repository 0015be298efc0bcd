"""`python -m service.evaluation.exclusions`: what model training must leave out, from every evaluation set."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from embeddings.index.store import IndexStore
from embeddings.locate import repo_file
from embeddings.records import code_key
from embeddings.settings import Settings
from service.evaluation import sets as es

OUT = repo_file("data", "model", "excluded.tsv")


def exclusion_lines(store: IndexStore) -> list[str]:
    """'system<TAB>prefix' for every accepted prefix and held-out code of every set, 'text<TAB>query' for every
    query: the codes a set measures and the wordings it asks with never become training pairs. The ranker's
    training sets are left out too: its dense-score feature must be as unseen on them as on evaluation queries."""
    prefixes, texts = set(), set()
    evaluation = es.query_sets(store)
    for qset in [*evaluation.values(), *es.train_sets(store, evaluation).values()]:
        for query in qset.queries:
            prefixes.update((query.system, p) for p in query.prefixes)
            texts.add(es.query_key(query.text))
        prefixes.update((system, code_key(code)) for (system, code), _terms in qset.held_out)
    return sorted(f"{s}\t{p}" for s, p in prefixes) + sorted(f"text\t{t}" for t in texts)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service.evaluation.exclusions", description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    store = IndexStore(Path(settings.index_dir), settings.verify_checksums, settings.hnsw_ef_search)
    lines = exclusion_lines(store)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(lines):,} exclusions -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
