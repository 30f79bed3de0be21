"""Service-guide answers: the part of the guide asked for, the other parts one tap away, the source cited.

Context carries over in the ``item`` slot, so 「那要多少钱」 after a residence-permit answer is answered
for the residence permit.  When a question fits several guides about equally, the top three are offered.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from archive.models import DocType, Document
from bot.aspects import (
    ASPECT_FIELDS,
    SERVICE_VERBS,
    available,
    checklist,
    detect_aspect,
    is_follow_up,
    numbered,
)
from bot.common import cite, entity, entity_spans, label, language, payload, slot_before_turn, user_text
from bot.context import BotContext
from core.inputs import detect_language, is_payload
from nlu.names import names as service_names
from retrieval.normalize import to_simplified
from retrieval.types import Citation, Filters, Hit

GUIDES = Filters(type=DocType.GUIDE)


class Option(NamedTuple):
    """One candidate guide offered when a question fits several."""

    title: str
    citation: Citation


class GuideLookup:
    """Finds the guide a question is about: exact title, then retrieval; several close hits -> options."""

    def __init__(self, ctx: BotContext) -> None:
        self.ctx = ctx

    def resolve(
        self, item: str | None, text: str, context_item: str | None, typed: tuple[str, ...] = ()
    ) -> tuple[Document | None, Citation | None, list[Option]]:
        """``typed``: the words tagged as the item in this turn, as typed (``item`` may be their synonym)."""
        if item:
            query = item
        elif context_item and (is_follow_up(text) or not self.ctx.names().mentions(text)):
            query = context_item  # 「那要多少钱」: the service in context
        elif is_follow_up(text):
            return None, None, []
        else:
            query = text
        # a service named in this turn (entity or text), as opposed to the one carried over from context; the
        # slot mapping fills the slot from this turn's entity before the action runs, so both can be equal
        fresh = bool(item) or query != context_item
        if fresh:
            # a longer name in the text beats the tagged fragment: 「居住证签注要带啥」 is not 「居住证」
            mention = self.ctx.names().longest_mention(to_simplified(text))
            if mention and (not item or len(mention) > len(item)):
                query = mention
        found = self._by_name(query)
        if found is not None:
            # the rest of the question can say which service the name means (a bare name cannot)
            if fresh and not is_payload(text) and to_simplified(text).strip() != query:
                if found[0] is not None:
                    return self._more_specific(found[0], query, text, typed) or found
                return self._rank_shared(found[2], text)
            return found[0], found[1], found[2][:3]
        # a fragment no guide is called by (「驾照」): the whole question says which service it means
        # in Chinese: guides are written in Chinese, while an English question reaches a guide only through
        # its English names, so there the fragment's own search stays
        hits = []
        if fresh and query != text and detect_language(text) == "zh":
            hits = self._unique(self.ctx.retriever.search(text, GUIDES, top_k=3))
        hits = hits or self._unique(self.ctx.retriever.search(query, GUIDES, top_k=3))
        if not hits:
            return self._by_fragment(item or "")
        containing = [h for h in hits if item and item in h.title]
        if len(containing) == 1:
            hits = containing
        elif len(hits) > 1 and hits[1].score >= self.ctx.tuning.ambiguity_ratio * hits[0].score:
            return None, None, [Option(h.title, h.citation) for h in hits[:3]]
        doc = self.ctx.archive.find(hits[0].doc_id)
        return doc, hits[0].citation if doc else None, []

    def _more_specific(
        self, named: Document, name: str, text: str, typed: tuple[str, ...] = ()
    ) -> tuple[Document | None, Citation | None, list[Option]] | None:
        """A sibling service the whole question fits better than the one its name fragment names.

        「居住证快到期了怎么续签」 names 「居住证」 (the first application) but asks for the renewal;
        「社保卡芯片坏了去哪换」 names 「社保卡」 but asks for a replacement.  The whole question is searched,
        and its best guide wins when it is a different service that goes by the same name (the name is part
        of one of its names) and beats the named guide.
        """
        hits = self._unique(self.ctx.retriever.search(text, GUIDES, top_k=3))
        if not hits or hits[0].doc_id == named.id:
            return None
        named_score = next((h.score for h in hits if h.doc_id == named.id), 0.0)
        doc = self.ctx.archive.find(hits[0].doc_id)
        if doc is None or hits[0].score <= named_score:
            return None
        # the names of the named guide that the question uses (the tagged entity may be a synonym mapped to
        # the full title): one of them must be part of one of the sibling's names
        asked = to_simplified(text).lower()
        candidates = [name, *typed, *service_names(named)]
        used = [n.lower() for n in candidates if len(n) >= 2 and n.lower() in asked]
        theirs = [n.lower() for n in service_names(doc)]
        if not any(u in n for u in used for n in theirs):
            return None
        return doc, hits[0].citation, []

    def _rank_shared(
        self, sharing: list[Option], text: str
    ) -> tuple[Document | None, Citation | None, list[Option]]:
        """The guides sharing the name a question uses, ranked by a search of the whole question.

        「我爸下个月退休，养老金咋申请」 uses 「退休」, which the pension and the retirement withdrawal of the
        housing fund share; the rest of the question says which: its best guide among them is answered when
        the runner-up scores below the ambiguity ratio of it, else the top three are offered in that order.
        """
        hits = self._unique(self.ctx.retriever.search(text, GUIDES, top_k=10))
        scores = {h.doc_id: h.score for h in hits}
        ranked = sorted(sharing, key=lambda o: -scores.get(o.citation.id, 0.0))  # stable: archive order
        best, runner_up = (scores.get(o.citation.id, 0.0) for o in ranked[:2])  # sharing: two or more
        if best > 0 and runner_up < self.ctx.tuning.ambiguity_ratio * best:
            doc = self.ctx.archive.find(ranked[0].citation.id)
            if doc is not None:
                return doc, ranked[0].citation, []
        return None, None, ranked[:3]

    def _by_name(self, name: str) -> tuple[Document | None, Citation | None, list[Option]] | None:
        """The guide called ``name``, or every guide sharing it as options (GuideLookup ranks them)."""
        exact = self.ctx.guide_by_title(name)
        if exact is not None:
            return exact, self.ctx.citation(exact), []
        sharing = self.ctx.guides_named(name)
        if len(sharing) > 1:
            return None, None, [Option(d.title, self.ctx.citation(d)) for d in sharing]
        return None

    def _by_fragment(self, fragment: str) -> tuple[Document | None, Citation | None, list[Option]]:
        """No retrieval hit: guides whose names contain the tagged fragment (「离婚」, 「出生」)."""
        fragment = to_simplified(fragment.strip())
        ids = self.ctx.names().containing(fragment)
        if not ids:  # 「护照办理」: drop the verbs around the service's own name
            fragment = SERVICE_VERBS.sub("", fragment)
            ids = self.ctx.names().containing(fragment)
        docs = [d for d in map(self.ctx.archive.find, ids) if d is not None]
        if len(fragment) < 2 or not docs:
            return None, None, []
        if len(docs) == 1:
            return docs[0], self.ctx.citation(docs[0]), []
        return None, None, [Option(d.title, self.ctx.citation(d)) for d in docs[:3]]

    @staticmethod
    def _unique(hits: list[Hit]) -> list[Hit]:
        seen: set[str] = set()
        out = []
        for hit in hits:
            if hit.doc_id not in seen:
                seen.add(hit.doc_id)
                out.append(hit)
        return out


def aspect_values(doc: Document, domain: dict[str, Any], lang: str) -> dict[str, str]:
    """The template values of every aspect of ``doc`` (lists laid out as a checklist / numbered steps)."""
    none = label(domain, "utter_label_none", lang)
    return {
        "item": doc.title,
        "materials": checklist(doc.materials),
        "steps": numbered(doc.steps),
        "fees": doc.fees,
        "location": doc.location,
        "hours": doc.hours,
        "conditions": doc.conditions,
        "online_url": doc.online_url,
        "phone": doc.phone or "12345",
        "legal": doc.time_limit_legal or none,
        "promised": doc.time_limit_promised or none,
        "summary": (doc.summary or doc.body)[:160],
    }


def aspect_buttons(
    doc: Document, domain: dict[str, Any], lang: str, skip: str | None
) -> list[dict[str, str]]:
    return [
        {"title": label(domain, f"utter_label_{a}", lang),
         "payload": payload("ask_guide", aspect=a, item=doc.title)}
        for a in available(doc)
        if a != skip
    ]


def guide_card(doc: Document, aspect: str | None) -> dict[str, Any]:
    card: dict[str, Any] = {"type": "guide", "guide_id": doc.id, "title": doc.title, "aspect": aspect or ""}
    if aspect == "materials":
        card["checklist"] = list(doc.materials)
    elif aspect == "steps":
        card["steps"] = list(doc.steps)
    elif aspect:
        card["fields"] = {f: getattr(doc, f) for f in ASPECT_FIELDS[aspect] if getattr(doc, f)}
    return card


def not_current_note(
    dispatcher: CollectingDispatcher, doc: Document, citation: Citation, superseded: Citation | None
) -> None:
    if citation.is_current:
        return
    if superseded is not None:
        dispatcher.utter_message(
            response="utter_doc_not_current", title=doc.title, new_title=superseded.title,
            new_doc_no=superseded.doc_no,
        )
    else:
        dispatcher.utter_message(response="utter_doc_not_current_no_replacement", title=doc.title)


class ActionAnswerGuide(Action):
    def __init__(self, ctx: BotContext) -> None:
        self.ctx = ctx
        self.lookup = GuideLookup(ctx)

    def name(self) -> str:
        return "action_answer_guide"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        lang, text = language(tracker), user_text(tracker)
        aspect = entity(tracker, "aspect")
        if aspect not in ASPECT_FIELDS:  # untagged, or tagged text no synonym maps to an aspect code
            aspect = detect_aspect(text)
        item = entity(tracker, "item")
        context = slot_before_turn(tracker, "item")
        if item and not is_payload(text) and is_follow_up(text):
            # a bare follow-up (「那要多少钱？」) names no service, so a tagged item in it is the model's
            # mistake: the service in context stays, whatever the scores of one training (the slot mapping
            # has already taken the mistaken value, so the context is the value before this message)
            item = None
        typed = tuple(entity_spans(tracker, "item"))
        doc, citation, options = self.lookup.resolve(item, text, context, typed)
        if options:
            buttons = [{"title": h.title, "payload": payload("ask_guide", item=h.title, aspect=aspect or "")}
                       for h in options]
            dispatcher.utter_message(
                response="utter_guide_which", buttons=buttons,
                json_message={"citations": cite([h.citation for h in options])},
            )
            return [SlotSet("aspect", aspect)]
        if doc is None or citation is None:
            if not item and is_follow_up(text):
                dispatcher.utter_message(response="utter_ask_item")
                return [SlotSet("aspect", aspect)]
            dispatcher.utter_message(response="utter_guide_not_found", query=item or text)
            self.ctx.conversations.log("fallback", tracker.sender_id, text, {"reason": "guide_not_found"})
            return [SlotSet("item", None), SlotSet("aspect", aspect)]
        self.answer(dispatcher, domain, lang, doc, citation, aspect)
        return [SlotSet("item", doc.title), SlotSet("aspect", aspect)]

    def answer(
        self, dispatcher: CollectingDispatcher, domain: dict[str, Any], lang: str, doc: Document,
        citation: Citation, aspect: str | None,
    ) -> None:
        values = aspect_values(doc, domain, lang)
        extra = {"card": guide_card(doc, aspect), "citations": cite([citation])}
        buttons = aspect_buttons(doc, domain, lang, skip=aspect)
        if aspect is None:
            response = "utter_guide_overview"
        elif not any(getattr(doc, f) for f in ASPECT_FIELDS[aspect]):
            response = "utter_guide_missing_aspect"
            values["aspect_label"] = label(domain, f"utter_label_{aspect}", lang)
        else:
            response = f"utter_guide_{aspect}"
        dispatcher.utter_message(response=response, buttons=buttons, json_message=extra, **values)


class ActionAnswerContact(Action):
    """The enquiry phone of the service in question (cited), else the city's general contacts."""

    def __init__(self, ctx: BotContext) -> None:
        self.ctx = ctx
        self.lookup = GuideLookup(ctx)

    def name(self) -> str:
        return "action_answer_contact"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        text = user_text(tracker)
        tagged = entity(tracker, "item")
        if tagged and not is_payload(text) and is_follow_up(text):
            tagged = None  # as for guide answers: a bare follow-up names no service
        item = tagged or slot_before_turn(tracker, "item")
        if item:
            doc, citation, _ = self.lookup.resolve(item, item, None)
            if doc is not None and citation is not None and doc.phone:
                dispatcher.utter_message(
                    response="utter_guide_phone", item=doc.title, phone=doc.phone,
                    json_message={"card": guide_card(doc, "phone"), "citations": cite([citation])},
                )
                return [SlotSet("item", doc.title)]
        dispatcher.utter_message(response="utter_contact_general")
        return []
