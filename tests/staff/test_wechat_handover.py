"""Issue 15's hand-over: a WeChat citizen asks for a person, staff answer in the console, and the answer
reaches the (fake, loopback) WeChat API as a customer-service message — the real WeChat connector, the real
dialogue service with the engine down (the standby hands over on /request_human as the dialogue does)."""

from __future__ import annotations

import asyncio

from aiohttp import CookieJar
from aiohttp.test_utils import TestClient

from app.keys import CONVERSATIONS
from app.staff_console import DESK
from core.settings import Settings
from tests.admin.conftest import create_users, sign_in_client
from tests.app.fakes import FakeEngine
from tests.connectors.conftest import (  # noqa: F401
    AppFactory,
    bot_api,
    channel_app,
    chat,
    wechat_api,
)
from tests.connectors.fakes import FakeWeChatAPI, WeChatSide
from tests.connectors.test_wechat import Api, deliver

USER = "oCitizen_42"


async def test_a_wechat_handover_is_answered_from_the_console(channel_app: AppFactory,  # noqa: F811
                                                             wechat_api: Api, settings: Settings  # noqa: F811
                                                             ) -> None:
    fake: FakeWeChatAPI = wechat_api[0]
    create_users(settings)
    client = await channel_app(telegram=False, real_chat=True, engine=FakeEngine(up=False))
    side = WeChatSide()
    status, reply = await deliver(client, side, side.text_xml(USER, "/request_human", 7001))
    assert status == 200
    session = f"wechat:{USER}"
    ticket = await asyncio.to_thread(client.app[CONVERSATIONS].paused_ticket, session)
    assert ticket is not None and ticket in reply["Content"]

    staff: TestClient = TestClient(client.server, cookie_jar=CookieJar(unsafe=True))
    await staff.start_server()
    try:
        csrf = {"X-CSRF-Token": await sign_in_client(staff, "staff1")}
        client.app[DESK].wake()
        [told] = await fake.wait_sent(1)
        assert told["touser"] == USER and "排在第 1 位" in told["text"]["content"]
        taken = await staff.post(f"/api/admin/staff/handovers/{ticket}/take", json={}, headers=csrf)
        label = (await taken.json())["label"]
        await fake.wait_sent(2)
        assert fake.sent[1]["text"]["content"] == f"{label} 正在为您服务。"

        sent = await staff.post(f"/api/admin/staff/handovers/{ticket}/reply",
                                json={"text": "您好，请问需要办理什么业务？"}, headers=csrf)
        assert (await sent.json())["delivered"] is True
        assert fake.sent[2] == {"touser": USER, "msgtype": "text",
                                "text": {"content": f"【{label}】您好，请问需要办理什么业务？"}}

        # the citizen's next message goes to the ticket, the bot stays quiet
        _, paused = await deliver(client, side, side.text_xml(USER, "我想问居住证", 7002))
        assert ticket in paused["Content"]
        transcript = (await (await staff.get(f"/api/admin/staff/handovers/{ticket}")).json())["transcript"]
        assert [line["text"] for line in transcript][-2:] == ["您好，请问需要办理什么业务？", "我想问居住证"]

        assert (await staff.post(f"/api/admin/staff/handovers/{ticket}/release", json={},
                                 headers=csrf)).status == 200
        await fake.wait_sent(4)
        assert fake.sent[3]["text"]["content"] == "人工服务已结束，智能助手继续为您服务。"
        _, back = await deliver(client, side, side.text_xml(USER, "居住证怎么办", 7003))
        assert ticket not in back.get("Content", "")
        assert await asyncio.to_thread(client.app[CONVERSATIONS].paused_ticket, session) is None
    finally:
        await staff.close()
