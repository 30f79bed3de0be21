"""``POST /api/chat`` records its turns in the chat history as channel ``api`` (masked, with the reply's
intent), so the analytics count the API with the other channels."""

from __future__ import annotations

from typing import Any

from app.analytics import Analytics, Filters
from app.factory import create_app
from app.keys import HISTORY
from core.settings import Settings
from tests.app.fakes import FakeEngine, FakeRetriever


async def test_api_turns_are_recorded_masked_and_counted_as_the_api_channel(
        aiohttp_client: Any, settings: Settings) -> None:
    client = await aiohttp_client(create_app(settings, engine=FakeEngine(), retriever=FakeRetriever()))
    for text in ("你好", "我的手机 13812345678"):
        response = await client.post("/api/chat", json={"session": "hotline-1", "text": text})
        assert response.status == 200
    assert (await client.post("/api/chat", json={"session": "", "text": "x"})).status == 400
    turns = client.app[HISTORY].recent("hotline-1")
    assert [t.text for t in turns] == ["你好", "我的手机 〔手机号〕"]
    assert all(t.reply is not None and t.reply["intent"]["name"] == "greet" for t in turns)
    assert "13812345678" not in repr([t.reply for t in turns])
    assert len({t.key for t in turns}) == 2
    analytics = Analytics(settings.paths.app_db, settings.time_zone)
    today = analytics.today()
    report = analytics.report(Filters(today, today))
    channels = dict(report.channels)
    assert (channels["api"].conversations, channels["api"].messages) == (1, 2)
    assert channels["web"].messages == 0
    assert [(i.name, i.messages) for i in report.intents] == [("greet", 2)]
