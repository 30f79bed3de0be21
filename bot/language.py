"""Which language to answer in, from the script of the citizen's message (Traditional Chinese is Chinese)."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.common import is_payload, latest_intent

LANGUAGES = frozenset({"zh", "en"})
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]{2,}")


def detect_language(text: str) -> str | None:
    """"zh" when the text has Chinese characters, "en" when it has English words, None when neither
    (digits, emoji, a button payload) — then the conversation keeps its language."""
    if not text or is_payload(text):
        return None
    if _CJK.search(text):
        return "zh"
    if _LATIN.search(re.sub(r"(?i)\bhd\d+", "", text)):
        return "en"
    return None


class TurnIntents:
    """What ChatService and the in-app actions tell each other about a sender's current turn.

    Actions -> ChatService: the intent the engine found, noted by ``action_detect_language`` (which the
    engine runs on every message), so ChatService reports it without a second NLU call; and how many
    events the engine session held when the turn began, so ChatService knows when to compact it
    (``bot/session.py``).
    ChatService -> actions: the client's language hint (the web chat's UI language) for a message that
    carries no language of its own (a tapped button's payload, digits).
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._latest: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._hints: OrderedDict[str, str] = OrderedDict()
        self._sizes: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def _put(self, table: OrderedDict[str, Any], sender: str, value: Any) -> None:
        with self._lock:
            table[sender] = value
            table.move_to_end(sender)
            while len(table) > self.capacity:
                table.popitem(last=False)

    def note(self, sender: str, intent: dict[str, Any]) -> None:
        self._put(self._latest, sender, intent)

    def take(self, sender: str) -> dict[str, Any] | None:
        with self._lock:
            return self._latest.pop(sender, None)

    def note_size(self, sender: str, events: int) -> None:
        self._put(self._sizes, sender, events)

    def take_size(self, sender: str) -> int:
        """Events in ``sender``'s engine session at the start of the turn (0 when no action noted it)."""
        with self._lock:
            return self._sizes.pop(sender, 0)

    def hint_language(self, sender: str, language: str | None) -> None:
        """The client's language for ``sender``'s next message (ignored unless zh or en)."""
        if language in LANGUAGES:
            self._put(self._hints, sender, language)
        else:
            self.take_language(sender)

    def take_language(self, sender: str) -> str | None:
        with self._lock:
            return self._hints.pop(sender, None)


class ActionDetectLanguage(Action):
    """Fills the ``language`` slot (custom slot mapping) on every citizen message.

    The message's own script decides; a message without one (a button payload, digits) keeps the
    conversation's language, and only when the conversation has none yet the client's hint decides
    (the English web chat's first tap on 「转人工」 is answered in English).
    """

    def __init__(self, intents: TurnIntents | None = None) -> None:
        self.intents = intents

    def name(self) -> str:
        return "action_detect_language"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        hint = None
        if self.intents is not None:
            self.intents.note(tracker.sender_id, latest_intent(tracker))
            self.intents.note_size(tracker.sender_id, len(tracker.events))
            hint = self.intents.take_language(tracker.sender_id)
        current = tracker.get_slot("language")
        lang = detect_language(str(tracker.latest_message.get("text") or "")) or current or hint
        if lang is None or lang == current:
            return []
        return [SlotSet("language", lang)]
