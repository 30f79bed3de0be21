"""The shared record types of the retrieval layer: what is indexed (Passage), what a search returns (Hit,
Citation) and how a search is narrowed (Filters).

These are the contract between the lexical side, the dense side (embedder/dense/index_store), ranking, the
``Retriever`` facade and its callers (bot actions, consoles, CLI).  Keep them plain dataclasses.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from archive.models import DocType, Document, Status


@dataclass(frozen=True)
class Passage:
    """One indexed unit of a document: a guide field, a policy section, or an FAQ question + answer.

    ``id`` is ``"<doc_id>#<n>"`` (n counts from 0 within the document) and is stable for a given version
    of the document; ``text`` is what a citizen is shown, ``index_text`` what the indexes see (the text
    prefixed with the document title for guide fields, so that a passage stands on its own).
    """

    id: str
    doc_id: str
    field: str  # "materials", "location", ... for guides; "section" for policies; "faq" for FAQs
    text: str
    index_text: str = ""
    title: str = ""
    doc_type: DocType = DocType.POLICY
    issuer: str = ""
    topic: str = ""
    audience: str = ""
    issued_on: str = ""
    status: Status = Status.PUBLISHED
    highlight: str = ""  # set on passages returned inside a Hit: text with matches marked 【…】

    @property
    def searchable(self) -> str:
        return self.index_text or self.text


@dataclass(frozen=True)
class Filters:
    """Narrow a search.  Empty fields do not filter.  Dates are ISO ``yyyy-mm-dd`` and inclusive."""

    type: DocType | None = None
    agency: str = ""  # matched as a substring of the issuer (normalised, so 臺北 matches 台北)
    topic: str = ""
    audience: str = ""
    issued_from: str = ""
    issued_to: str = ""

    def is_empty(self) -> bool:
        return not (self.type or self.agency or self.topic or self.audience or self.issued_from
                    or self.issued_to)


@dataclass(frozen=True)
class Citation:
    """What a reply must show a citizen about the source of an answer."""

    id: str
    title: str
    doc_no: str
    issuer: str
    issued_on: str
    url: str
    status: Status
    valid_from: str
    valid_until: str
    is_current: bool
    # a document shared by another instance: who issued it (the peer's label, 「来源：示范省人民政府」) and
    # its level (archive/peers.py); both empty for this instance's own documents
    origin: str = ""
    origin_level: str = ""

    @classmethod
    def of(cls, doc: Document, today: str, origin: str = "") -> Citation:
        """``origin`` is how the peer the document came from is named (``retrieval.citations.cite``)."""
        return cls(
            id=doc.id,
            title=doc.title,
            doc_no=doc.doc_no,
            issuer=doc.issuer,
            issued_on=doc.issued_on,
            url=doc.url,
            status=doc.status,
            valid_from=doc.valid_from,
            valid_until=doc.valid_until,
            is_current=doc.is_current(today),
            origin=origin or doc.origin,
            origin_level=doc.origin_level,
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = str(self.status)
        return data


@dataclass(frozen=True)
class Hit:
    """One document found by a search, with its best passages (highlighted) and its citation.

    ``superseded_by`` is set when the document is not current (expired / abolished / out of its validity
    window) and a replacement is known: the citation of the end of the ``replaced_by`` chain.

    ``score`` is in [0, 1] and comparable across queries: the best hit's score is the share of the query
    (IDF-weighted tokens) its best passage contains; the other hits are scaled by their ranking score
    relative to the best, so ratios between hits follow the ranking.
    """

    doc_id: str
    doc_type: DocType
    title: str
    score: float
    passages: list[Passage]
    citation: Citation
    superseded_by: Citation | None = None

    @property
    def is_current(self) -> bool:
        return self.citation.is_current

    def to_dict(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "doc_type": str(self.doc_type),
            "title": self.title,
            "score": round(self.score, 6),
            "is_current": self.is_current,
            "passages": [
                {"id": p.id, "field": p.field, "text": p.text, "highlight": p.highlight}
                for p in self.passages
            ],
            "citation": self.citation.to_dict(),
            "superseded_by": self.superseded_by.to_dict() if self.superseded_by else None,
        }


@dataclass
class BuildReport:
    """What a full (re)build or refresh did."""

    documents: int = 0
    passages: int = 0
    seconds: float = 0.0
    generation: str = ""
    dense_enabled: bool = False
    fitness: dict[str, Any] = field(default_factory=dict)  # per-script unknown share, weight (dense side)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
