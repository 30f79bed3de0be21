"""The inbox: failed messages collected from app.db and grouped by meaning."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from app.conversations import Conversations
from app.curation.inbox import build_inbox, collect, find_group, group
from app.curation.store import CurationStore, text_key
from connectors.history import History
from core.settings import Settings


def _turn(history: History, session: str, key: str, text: str, intent: str, confidence: float,
          answer: str = "好的") -> None:
    history.begin(session, key, text)
    history.finish(session, key, {"messages": [{"text": answer}], "intent": {"name": intent,
                                                                             "confidence": confidence},
                                  "mode": "dialogue"})


@pytest.fixture
def app_db(settings: Settings) -> Path:
    path = settings.paths.app_db
    conversations, history = Conversations(path), History(path)
    # fallbacks: the same question three ways, and an unrelated one
    for i, text in enumerate(["垃圾分类怎么投放", "垃圾该怎么分类", "垃圾分类怎么投放", "今天天气怎么样"]):
        _turn(history, f"web:s{i}", f"key-fallback-{i}", text, "nlu_fallback", 0.4, "抱歉，我没听懂")
        conversations.log("fallback", f"web:s{i}", text, {"answered": False})
    # a low-confidence answer, a confident one (not in the inbox), a hand-over
    _turn(history, "web:s9", "key-low-000", "垃圾要分几类", "ask_guide", 0.45, "您要办理哪项业务？")
    _turn(history, "web:s9", "key-high-000", "结婚登记要带什么", "ask_guide", 0.97)
    conversations.log("handover", "web:s8", "我要找人工，电话13812345678", {"reason": "requested"})
    # thumbs down from the dialogue (the action logs the feedback turn; the question is the turn before)
    _turn(history, "web:s7", "key-q-000000", "公积金怎么取", "ask_guide", 0.9, "请看公积金提取指南")
    _turn(history, "web:s7", "key-fb-00000", "没有帮助", "feedback_bad", 0.99)
    conversations.log("feedback_bad", "web:s7", "没有帮助", {"answer": "请看公积金提取指南"})
    conversations.close()
    history.close()
    return path


def test_collect_reads_every_kind_with_the_bots_answer(app_db: Path) -> None:
    items = collect(app_db)
    kinds = {(it.kind, it.text) for it in items}
    assert ("low_confidence", "垃圾要分几类") in kinds
    assert ("fallback", "今天天气怎么样") in kinds
    assert ("feedback_bad", "公积金怎么取") in kinds  # the question, not 「没有帮助」
    assert not any(it.text == "结婚登记要带什么" for it in items)
    handover = next(it for it in items if it.kind == "handover")
    assert "13812345678" not in handover.text  # masked when logged
    fallback = next(it for it in items if it.text == "今天天气怎么样")
    assert fallback.answer == "抱歉，我没听懂" and fallback.intent == "nlu_fallback"


def test_ngram_grouping_puts_paraphrases_together_and_counts_repeats(app_db: Path) -> None:
    groups = build_inbox(app_db, handled=())
    top = groups[0]
    assert top.examples[0] == "垃圾分类怎么投放" and "垃圾该怎么分类" in top.texts
    assert top.count >= 3 and top.kinds["fallback"] >= 3 and top.method == "ngram"
    assert top.answer == "抱歉，我没听懂"
    weather = next(g for g in groups if "今天天气怎么样" in g.texts)
    assert weather is not top and weather.count == 1
    assert find_group(groups, top.id) is top and top.id == text_key("垃圾分类怎么投放")


def test_dismissed_and_curated_messages_leave_the_inbox(app_db: Path, settings: Settings) -> None:
    store = CurationStore(settings.paths.curation_dir)
    weather = next(g for g in build_inbox(app_db, ()) if "今天天气怎么样" in g.texts)
    store.dismiss(weather.texts)
    store.add_examples("affirm", ["垃圾要分几类"], intents=["affirm"])  # any curation handles a message
    texts = {t for g in build_inbox(app_db, store.handled_keys()) for t in g.texts}
    assert "今天天气怎么样" not in texts and "垃圾要分几类" not in texts and "垃圾分类怎么投放" in texts


def test_examples_are_masked_again_before_they_are_shown() -> None:
    from app.curation.inbox import Item

    [g] = group([Item("我的身份证号11010519491231002X丢了", "fallback", "s", 1.0, "答复 13812345678")])
    assert "11010519491231002X" not in g.examples[0] and "〔身份证号〕" in g.examples[0]
    assert "13812345678" not in g.answer


class KeywordEncoder:
    """A test double of the sentence encoder: one axis per topic word, so meaning decides, not characters."""

    topics = ("垃圾", "护照")

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        rows = [[1.0 if any(w in t for w in (topic, "废品" if topic == "垃圾" else "出国证件")) else 0.0
                 for topic in self.topics] + [0.01] for t in texts]
        return np.asarray(rows, dtype=np.float32)

    def unknown_share(self, text: str) -> float:
        return 0.0


def test_the_encoder_groups_by_meaning_where_characters_differ() -> None:
    from app.curation.inbox import Item

    texts = ("垃圾怎么扔", "废品回收站在哪", "出国证件丢了", "护照补办")
    items = [Item(t, "fallback", "s", 1.0) for t in texts]
    by_ngram = group(items)
    assert len(by_ngram) == 4  # no characters in common
    by_meaning = group(items, KeywordEncoder())
    assert sorted(sorted(g.texts) for g in by_meaning) == [["出国证件丢了", "护照补办"],
                                                           ["垃圾怎么扔", "废品回收站在哪"]]
    assert {g.method for g in by_meaning} == {"encoder"}


class BlindEncoder(KeywordEncoder):
    def unknown_share(self, text: str) -> float:
        return 1.0  # cannot read the text (MiniLM on Chinese)


def test_an_encoder_that_cannot_read_the_text_is_not_used() -> None:
    from app.curation.inbox import Item

    groups = group([Item("垃圾怎么扔", "fallback", "s", 1.0)], BlindEncoder())
    assert groups[0].method == "ngram"


@pytest.mark.model
def test_use_multilingual_groups_real_paraphrases() -> None:
    from app.curation.inbox import Item
    from retrieval.embedder import load_embedder

    encoder = load_embedder("packaged:use-multilingual-v3")
    texts = ["垃圾分类怎么投放", "垃圾该怎么分类", "护照丢了怎么办", "护照不见了咋补", "今天天气怎么样"]
    groups = group([Item(t, "fallback", "s", 1.0) for t in texts], encoder)
    sets = sorted(sorted(g.texts) for g in groups)
    assert sets == [["今天天气怎么样"], ["垃圾分类怎么投放", "垃圾该怎么分类"],
                    ["护照不见了咋补", "护照丢了怎么办"]]


class CountingEncoder(KeywordEncoder):
    def __init__(self) -> None:
        self.encoded: list[str] = []

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        self.encoded += list(texts)
        return super().encode(texts, batch_size)


def test_an_inbox_view_encodes_only_messages_it_has_not_seen() -> None:
    from app.curation.inbox import Item

    encoder = CountingEncoder()
    group([Item(t, "fallback", "s", 1.0) for t in ("垃圾怎么扔", "护照补办")], encoder)
    group([Item(t, "fallback", "s", 1.0) for t in ("垃圾怎么扔", "护照补办", "废品回收站在哪")], encoder)
    assert encoder.encoded == ["垃圾怎么扔", "护照补办", "废品回收站在哪"]
