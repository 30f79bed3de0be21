"""Policy-document answers by 文号, agency, topic or year; an abolished document names its successor."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from archive.models import DocType, Document
from bot.common import cite, entities, entity, payload, user_text
from bot.context import BotContext, normalise_doc_no
from bot.guide import not_current_note
from retrieval.types import Filters, Hit


def by_year(hits: list[Hit], year: str | None) -> list[Hit]:
    """Hits about ``year`` first: 「2026年的医保缴费通知」 means the notice for 2026 (often issued in 2025)
    as much as one issued in 2026, so the year is a preference over both, not a filter on the issue date."""
    if not year:
        return hits

    def about(hit: Hit) -> bool:
        return year in hit.title or hit.citation.issued_on.startswith(year) or year in hit.citation.doc_no

    return sorted(hits, key=lambda h: not about(h))  # stable: retrieval order within each group


class ActionAnswerPolicy(Action):
    def __init__(self, ctx: BotContext) -> None:
        self.ctx = ctx

    def name(self) -> str:
        return "action_answer_policy"

    def _find(self, tracker: Tracker) -> tuple[Document | None, list[Hit]]:
        """(the document named by its 文号, or None; else the retrieval hits for agency/topic/year)."""
        for candidate in entities(tracker, "doc_no"):
            doc = self.ctx.policy_by_doc_no(candidate)
            if doc is not None:
                return doc, []
        # a 文号 the regex did not see, written without its brackets: 「示府规2024年9号」
        for doc in self.ctx.policies_cited_in(user_text(tracker)):
            return doc, []
        doc_no = entity(tracker, "doc_no")
        if doc_no:
            hits = self.ctx.retriever.search(doc_no, Filters(type=DocType.POLICY), top_k=10,
                                             include_inactive=True)
            exact = [h for h in hits if normalise_doc_no(h.citation.doc_no) == normalise_doc_no(doc_no)]
            if exact:
                return self.ctx.archive.find(exact[0].doc_id), []
        filters = Filters(type=DocType.POLICY, agency=entity(tracker, "agency") or "")
        query = entity(tracker, "topic") or user_text(tracker)
        hits = self.ctx.retriever.search(query, filters, top_k=10)
        return None, by_year(hits, entity(tracker, "year"))[:3]

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        doc, hits = self._find(tracker)
        if doc is None and len(hits) > 1 and hits[1].score >= self.ctx.tuning.ambiguity_ratio * hits[0].score:
            buttons = [{"title": h.title, "payload": payload("ask_policy", doc_no=h.citation.doc_no)
                        if h.citation.doc_no else h.title} for h in hits[:3]]
            dispatcher.utter_message(response="utter_policy_several", buttons=buttons,
                                     json_message={"citations": cite([h.citation for h in hits[:3]])})
            return []
        if doc is None and hits:
            doc = self.ctx.archive.find(hits[0].doc_id)
        if doc is None:
            dispatcher.utter_message(response="utter_policy_not_found")
            self.ctx.conversations.log("fallback", tracker.sender_id, user_text(tracker),
                                       {"reason": "policy_not_found"})
            return []
        citation = self.ctx.citation(doc)
        successor = None if citation.is_current else self.ctx.successor(doc)
        superseded = self.ctx.citation(successor) if successor else None
        dispatcher.utter_message(
            response="utter_policy_found", title=doc.title, doc_no=doc.doc_no, issuer=doc.issuer,
            issued_on=doc.issued_on, summary=doc.summary or doc.body[:160],
            json_message={"card": {"type": "policy", "id": doc.id, "title": doc.title,
                                   "is_current": citation.is_current},
                          "citations": cite([citation] + ([superseded] if superseded else []))},
        )
        not_current_note(dispatcher, doc, citation, superseded)
        return []
