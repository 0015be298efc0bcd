"""Content packs: authored code-page sections (Summary, Purpose, ...) from plain-text, JSON or YAML files."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from embeddings.codesets.base import SourceError

SECTIONS = ("Name", "Summary", "Purpose", "Indications", "Preparation", "Procedure Description",
            "Tools and Equipment", "Duration", "Setting", "Personnel", "Risks and Complications", "Benefits",
            "Recovery", "Alternatives", "Patient Experience")
# Headings people write for the same section.
ALIASES = {"name of the procedure": "Name", "procedure name": "Name", "description": "Procedure Description",
           "risks": "Risks and Complications", "complications": "Risks and Complications",
           "tools": "Tools and Equipment", "equipment": "Tools and Equipment"}
# Sections the page computes itself; a pack may carry the heading but its text is not used.
COMPUTED = {"similar codes"}
SEARCHED = ("Name", "Summary", "Purpose", "Indications", "Procedure Description")
_CANONICAL = {s.lower(): s for s in SECTIONS} | ALIASES
_HEADINGISH = re.compile(r"^[A-Z][A-Za-z ,/&()-]{2,40}:?$")
MAX_FILE_BYTES = 1_000_000


@dataclass(frozen=True)
class ContentEntry:
    system: str
    code: str
    sections: tuple[tuple[str, str], ...]
    source: str

    def section(self, name: str) -> str:
        return next((text for n, text in self.sections if n == name), "")

    def search_text(self) -> str:
        return " ".join(self.section(n) for n in SEARCHED if self.section(n))


@dataclass(frozen=True)
class PackReport:
    entries: tuple[ContentEntry, ...]
    warnings: tuple[str, ...]


def load_pack(folder: Path) -> PackReport:
    """A pack is a folder of SYSTEM/CODE.txt|.json|.yaml files; the pack's name is the folder name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SourceError(folder, "content pack must be a folder holding SYSTEM/CODE.txt|.json|.yaml files")
    entries, warnings = [], []
    for path in sorted(folder.glob("*/*")):
        if path.suffix.lower() not in {".txt", ".json", ".yaml", ".yml"} or not path.is_file():
            continue
        if path.stat().st_size > MAX_FILE_BYTES:
            raise SourceError(path, f"content file is larger than {MAX_FILE_BYTES} bytes")
        sections, notes = _read(path)
        warnings.extend(notes)
        entries.append(ContentEntry(path.parent.name.lower(), path.stem, tuple(sections), folder.name))
    if not entries:
        raise SourceError(folder, "no content files found (expected SYSTEM/CODE.txt, .json or .yaml)")
    return PackReport(tuple(entries), tuple(warnings))


def _read(path: Path) -> tuple[list[tuple[str, str]], list[str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SourceError(path, "not valid UTF-8 text") from None
    if path.suffix.lower() == ".txt":
        return parse_text(text, str(path))
    return _parse_mapping(_load_structured(path, text), str(path))


def _load_structured(path: Path, text: str) -> dict:
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml
            data = yaml.safe_load(text)  # safe_load: never constructs objects from the file
    except Exception as exc:  # JSON and YAML raise different error types; both mean a malformed file
        line = getattr(exc, "lineno", None) or getattr(getattr(exc, "problem_mark", None), "line", None)
        raise SourceError(path, f"malformed {path.suffix[1:].upper()} ({type(exc).__name__})", line) from None
    if not isinstance(data, dict):
        raise SourceError(path, "expected a mapping of section name to text")
    return data


def _parse_mapping(data: dict, where: str) -> tuple[list[tuple[str, str]], list[str]]:
    sections, warnings = {}, []
    for key, value in data.items():
        name = _CANONICAL.get(str(key).strip().rstrip(":").lower())
        if name is None:
            if str(key).strip().lower() not in COMPUTED:
                warnings.append(f"{where}: unknown section {key!r} ignored")
            continue
        if isinstance(value, list):
            value = "\n".join(f"- {item}" for item in value)
        if not isinstance(value, (str, int, float)):
            raise SourceError(where, f"section {key!r} must be text or a list of text")
        sections[name] = str(value).strip()
    return _ordered(sections), warnings


def parse_text(text: str, where: str = "<text>") -> tuple[list[tuple[str, str]], list[str]]:
    """The plain-text page layout: a line holding only a section name starts that section."""
    sections: dict[str, list[str]] = {}
    warnings: list[str] = []
    current = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        key = line.rstrip(":").strip().lower()
        if key in _CANONICAL:
            current = _CANONICAL[key]
            sections.setdefault(current, [])
            continue
        if key in COMPUTED:
            current = None
            continue
        if current is None:
            continue  # preamble (site chrome, code and system lines) before the first section
        if raw.endswith(":") and _HEADINGISH.match(line) and not raw.startswith((" ", "\t")):
            warnings.append(f"{where}:{number}: unknown section {line.rstrip(':')!r}; its text is kept under {current}")
        sections[current].append(_bullet(line))
    cleaned = {name: "\n".join(lines).strip() for name, lines in sections.items()}
    return _ordered({k: v for k, v in cleaned.items() if v}), warnings


def _bullet(line: str) -> str:
    return re.sub(r"^[•*·▪-]\s*", "- ", line)


def _ordered(sections: dict[str, str]) -> list[tuple[str, str]]:
    return [(name, sections[name]) for name in SECTIONS if name in sections]
