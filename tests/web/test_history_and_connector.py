"""The history store (real SQLite file), the rate limiter's arithmetic and the connector interface."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

from connectors.base import Capabilities, Connector, Inbound, as_plain_text
from connectors.history import History, mask_personal
from connectors.ratelimit import Buckets, Limit
from core.errors import InvalidInput
from tests.web.fakes import ABOLISHED_CITATION, FakeChat


def test_history_keeps_one_turn_per_key_and_the_first_answer(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    h = History(path, keep_turns=3)
    h.begin("web:s", "key-1", "你好")
    h.begin("web:s", "key-1", "你好")  # re-delivered
    h.finish("web:s", "key-1", {"messages": [{"text": "first"}]})
    h.finish("web:s", "key-1", {"messages": [{"text": "second"}]})
    for i in range(2, 6):
        h.begin("web:s", f"key-{i}", f"m{i}")
    h.finish("web:s", "key-5", {"messages": []})
    assert [t.key for t in h.recent("web:s")] == ["key-3", "key-4", "key-5"]  # pruned to keep_turns
    h.close()
    again = History(path)  # survives a restart
    assert again.find("web:s", "key-1") is None
    assert again.find("web:s", "key-5") is not None
    assert again.recent("web:other") == []
    again.close()


def test_history_stores_reply_and_feedback(tmp_path: Path) -> None:
    h = History(tmp_path / "app.db")
    h.begin("web:s", "key-1", "你好")
    assert h.set_feedback("web:s", "key-1", "up") is False  # not answered yet
    h.finish("web:s", "key-1", {"messages": [{"text": "您好"}]})
    assert h.set_feedback("web:s", "key-1", "up") is True
    turn = h.find("web:s", "key-1")
    assert turn is not None and turn.reply == {"messages": [{"text": "您好"}]} and turn.feedback == "up"
    with pytest.raises(ValueError):
        h.set_feedback("web:s", "key-1", "maybe")


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("1234", "****"),
        ("尾号9187", "尾号****"),
        ("我的手机 13812345678", "我的手机 〔手机号〕"),
        ("身份证110105199003071239", "身份证〔身份证号〕"),
        ("申请号 HD20240001", "申请号 HD20240001"),
        ("办居住证", "办居住证"),
        ("示府规〔2019〕3号现在还有效吗，2026年的通知呢", "示府规〔2019〕3号现在还有效吗，2026年的通知呢"),
    ],
)
def test_personal_data_is_masked(text: str, stored: str) -> None:
    assert mask_personal(text) == stored


def test_token_bucket_refills_with_time() -> None:
    now = [0.0]
    b = Buckets(Limit(burst=2, per_second=0.5), clock=lambda: now[0])
    assert b.take("s") == 0 and b.take("s") == 0
    assert b.take("s") == pytest.approx(2.0)
    now[0] = 2.0
    assert b.take("s") == 0
    assert b.take("other") == 0


class TextOnly(Connector):
    """A channel like SMS or the hotline's speech: no buttons, no cards, no structured citations."""

    name: ClassVar[str] = "sms"
    capabilities: ClassVar[Capabilities] = Capabilities(max_text_chars=400)


async def test_a_text_only_channel_gets_everything_folded_into_text() -> None:
    chat = FakeChat()
    out = await TextOnly(chat).receive(Inbound("sms", "u-0001", "办居住证"))
    (msg,) = out.messages
    assert set(msg) == {"text"}
    assert (
        "居民身份证原件" in msg["text"]
        and "1. 收费标准" in msg["text"]
        and "示公规〔2023〕5号" in msg["text"]
    )
    assert out.session == "sms:u-0001"


def test_plain_text_marks_abolished_documents() -> None:
    text = as_plain_text(
        {"text": "见下", "citations": [ABOLISHED_CITATION]}, labels={"abolished": "已废止"}.get
    )
    assert "[已废止]" in text and "示政发〔2009〕12号" in text


async def test_input_rules_are_shared_by_every_channel() -> None:
    conn: Connector = TextOnly(FakeChat(), max_text_chars=10)
    for bad in (
        Inbound("sms", "u", "   "),
        Inbound("sms", "u", "x" * 11),
        Inbound("sms", "u", "hi", key="bad key"),
    ):
        with pytest.raises(InvalidInput):
            await conn.receive(bad)
    with pytest.raises(InvalidInput):
        Inbound("sms", "bad user", "hi").session  # noqa: B018


async def test_redelivered_message_runs_once_with_history(tmp_path: Path) -> None:
    chat = FakeChat()
    conn = TextOnly(chat, History(tmp_path / "app.db"))
    outs: list[Any] = [await conn.receive(Inbound("sms", "u1", "你好", key="wx-msg-0001")) for _ in range(3)]
    assert chat.calls["你好"] == 1 and [o.duplicate for o in outs] == [False, True, True]
