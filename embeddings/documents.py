"""One Document per code: a short text to embed and weighted fields for lexical (FTS5) search."""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Iterable, Mapping

from embeddings.abbreviations import spell_slashes
from embeddings.analogies import parallel_wordings
from embeddings.classifiable import covered_titles
from embeddings.codesets.content import ContentEntry
from embeddings.codesets.pcs_axes import APPROACH_PLAIN_WORDS
from embeddings.crossrefs import Mention, held_forms, mentions
from embeddings.records import Code

MAX_TERMS_EMBEDDED = 6
MAX_DESCRIPTION_EMBEDDED = 400


_WORD = re.compile(r"[a-z0-9]+")
# Words a default code's title adds to what it names ('Urinary tract infection, site not specified').
_DEFAULT_WORDS = frozenset("unspecified specified site not nos other of the and or in a an to".split())

# Chapters and blocks are too broad for their notes to describe each code under them.
INHERITING_KINDS = frozenset({"category", "subcategory", "code"})


@dataclass(frozen=True)
class Document:
    system: str
    code: str
    embed_text: str
    title: str
    terms: str  # official synonyms of the code itself, and the phrases other codes' notes use for it
    context: str  # hierarchy titles, axis labels and the synonyms the code inherits from its ancestors
    claim: str = ""  # the CMS short description (abbreviated claim text)
    synonyms: tuple[str, ...] = ()  # the code's own official synonyms, each also embedded on its own
    # Its official names beside the title: its own synonyms and the phrases other codes' notes name it by (see
    # `names_whole`). Generated wording (parallel wordings, authored packs) is searchable in `terms`, never a name.
    names: tuple[str, ...] = ()
    wordings: tuple[str, ...] = ()  # generated names: near codes' synonyms reworded for this code (`analogies`)


def build_documents(codes: Iterable[Code], titles: Mapping[tuple[str, str], str],
                    held_out: Mapping[tuple[str, str], frozenset[str]] | None = None,
                    content: Mapping[tuple[str, str], ContentEntry] | None = None,
                    found: Mapping[tuple[str, str], list[Mention]] | None = None) -> list[Document]:
    """`titles` maps (system, code) to title for hierarchy paths; `held_out` drops evaluation terms;
    `content` adds authored pack text so a search for words only a pack uses still finds the code; `found` is
    `crossrefs.mentions` of the same codes and held-out terms when the caller has it already."""
    held_out, content = held_out or {}, content or {}
    codes = list(codes)
    # A held-out term stays out wherever it is written: another code's note may use the same words for the code.
    if found is None:
        found = mentions(codes, held_forms(held_out))
    named = {key: [m.text for m in items] for key, items in found.items()}
    official = {(c.system, c.code): synonyms(c, held_out.get((c.system, c.code), frozenset()))
                for c in codes if c.kind in INHERITING_KINDS}
    own = {key: terms + named.get(key, []) for key, terms in official.items()}
    covers = covered_titles(codes, held_out)
    parallel = parallel_wordings(codes, lambda c: official[(c.system, c.code)], INHERITING_KINDS)
    docs = [build_document(c, titles, held_out.get((c.system, c.code), frozenset()), content.get((c.system, c.code)),
                           inherited(c, own), named.get((c.system, c.code), []), covers.get((c.system, c.code)),
                           parallel.get((c.system, c.code)))
            for c in codes]
    return [replace(d, names=tuple(dict.fromkeys(d.synonyms + tuple(
                m.text for m in found.get((d.system, d.code), ()) if names_whole(m, d.title)))))
            for d in docs]


def names_whole(mention: Mention, title: str) -> bool:
    """An excludes note names a condition whole, to tell it apart ('positive PPD (R76.11)'). An instruction (code
    also, use additional, code first) names what else to code, at times only in its own code's context ('Code also
    associated abscess (J85.1)' under pneumonia): it names the code only when it says every word of the code's
    title but those of a default ('urinary tract infection' is N39.0's 'Urinary tract infection, site not
    specified'); otherwise it is searchable wording of the code, not one of its names."""
    if mention.kind.startswith("excludes"):
        return True
    said = set(_WORD.findall(mention.text.lower()))
    return not {w for w in _WORD.findall(title.lower()) if w not in _DEFAULT_WORDS} - said


def inherited(code: Code, own: Mapping[tuple[str, str], list[str]]) -> list[str]:
    """The synonyms of the code's ancestors (a category's includes notes describe every code under it)."""
    found = [t for p in code.parents for t in own.get((code.system, p), ())]
    return list(dict.fromkeys(found))


def hierarchy_path(code: Code, titles: Mapping[tuple[str, str], str]) -> list[str]:
    return [titles.get((code.system, p), p) for p in code.parents]


def synonyms(code: Code, dropped: frozenset[str] = frozenset()) -> list[str]:
    """Official alternative wordings: inclusion terms and includes notes (CM), alphabetic-index terms (PCS)."""
    labels = {a.label for a in code.axes}
    found = [t for t in code.notes_of("inclusion") + code.notes_of("includes") + list(code.terms)
             if t not in dropped and t not in labels]
    return list(dict.fromkeys(found))


def procedure_sentence(code: Code) -> str:
    """Plain-language sentence composed from the PCS axis values and their official definitions."""
    axes = {a.name: a for a in code.axes}
    op, part, approach = axes.get("Root Operation"), axes.get("Body Part"), axes.get("Approach")
    if not (op and op.label and part and part.label):
        return ""
    sentence = f"{op.label} of the {part.label.lower()}"
    if op.definition:
        sentence += f" ({op.definition[0].lower()}{op.definition[1:]})"
    if approach and approach.label:
        sentence += f", {approach.label.lower()} approach"
        plain = APPROACH_PLAIN_WORDS.get(approach.label)
        if plain:
            sentence += f": {plain}"
    device = axes.get("Device")
    if device and device.label and device.label != "No Device":
        sentence += f", using {device.label.lower()}"
    qualifier = axes.get("Qualifier")
    if qualifier and qualifier.label and qualifier.label != "No Qualifier":
        sentence += f", {qualifier.label.lower()}"
    return sentence + "."


def build_document(code: Code, titles: Mapping[tuple[str, str], str], dropped: frozenset[str] = frozenset(),
                   content: ContentEntry | None = None, from_ancestors: list[str] | None = None,
                   named: list[str] | None = None, covers: list[str] | None = None,
                   parallel: list[str] | None = None) -> Document:
    """`named`: phrases other codes' notes use for this code; `covers`: titles of the categories its 'classifiable
    to' notes point at (Z80.0's C15-C26 name the colon); `parallel`: wordings of near codes' synonyms made for it
    (see `analogies`); all searchable words, not embedded."""
    path = hierarchy_path(code, titles)
    terms = synonyms(code, dropped)
    parts = [code.title]
    if code.system == "icd10pcs":
        parts.extend(_procedure_gloss(code))
    elif path and code.kind == "code":
        parts.append(path[-1] if len(path[-1]) < 120 else "")
    if terms:
        parts.append("Also: " + "; ".join(terms[:MAX_TERMS_EMBEDDED]))
    if code.description:
        parts.append(code.description[:MAX_DESCRIPTION_EMBEDDED])
    if content and content.section("Summary"):
        parts.append(content.section("Summary")[:MAX_DESCRIPTION_EMBEDDED])
    embed_text = ". ".join(p.rstrip(".") for p in parts if p) + "."
    context = list(path) + [a.label for a in code.axes if a.label] + list(from_ancestors or ()) + list(covers or ())
    if code.system == "icd10pcs":
        approach = next((a.label for a in code.axes if a.name == "Approach"), "")
        context.append(APPROACH_PLAIN_WORDS.get(approach, ""))
    return Document(
        system=code.system, code=code.code, embed_text=embed_text, title=code.title,
        terms=" | ".join(terms + list(named or ()) + list(parallel or ())
                         + [t for t in (code.description, content.search_text() if content else "") if t]),
        context=" | ".join(c for c in context if c),
        # 'w/o' spelt out, or the tokenizer would index it as the letters 'w' and 'o' (and 'w' reads as 'with').
        claim=spell_slashes(code.short) if code.short and code.short not in dropped else "",
        synonyms=tuple(terms),
        wordings=tuple(parallel or ()),
    )


def _procedure_gloss(code: Code) -> list[str]:
    """Short meaning of the root operation and approach, kept brief because encoding time grows with length."""
    axes = {a.name: a for a in code.axes}
    op, approach = axes.get("Root Operation"), axes.get("Approach")
    gloss = [op.definition] if op and op.definition else []
    if approach and approach.label in APPROACH_PLAIN_WORDS:
        gloss.append(APPROACH_PLAIN_WORDS[approach.label])
    return gloss
