"""Action-test fixtures: the real demo archive and a real app.db in a temporary home, a small retriever fake
(the real retriever is exercised by the end-to-end test in tests/dialogue), and tracker builders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from app.conversations import Conversations
from archive.demo import seed_demo
from archive.models import DocType
from archive.store import Archive
from bot.context import BotContext
from bot.texts import load_domain
from core.settings import REPO_ROOT
from retrieval.citations import superseded_citation
from retrieval.types import Citation, Filters, Hit, Passage

TODAY = "2026-11-25"


class FakeRetriever:
    """Returns the hits it was given for a query (or none), under the rules every retriever follows
    (tests/retrieval/contract.py: type filter, top_k, best first, a not-current document only first, with
    its replacement); records every search."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self.answers: dict[str, list[tuple[str, float]]] = {}
        self.calls: list[tuple[str, Filters | None]] = []

    def add(self, query: str, *scored: tuple[str, float]) -> None:
        self.answers[query] = list(scored)

    def search(
        self, query: str, filters: Filters | None = None, top_k: int = 5, include_inactive: bool = False
    ) -> list[Hit]:
        self.calls.append((query, filters))
        hits: list[Hit] = []
        for doc_id, score in sorted(self.answers.get(query.strip(), []), key=lambda a: -a[1]):
            doc = self.archive.get(doc_id)
            if len(hits) >= top_k or (filters and filters.type and doc.type != filters.type):
                continue
            citation = Citation.of(doc, TODAY)
            if not citation.is_current and hits and not include_inactive:
                continue
            field = "materials" if doc.type == DocType.GUIDE else "section"
            text = "；".join(doc.materials) if doc.materials else doc.body[:120]
            passage = Passage(id=f"{doc.id}#0", doc_id=doc.id, field=field, text=text, title=doc.title)
            hits.append(Hit(doc_id=doc.id, doc_type=doc.type, title=doc.title, score=score,
                            passages=[passage], citation=citation,
                            superseded_by=superseded_citation(self.archive, doc, TODAY)))
        return hits


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    store = Archive(tmp_path / "archive.db")
    seed_demo(store)
    yield store
    store.close()


@pytest.fixture
def conversations(tmp_path: Path) -> Iterator[Conversations]:
    store = Conversations(tmp_path / "app.db")
    yield store
    store.close()


@pytest.fixture
def retriever(archive: Archive) -> FakeRetriever:
    return FakeRetriever(archive)


@pytest.fixture
def ctx(archive: Archive, retriever: FakeRetriever, conversations: Conversations) -> BotContext:
    return BotContext(archive=archive, retriever=retriever, conversations=conversations,
                      today=lambda: "2026-11-25")


@pytest.fixture(scope="session")
def domain() -> dict[str, Any]:
    return load_domain(REPO_ROOT / "domain")


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


def tracker(
    text: str,
    intent: str = "ask_guide",
    entities: list[dict[str, Any]] | None = None,
    slots: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
    sender: str = "citizen-1",
    active_loop: str | None = None,
) -> Tracker:
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.95}, "entities": entities or []}
    return Tracker.from_dict({
        "sender_id": sender,
        "slots": {"language": "zh", **(slots or {})},
        "latest_message": latest,
        "events": [*(events or []), {"event": "user", "text": text, "parse_data": latest}],
        "paused": False,
        "followup_action": None,
        "active_loop": {"name": active_loop} if active_loop else {},
        "latest_action_name": "action_listen",
    })


def ent(name: str, value: str, extractor: str = "DIETClassifier") -> dict[str, Any]:
    return {"entity": name, "value": value, "extractor": extractor, "start": 0, "end": len(value)}


def responses(dispatcher: CollectingDispatcher) -> list[str]:
    return [m.get("response") for m in dispatcher.messages]


def slot_events(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
