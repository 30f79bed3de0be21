"""Policy-document answers by 文号, agency, topic or year; an abolished document names its successor."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from archive.models import DocType
from bot.common import cite, entity, payload, user_text
from bot.context import BotContext
from bot.guide import not_current_note
from retrieval.types import Filters, Hit

_BRACKETS = str.maketrans({"[": "〔", "]": "〕", "［": "〔", "］": "〕", "(": "〔", ")": "〕", "（": "〔",
                           "）": "〕", "號": "号", "發": "发", "辦": "办", "規": "规"})


def normalise_doc_no(doc_no: str) -> str:
    return re.sub(r"\s+", "", doc_no).translate(_BRACKETS)


class ActionAnswerPolicy(Action):
    def __init__(self, ctx: BotContext) -> None:
        self.ctx = ctx

    def name(self) -> str:
        return "action_answer_policy"

    def _find(self, tracker: Tracker) -> list[Hit]:
        doc_no = entity(tracker, "doc_no")
        if doc_no:
            wanted = normalise_doc_no(doc_no)
            hits = self.ctx.retriever.search(doc_no, Filters(type=DocType.POLICY), top_k=10,
                                             include_inactive=True)
            exact = [h for h in hits if normalise_doc_no(h.citation.doc_no) == wanted]
            if exact:
                return exact[:1]
        year = entity(tracker, "year")
        filters = Filters(
            type=DocType.POLICY,
            agency=entity(tracker, "agency") or "",
            issued_from=f"{year}-01-01" if year else "",
            issued_to=f"{year}-12-31" if year else "",
        )
        query = entity(tracker, "topic") or user_text(tracker)
        return self.ctx.retriever.search(query, filters, top_k=3)

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        hits = self._find(tracker)
        if not hits:
            dispatcher.utter_message(response="utter_policy_not_found")
            self.ctx.conversations.log("fallback", tracker.sender_id, user_text(tracker),
                                       {"reason": "policy_not_found"})
            return []
        if len(hits) > 1 and hits[1].score >= self.ctx.tuning.ambiguity_ratio * hits[0].score:
            buttons = [{"title": h.title, "payload": payload("ask_policy", doc_no=h.citation.doc_no)
                        if h.citation.doc_no else h.title} for h in hits[:3]]
            dispatcher.utter_message(response="utter_policy_several", buttons=buttons,
                                     json_message={"citations": cite([h.citation for h in hits[:3]])})
            return []
        hit = hits[0]
        doc = self.ctx.archive.find(hit.doc_id)
        summary = (doc.summary or doc.body[:160]) if doc else (hit.passages[0].text if hit.passages else "")
        citations = [hit.citation] + ([hit.superseded_by] if hit.superseded_by else [])
        dispatcher.utter_message(
            response="utter_policy_found", title=hit.title, doc_no=hit.citation.doc_no,
            issuer=hit.citation.issuer, issued_on=hit.citation.issued_on, summary=summary,
            json_message={"card": {"type": "policy", "id": hit.doc_id, "title": hit.title,
                                   "is_current": hit.is_current}, "citations": cite(citations)},
        )
        if doc is not None:
            not_current_note(dispatcher, doc, hit.citation, hit.superseded_by)
        return []
