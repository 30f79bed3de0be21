"""The best passage the archive has for a question, ready to show with its source: the retrieval answer.

Used when the dialogue cannot answer from its own understanding: the fallback action (a question the NLU was
unsure of) and the search answers that stand in for the dialogue while the engine trains or is down
(``app/standby.py``).  One rule for both: the best hit's best passage, cut to ``MAX_PASSAGE_CHARS``, cited; a
document that is no longer in force says so and names its replacement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from archive.models import Document
from bot.common import cite
from retrieval.types import Citation, Filters, Hit

MAX_PASSAGE_CHARS = 300


@dataclass
class SearchAnswer:
    hit: Hit
    passage: str
    passage_field: str  # which part of the document the passage is (a guide field, "section", "faq")
    citations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def title(self) -> str:
        return self.hit.title

    @property
    def score(self) -> float:
        return self.hit.score

    @property
    def citation(self) -> Citation:
        return self.hit.citation

    def card(self) -> dict[str, Any]:
        return {"type": self.hit.doc_type.value, "id": self.hit.doc_id, "title": self.hit.title,
                "field": self.passage_field}

    def not_current(self) -> tuple[str, dict[str, str]] | None:
        """The response (and its values) that labels a source no longer in force; None when it is current."""
        if self.hit.is_current:
            return None
        new = self.hit.superseded_by
        if new is not None:
            return "utter_doc_not_current", {"title": self.title, "new_title": new.title,
                                             "new_doc_no": new.doc_no}
        return "utter_doc_not_current_no_replacement", {"title": self.title}


def _answer(top: Hit) -> SearchAnswer:
    passage = top.passages[0]
    citations = [top.citation] + ([top.superseded_by] if top.superseded_by else [])
    return SearchAnswer(top, passage.text[:MAX_PASSAGE_CHARS], passage.field, cite(citations))


def best_answer(retriever: Any, text: str, filters: Filters | None = None) -> SearchAnswer | None:
    """The best passage for ``text``; None when the search finds nothing (or the text is empty)."""
    if not text.strip():
        return None
    hits = retriever.search(text, filters, top_k=3)
    top = next((h for h in hits if h.passages), None)
    return _answer(top) if top is not None else None


def named_answer(retriever: Any, doc: Document, text: str) -> SearchAnswer | None:
    """The best passage of ``doc``, a document the question names (by its 文号), whether or not it is still
    in force: 「示民规〔2025〕2号还有效吗」 is answered from that document, labelled abolished with its
    replacement, not from whatever current document the words match best. None when the index does not
    hold it."""
    query = f"{doc.title} {text}".strip()
    hits = retriever.search(query, Filters(type=doc.type), top_k=20, include_inactive=True)
    top = next((h for h in hits if h.doc_id == doc.id and h.passages), None)
    return _answer(top) if top is not None else None
