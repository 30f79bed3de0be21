"""A typed request for a person while the engine is down is a hand-over, not a search result (found by the
engine drill, bench/drill.py): the standby recognises the training data's ``request_human`` examples."""

from __future__ import annotations

from typing import Any

import pytest

from app.standby import Standby, person_phrases
from core.settings import REPO_ROOT


@pytest.fixture(scope="module")
def standby() -> Standby:
    ctx: Any = None  # asks_for_person reads only the phrases
    return Standby(ctx, {}, person_phrases(REPO_ROOT))


@pytest.mark.parametrize("text", ["转人工", "转人工！", "我要转人工", "人工客服在吗？",
                                  "connect me to an agent"])
def test_typed_requests_for_a_person_are_recognised(standby: Standby, text: str) -> None:
    assert standby.asks_for_person(text)


@pytest.mark.parametrize("text", ["结婚登记要带什么材料", "你好？", "那要多少钱？", "HD202610120003",
                                  "人工智能办事指南在哪里看得到"])
def test_questions_are_still_searched(standby: Standby, text: str) -> None:
    assert not standby.asks_for_person(text)


def test_the_phrases_come_from_the_nlu_data() -> None:
    phrases = person_phrases(REPO_ROOT)
    assert "转人工" in phrases and "humanagent" in phrases
    assert "结婚登记要带什么材料" not in phrases
