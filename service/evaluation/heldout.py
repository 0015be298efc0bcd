"""The held-out index: the main index rebuilt without the terms a query set measures, so they are unseen text."""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Callable

from embeddings.index.build import BuildRequest, build_index, current_fingerprint, fingerprint, load_codesets
from embeddings.index.store import IndexStore
from embeddings.settings import Settings


def heldout_dir(index_dir: Path) -> Path:
    """Beside the main index: data/index -> data/eval/index-heldout."""
    return Path(index_dir).parent / "eval" / "index-heldout"


def base_request(manifest: dict) -> BuildRequest:
    """The request the main index was built from, as far as its manifest records it."""
    recorded = manifest.get("request") or {}
    return BuildRequest(systems=tuple(recorded.get("systems") or manifest["systems"]),
                        sources=dict(recorded.get("sources") or {}), custom=dict(recorded.get("custom") or {}),
                        prefixes=tuple(recorded.get("prefixes") or ()),
                        content=tuple(Path(c) for c in recorded.get("content") or ()))


def heldout_request(base: BuildRequest, sets) -> BuildRequest:
    held: dict[tuple[str, str], frozenset[str]] = {}
    for qset in sets:
        for key, terms in qset.held_out:
            held[key] = held.get(key, frozenset()) | terms
    return dataclasses.replace(base, held_out=held)


def ensure_heldout_index(settings: Settings, store: IndexStore, sets, encoder, base: BuildRequest | None = None,
                         log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)) -> Path:
    """Build (or keep, when its fingerprint is current) the main index minus every held-out term.

    Shares the embedding cache with the main index, so only documents that lost a term are encoded.
    """
    target = settings.replace(index_dir=heldout_dir(settings.index_dir))
    request = heldout_request(base or base_request(store.manifest), sets)
    if current_fingerprint(target.index_dir) == fingerprint(target, request, encoder.name):
        return target.index_dir
    codes = sum(len(s.codes) for s in load_codesets(request))
    if codes != store.manifest["counts"]["codes"]:
        raise ValueError(f"{store.directory} holds {store.manifest['counts']['codes']:,} codes but its build request "
                         f"gives {codes:,}: it was built from a subset its manifest does not record. Pass the "
                         "same subset to the held-out build (eval_sets.ensure_heldout_index(..., base=...)).")
    build_index(target, request, encoder=encoder, force=True, log=log)
    return target.index_dir


def open_heldout(settings: Settings, store: IndexStore) -> IndexStore:
    """The held-out index, refused when it holds other codes than the main index (built from another subset)."""
    if not (heldout_dir(settings.index_dir) / "manifest.json").exists():
        raise ValueError(f"no held-out index at {heldout_dir(settings.index_dir)}; `medcodes evaluate` builds it")
    heldout = IndexStore(heldout_dir(settings.index_dir), settings.verify_checksums, settings.hnsw_ef_search)
    if heldout.manifest["counts"]["codes"] != store.manifest["counts"]["codes"]:
        raise ValueError(f"the held-out index at {heldout.directory} has {heldout.manifest['counts']['codes']:,} "
                         f"codes but {store.directory} has {store.manifest['counts']['codes']:,}; delete it and "
                         "run `medcodes evaluate` again; for a subset index, its manifest must record the build request")
    return heldout
