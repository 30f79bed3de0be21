"""A scripted ChatService and a live app server in a thread, for the web chat's fast tests.

The scripted replies have the exact shape of ``app.chat.Reply.to_json()``; the real dialogue is covered by
the real-stack browser tests (test_browser_stack.py).
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from app.factory import create_app
from app.keys import WEB_CONNECTOR
from connectors.ratelimit import RateLimiter
from core.settings import Settings

GUIDE_CARD = {  # the shape bot/guide.py's guide_card() sends
    "type": "guide",
    "guide_id": "guide-jzz",
    "title": "居住证办理",
    "aspect": "materials",
    "checklist": ["居民身份证原件", "近期一寸白底照片", "居住登记凭证"],
    "fields": {
        "location": "示范市政务服务中心一楼 12 号窗口",
        "hours": "周一至周五 9:00-17:00",
        "fees": "免费",
        "time_limit_promised": "10 个工作日",
        "online_url": "https://zwfw.example.gov.cn/jzz",
    },
}
GUIDE_CITATION = {
    "id": "guide-jzz",
    "title": "示范市居住证办理指南",
    "doc_no": "示公规〔2023〕5号",
    "issuer": "示范市公安局",
    "issued_on": "2023-03-01",
    "url": "https://www.example.gov.cn/jzz",
    "status": "published",
}
ABOLISHED_CITATION = {
    "id": "policy-old",
    "title": "示范市流动人口管理暂行办法",
    "doc_no": "示政发〔2009〕12号",
    "issuer": "示范市人民政府",
    "issued_on": "2009-06-01",
    "url": "https://www.example.gov.cn/old",
    "status": "abolished",
}


class FakeReply:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def to_json(self) -> dict[str, Any]:
        return self.data


@dataclass
class FakeChat:
    """Answers by keyword; counts every call so a test can prove a message ran exactly once."""

    calls: Counter[str] = field(default_factory=Counter)
    languages: dict[str, str | None] = field(default_factory=dict)  # text -> the client's language hint
    delay: float = 0.0
    fail: bool = False

    async def handle(self, session: str, text: str, language: str | None = None, channel: str = "api",
                     capabilities: dict[str, Any] | None = None) -> FakeReply:
        self.calls[text] += 1
        self.languages[text] = language
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail:
            raise RuntimeError("scripted failure")
        msg: dict[str, Any] = {"text": f"收到：{text}", "buttons": [], "card": None, "citations": []}
        if "居住证" in text:
            msg = {
                "text": "办理居住证需要以下材料：",
                "buttons": [
                    {"title": "收费标准", "payload": '/ask_guide{"aspect":"fees"}'},
                    {"title": "办理地点", "payload": '/ask_guide{"aspect":"location"}'},
                ],
                "card": GUIDE_CARD,
                "citations": [GUIDE_CITATION],
            }
        elif "aspect" in text and "fees" in text:
            msg = {"text": "居住证办理免费。", "buttons": [], "card": None, "citations": [GUIDE_CITATION]}
        elif "暂行办法" in text:
            msg = {"text": "该办法已废止。", "buttons": [], "card": None, "citations": [ABOLISHED_CITATION]}
        return FakeReply(
            {
                "session": session,
                "messages": [msg],
                "intent": {"name": "fake", "confidence": 1.0},
                "handoff": False,
            }
        )


class _NoRetriever:
    def warm_up(self) -> None:
        """Nothing to load: the fake dialogue never searches."""

    def search(self, *args: Any, **kwargs: Any) -> list[Any]:
        return []


def fake_app(
    settings: Settings, chat: FakeChat, limiter: RateLimiter | None = None, block_ws: bool = False
) -> web.Application:
    """The real app from the factory, with the scripted ChatService behind its web connector.

    ``block_ws`` refuses WebSocket handshakes the way some intranet proxies do, to exercise the fallback.
    """
    app = create_app(settings, retriever=_NoRetriever(), chat=chat, limiter=limiter)
    if block_ws:

        @web.middleware
        async def no_websockets(request: web.Request, handler: Any) -> web.StreamResponse:
            if request.path == "/ws":
                raise web.HTTPForbidden(text="WebSockets are blocked by the proxy")
            return await handler(request)

        app.middlewares.append(no_websockets)

    return app


class LiveServer:
    """Serves an app on 127.0.0.1:<free port> from a background thread (for the browser to load)."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="live-server", daemon=True)
        self.runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(60)
        return self

    async def _start(self) -> None:
        self.runner = web.AppRunner(self.app, shutdown_timeout=1)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def run(self, coro: Any, timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close_sockets(self) -> int:
        """Drop every open chat WebSocket from the server side (a flaky network)."""

        async def close() -> int:
            sockets = list(self.app[WEB_CONNECTOR].sockets)
            for ws in sockets:
                await ws.close(code=1012, message=b"test restart")
            return len(sockets)

        return int(self.run(close()))

    def stop(self) -> None:
        if self.runner is not None:
            self.run(self.runner.cleanup(), timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
