"""Search answers while the dialogue engine is not ready: nothing a citizen sends is lost or left unanswered.

On a new home the app answers as soon as the archive and the index are ready, while the engine trains in the
background; later, whenever the engine is down or restarting, the same happens.  A message then gets the best
passage of the archive with its citation and validity label, plainly marked as a search result (「智能对话正在
启动，以下是检索结果」), with the status check and a person offered as buttons:

* ``/request_human`` opens a hand-over ticket and pauses the bot for the session, as the dialogue does, and
  so does a typed request for a person that is one of the training data's ``request_human`` examples
  (「转人工」; found by the issue-16 drill: typed, it used to get a search result);
* ``/ask_status``, or any message carrying an application number, starts the status check: number, then the
  phone's last 4 digits, checked by the same rule as the dialogue's form (``bot.status.check_digits``);
* a message naming a policy by its 文号 is answered from that policy, in force or not (an abolished one is
  labelled and names its replacement, as the dialogue does);
* anything else is searched (a guide button's payload by its service name).

Every text comes from the domain's responses.  Blocking work runs on the app's thread pool.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from app.messages import response
from bot.context import BotContext
from bot.search_answer import best_answer, named_answer
from bot.status import STANDBY, DigitsOutcome, normalise_app_no, status_view
from core.errors import NotFound
from core.inputs import is_payload

log = logging.getLogger("civic.standby")


@dataclass
class StandbyReply:
    messages: list[dict[str, Any]] = field(default_factory=list)
    handoff: bool = False


def _payload(text: str) -> tuple[str, dict[str, Any]]:
    """``/intent{"entity": "value"}`` -> (intent, entities); entities {} when absent or malformed."""
    head, brace, rest = text.strip()[1:].partition("{")
    try:
        entities = json.loads(brace + rest) if brace else {}
    except ValueError:
        entities = {}
    return head.strip(), entities if isinstance(entities, dict) else {}


_NOISE = re.compile(r"[\s\W_]+")


def _plain(text: str) -> str:
    return _NOISE.sub("", text).lower()


def person_phrases(project_dir: Path) -> frozenset[str]:
    """The ``request_human`` examples of the project's NLU data (data/nlu/*.yml), without punctuation."""
    found: set[str] = set()
    for path in sorted((project_dir / "data" / "nlu").glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in data.get("nlu") or []:
            if isinstance(block, dict) and block.get("intent") == "request_human":
                lines = str(block.get("examples") or "").splitlines()
                found.update(_plain(line.strip().removeprefix("- ")) for line in lines)
    return frozenset(p for p in found if p)


class Standby:
    def __init__(self, ctx: BotContext, domain: dict[str, Any],
                 persons: frozenset[str] = frozenset()) -> None:
        self.ctx = ctx
        self.domain = domain
        self.persons = persons  # typed requests for a person (person_phrases)

    def asks_for_person(self, text: str) -> bool:
        """The whole message is a request for a person, or a short one holding one (「我要转人工」)."""
        plain = _plain(text)
        return plain in self.persons or (
            len(plain) <= 12 and any(len(p) >= 3 and p in plain for p in self.persons))

    async def answer(self, session: str, text: str, lang: str) -> StandbyReply:
        """The reply to ``text`` (already masked) while the engine is not ready."""
        return await asyncio.to_thread(self._answer, session, text, lang)

    def _answer(self, session: str, text: str, lang: str) -> StandbyReply:
        conversations = self.ctx.conversations
        if not is_payload(text) and self.asks_for_person(text):
            text = "/request_human"
        if is_payload(text):
            intent, entities = _payload(text)
            if intent == "request_human":
                ticket = conversations.handover(session, text, [{"role": "citizen", "text": text}],
                                                {"reason": "requested", "standby": True})
                return StandbyReply([response(self.domain, "utter_handover", lang, ticket=ticket.id)], True)
            if intent == "ask_status":
                conversations.expect_digits(session, "", STANDBY)
                return StandbyReply([response(self.domain, "utter_ask_app_no", lang)])
            query = " ".join(str(v) for k, v in entities.items() if k in ("item", "doc_no", "topic") and v)
            return self._search(session, query, lang)
        app_no = normalise_app_no(text)
        if app_no is not None:
            conversations.expect_digits(session, app_no, STANDBY)
            return StandbyReply([response(self.domain, "utter_ask_phone_last4", lang)])
        return self._search(session, text, lang)

    def _search(self, session: str, query: str, lang: str) -> StandbyReply:
        named = self.ctx.policies_cited_in(query) if query else []
        found = named_answer(self.ctx.retriever, named[0], query) if named else None
        found = found or (best_answer(self.ctx.retriever, query) if query else None)
        self.ctx.conversations.log("fallback", session, query,
                                   {"standby": True, "answered": found is not None,
                                    "doc_id": found.hit.doc_id if found else None})
        if found is None:
            return StandbyReply([response(self.domain, "utter_standby_not_found", lang)])
        message = response(self.domain, "utter_standby_answer", lang, title=found.title,
                           passage=found.passage)
        message["card"], message["citations"] = found.card(), found.citations
        messages = [message]
        note = found.not_current()
        if note is not None:
            messages.append(response(self.domain, note[0], lang, **note[1]))
        return StandbyReply(messages)

    async def digits(self, session: str, app_no: str, outcome: DigitsOutcome, lang: str) -> StandbyReply:
        """The status check's answer to the phone digits the app has just checked."""
        return await asyncio.to_thread(self._digits, session, app_no, outcome, lang)

    def _digits(self, session: str, app_no: str, outcome: DigitsOutcome, lang: str) -> StandbyReply:
        conversations = self.ctx.conversations
        if outcome.kind == "malformed":
            return StandbyReply([response(self.domain, "utter_status_bad_phone", lang)])
        if outcome.kind == "failed":
            return StandbyReply([response(self.domain, "utter_status_verify_failed", lang,
                                          remaining=outcome.remaining)])
        conversations.clear_pending(session)
        if outcome.kind == "locked":
            return StandbyReply([response(self.domain, "utter_status_locked", lang, minutes=outcome.minutes)])
        if not conversations.take_verification(session, app_no):
            return StandbyReply([])
        try:
            app = self.ctx.archive.get_application(app_no)
        except NotFound:  # not-found and wrong digits look the same: verification never succeeds for it
            return StandbyReply([])
        values, extra = status_view(self.ctx, app, self.domain, lang)
        message = response(self.domain, "utter_status_result", lang, **values)
        message["card"], message["citations"] = extra["card"], extra["citations"]
        return StandbyReply([message])
