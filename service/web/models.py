"""Response models of the JSON REST API: they document the API in OpenAPI and shape what each endpoint returns."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ErrorBody(BaseModel):
    error: str = Field(description="bad_request, not_found, validation, too_large or internal")
    message: str = Field(description="what was wrong, in words")


class VariantOut(BaseModel):
    code: str
    title: str
    label: str = Field(description="what sets it apart from the hit: 'subsequent encounter', 'sequela', "
                                   "'heading (not codable)'")
    url: str


class HitOut(BaseModel):
    system: str
    code: str
    title: str
    billable: bool
    kind: str = Field(description="chapter, block, category, subcategory, code (CM); section, table, code (PCS)")
    chapter: str
    score: float
    reasons: list[str] = Field(description="why the code matched: code, code prefix, words: ..., semantic ...")
    url: str = Field(description="the code page")
    variants: list[VariantOut] = Field([], description="codes this hit stands for in the list: its other 7th "
                                                       "characters (encounter, healing, sequela), their stem, and the "
                                                       "headings above it (label 'heading (not codable)')")


class SearchOut(BaseModel):
    query: str
    total: int = Field(description="matches over all pages")
    limit: int
    offset: int
    next_offset: int | None = Field(description="offset of the next page, or null on the last page")
    took_ms: float
    mode: str
    did_you_mean: str | None = Field(None, description="a corrected query, when the engine has one")
    expansions: list[str] = Field([], description="lay terms or abbreviations the engine also searched for")
    semantic: str = Field("ready", description="'ready', or 'warming' while the model's vectors are still being "
                                               "built: results then come from codes and words only")
    hint: str | None = Field(None, description="when nothing matched a query shaped like a code of a system that is "
                                               "not loaded (CPT, HCPCS): how to load it; for a query of common words "
                                               "only ('the and of'): that there is nothing to search for")
    results: list[HitOut]


class SuggestOut(BaseModel):
    query: str
    suggestions: list[HitOut]


class SimilarOut(BaseModel):
    system: str
    code: str
    similar: list[dict] = Field(description="system, code, title, billable, score, reasons, variants, url")


class ChildrenOut(BaseModel):
    system: str
    code: str
    children: list[dict] = Field(description="system, code, label, title, billable, kind, url")


class SectionOut(BaseModel):
    name: str = Field(description="Name, Summary, Purpose, ... in the code page's order")
    text: str = Field(description="the text; list items are lines starting '- ', steps lines starting '1. '")
    blocks: list[dict] = Field(description="the text as display blocks: {kind: p | ul | ol, items: [...]}")


class DescriptionOut(BaseModel):
    text: str = Field(description="the Summary section")
    label: str = Field(description="where the text came from; it is never official code-set text")
    official: bool = False
    sections: list[SectionOut]


class ContentOut(BaseModel):
    source: str = Field(description="the content pack's name")
    label: str = Field(description="the label shown with the text: authored, not official")
    official: bool = False
    sections: list[SectionOut]


class CodeRecordOut(BaseModel):
    """Everything the code page shows except Similar Codes (GET .../similar)."""

    model_config = ConfigDict(extra="allow")
    system: str
    code: str
    title: str = Field(description="the official title")
    short: str = Field("", description="the CMS short description (abbreviated, as on claims); empty when none")
    billable: bool
    kind: str
    label: str
    url: str
    parents: list[str]
    chapter: str
    section: str
    notes: list[dict] = Field(description="official notes: {kind, text}")
    seventh: list[list[str]]
    axes: list[dict] = Field(description="ICD-10-PCS: the seven characters with labels and official definitions")
    terms: list[str]
    description: str = Field(description="a description supplied with a user-supplied code file, or empty")
    version: str
    system_info: dict
    breadcrumbs: list[dict]
    children: list[dict]
    note_groups: list[dict]
    named_in: list[dict] = Field([], description="other codes' notes that name this code: {code, url, kind, label, "
                                                "text}, text being the phrase the note uses (official wording)")
    seventh_table: list[dict]
    plain_description: DescriptionOut | None = Field(
        description="generated (ICD-10-PCS), assembled (ICD-10-CM) or file-supplied description, labelled")
    content: ContentOut | None = Field(description="authored sections from a content pack, labelled with the pack")
    crosswalks: list[dict]


ERRORS = {400: {"model": ErrorBody, "description": "bad parameter"},
          404: {"model": ErrorBody, "description": "unknown code or system"},
          422: {"model": ErrorBody, "description": "parameter of the wrong type"}}
