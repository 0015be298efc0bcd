"""Validate lay_queries.tsv: usage: check_lay_queries.py TSV CM_CODE_LIST PCS_CSV."""
import csv
import re
import sys
from collections import Counter

SYSTEMS = {"icd10cm", "icd10pcs"}
KINDS = {"lay", "abbrev", "typo", "laterality", "clinical"}
PREFIX_RE = re.compile(r"^[0-9A-Z]{1,7}$")


def load_codes(cm_path, pcs_path):
    with open(cm_path, encoding="utf-8") as f:
        cm = {ln.strip() for ln in f if ln.strip() and "-" not in ln and ln.strip()[0].isalpha()}
    with open(pcs_path, encoding="utf-8", newline="") as f:
        pcs = {row[0].strip() for row in csv.reader(f) if row}
    return {"icd10cm": sorted(cm), "icd10pcs": sorted(pcs)}


def main(argv):
    if len(argv) != 4:
        sys.exit(__doc__)
    codes = load_codes(argv[2], argv[3])
    errors, seen, counts = [], set(), Counter()
    with open(argv[1], encoding="utf-8") as f:
        lines = f.read().splitlines()
    if not lines or lines[0] != "query\tsystem\tprefixes\tkind":
        errors.append("line 1: bad header")
    for n, line in enumerate(lines[1:], start=2):
        cols = line.split("\t")
        if len(cols) != 4:
            errors.append(f"line {n}: expected 4 columns, got {len(cols)}")
            continue
        query, system, prefixes, kind = cols
        if not query.strip() or query != query.strip():
            errors.append(f"line {n}: empty or padded query")
        if (query, system) in seen:
            errors.append(f"line {n}: duplicate query {query!r}")
        seen.add((query, system))
        if system not in SYSTEMS or kind not in KINDS:
            errors.append(f"line {n}: bad system {system!r} or kind {kind!r}")
            continue
        counts[system, kind] += 1
        for p in prefixes.split("|"):
            if not PREFIX_RE.match(p):
                errors.append(f"line {n}: malformed prefix {p!r}")
            elif not any(c.startswith(p) for c in codes[system]):
                errors.append(f"line {n}: prefix {p} matches no {system} code")
    for (system, kind), c in sorted(counts.items()):
        print(f"{system}\t{kind}\t{c}")
    print(f"total\t{sum(counts.values())}\terrors\t{len(errors)}")
    for e in errors:
        print(e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
