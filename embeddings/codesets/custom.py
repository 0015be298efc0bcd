"""User-supplied code systems (a licensed CPT or HCPCS file) from CSV or JSONL; content is only ever read as text."""
from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

from embeddings.codesets.base import CodeSet, SourceError
from embeddings.records import Code, SystemInfo, code_key

_SYSTEM_NAME = re.compile(r"^[a-z][a-z0-9_]{1,31}$")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,15}$")
_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f", ""}
MAX_FIELD = 20_000
BUILTIN_NAMES = {"icd10cm", "icd10pcs", "icd9cm", "icd9pcs", "msdrg"}


def load(system: str, path: Path, version: str = "user-supplied") -> CodeSet:
    if not _SYSTEM_NAME.match(system) or system in BUILTIN_NAMES:
        raise ValueError(f"custom system name {system!r} must be lower-case letters/digits/_ and not a built-in name")
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SourceError(path, f"cannot read ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SourceError(path, "not valid UTF-8 text", line) from None
    rows = _jsonl_rows(path, text) if path.suffix.lower() in {".jsonl", ".ndjson"} else _csv_rows(path, text)
    codes: dict[str, Code] = {}
    for line, row in rows:
        code = _record(path, line, system, row, version)
        if code.key in codes:
            raise SourceError(path, f"duplicate code {code.code!r}", line)
        codes[code.key] = code
    if not codes:
        raise SourceError(path, "no codes found (need at least the columns code,title)")
    for code in codes.values():
        if code.parents and code_key_of(code.parents[-1]) not in codes:
            raise SourceError(path, f"code {code.code!r} names parent {code.parents[-1]!r}, which is not in the file")
    resolved = _resolve_parents(codes)
    info = SystemInfo(name=system, title=system.upper(), version=version, source=f"user-supplied file {path.name}",
                      licence="Supplied by the operator under their own licence; not redistributed by medcodes",
                      counts={"codes": len(resolved), "billable": sum(c.billable for c in resolved)})
    return CodeSet(info=info, codes=tuple(resolved))


def code_key_of(code: str) -> str:
    return code_key(code)


def _csv_rows(path: Path, text: str):
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
        reader.fieldnames = header
        if "code" not in header or "title" not in header:
            raise SourceError(path, f"header must include code and title, found {header}", 1)
        for row in reader:
            if None in row:
                raise SourceError(path, "row has more fields than the header", reader.line_num)
            yield reader.line_num, row
    except csv.Error as exc:
        raise SourceError(path, f"malformed CSV ({exc})", reader.line_num) from None


def _jsonl_rows(path: Path, text: str):
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise SourceError(path, f"not a JSON object ({exc.msg})", line) from None
        if not isinstance(row, dict):
            raise SourceError(path, "each line must be a JSON object", line)
        yield line, {str(k).lower(): v for k, v in row.items()}


def _field(path, line, row, name) -> str:
    value = row.get(name)
    if value is None:
        return ""
    if not isinstance(value, (str, int, float, bool)):
        raise SourceError(path, f"field {name!r} must be text", line)
    text = " ".join(str(value).split())
    if len(text) > MAX_FIELD:
        raise SourceError(path, f"field {name!r} is longer than {MAX_FIELD} characters", line)
    if any(ord(ch) < 32 for ch in text):
        raise SourceError(path, f"field {name!r} contains control characters", line)
    return text


def _record(path, line, system, row, version) -> Code:
    code = _field(path, line, row, "code")
    title = _field(path, line, row, "title")
    if not _CODE.match(code):
        raise SourceError(path, f"invalid code {code!r} (letters, digits, '.' or '-', at most 16 characters)", line)
    if not title:
        raise SourceError(path, f"code {code!r} has an empty title", line)
    row_system = _field(path, line, row, "system").lower()
    if row_system and row_system != system:
        raise SourceError(path, f"row is for system {row_system!r} but the file was loaded as {system!r}", line)
    billable_text = _field(path, line, row, "billable").lower()
    if billable_text not in _TRUE | _FALSE:
        raise SourceError(path, f"billable must be true/false, got {billable_text!r}", line)
    parent = _field(path, line, row, "parent")
    return Code(system, code, title, billable_text in _TRUE or billable_text == "", "code",
                (parent,) if parent else (), "", "", description=_field(path, line, row, "description"),
                version=version)


def _resolve_parents(codes: dict[str, Code]) -> list[Code]:
    """Expand each direct parent into the full chain from the root; a cycle is an error."""
    by_code = {c.code: c for c in codes.values()}
    out = []
    for code in codes.values():
        chain, seen, cursor = [], {code.code}, code
        while cursor.parents:
            parent = by_code[cursor.parents[-1]] if cursor.parents[-1] in by_code else codes[code_key_of(cursor.parents[-1])]
            if parent.code in seen:
                raise SourceError(code.system, f"parent cycle through {parent.code!r}")
            seen.add(parent.code)
            chain.append(parent.code)
            cursor = parent
        chain.reverse()
        root = chain[0] if chain else code.code
        out.append(Code(**{**code.__dict__, "parents": tuple(chain), "chapter": root}))
    return out
