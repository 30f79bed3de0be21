"""Fixtures for the messaging channels: the fake platforms on loopback and the real app wired to them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from app.factory import create_app
from core.settings import Settings
from tests.app.fakes import FakeEngine, FakeRetriever
from tests.connectors.fakes import WX_AES_KEY, WX_APP_ID, WX_TOKEN, FakeBotAPI, FakeWeChatAPI, ScriptedChat
from tests.web.fakes import GUIDE_CARD, GUIDE_CITATION

AiohttpClient = Any
AiohttpServer = Any
TG_TOKEN = "123456:TEST-token"
TG_SECRET = "s3cret-token_1"

GUIDE_REPLY = {"messages": [{
    "text": "办理居住证需要以下材料：\n☐ 1. 居民身份证原件 <原件> & 复印件",
    "buttons": [{"title": "收费标准",
                 "payload": '/ask_guide{"aspect":"fees","item":"居住证办理（示范市公安局）"}'},
                {"title": "办理地点", "payload": '/ask_guide{"aspect":"location"}'}],
    "card": GUIDE_CARD, "citations": [GUIDE_CITATION]}]}


@pytest.fixture
def chat() -> ScriptedChat:
    return ScriptedChat(script={"居住证要带什么材料": GUIDE_REPLY})


@pytest.fixture
async def bot_api(aiohttp_server: AiohttpServer) -> tuple[FakeBotAPI, TestServer]:
    fake = FakeBotAPI()
    return fake, await aiohttp_server(fake.app, host="127.0.0.1")


@pytest.fixture
async def wechat_api(aiohttp_server: AiohttpServer) -> tuple[FakeWeChatAPI, TestServer]:
    fake = FakeWeChatAPI()
    return fake, await aiohttp_server(fake.app, host="127.0.0.1")


AppFactory = Callable[..., Awaitable[TestClient]]


@pytest.fixture
def channel_app(bot_api: tuple[FakeBotAPI, TestServer], wechat_api: tuple[FakeWeChatAPI, TestServer],
                aiohttp_client: AiohttpClient, settings: Settings, chat: ScriptedChat) -> AppFactory:
    """``await channel_app(telegram=..., wechat=..., **settings)``: the real app with both channels pointed at
    the fakes (``telegram=False``/``wechat=False`` turns one off), a scripted dialogue behind them.  The fakes
    are set up first, so the app stops before they do."""

    async def make(telegram: bool = True, wechat: bool = True, aes: bool = False, real_chat: bool = False,
                   engine: FakeEngine | None = None, options: dict[str, dict[str, Any]] | None = None,
                   **overrides: Any) -> TestClient:
        values: dict[str, Any] = {}
        if telegram:
            values.update(telegram_token=TG_TOKEN, telegram_webhook_secret=TG_SECRET,
                          telegram_api_url=str(bot_api[1].make_url("/bot")))
        if wechat:
            values.update(wechat_token=WX_TOKEN, wechat_app_id=WX_APP_ID, wechat_app_secret="app-secret",
                          wechat_api_url=str(wechat_api[1].make_url("/cgi-bin/")),
                          wechat_aes_key=WX_AES_KEY if aes else "")
        values.update(overrides)
        app = create_app(settings.with_overrides(**values), engine=engine or FakeEngine(),
                         retriever=FakeRetriever(), chat=None if real_chat else chat, channel_options=options)
        return await aiohttp_client(app)

    return make
