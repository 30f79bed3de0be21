"""Local fakes of the messaging platforms, served by aiohttp on 127.0.0.1, for the real libraries to talk to:

- :class:`FakeBotAPI`: the Telegram Bot API as python-telegram-bot calls it (``<base>/bot<token>/<method>``,
  parameters form-encoded, ``chat_id`` arriving as a string), with ``getUpdates`` fed from a queue;
- :class:`FakeWeChatAPI`: WeChat's ``token`` and ``message/custom/send`` (and ``menu/create``);
- :class:`WeChatSide`: what WeChat's servers send the app, signed (plain) or encrypted (safe mode) by
  wechatpy.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import xmltodict
from aiohttp import web
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from tests.web.fakes import FakeReply


class FakeBotAPI:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.updates: list[dict[str, Any]] = []
        self.changed = asyncio.Event()
        self.next_id = 1000
        self.refuse_html = False  # answer HTML messages with "can't parse entities"
        self.app = web.Application()
        self.app.router.add_route("*", "/bot{token}/{method}", self.handle)

    def of(self, method: str) -> list[dict[str, Any]]:
        return [data for name, data in self.calls if name == method]

    async def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.of(method)) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{method} called {len(self.of(method))} times, not {count}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), left)
        return self.of(method)

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.content_type == "application/json":
            data = dict(await request.json())
        else:
            data = dict(await request.post())
        if method != "getUpdates" or self.updates:
            self.calls.append((method, data))
            self.changed.set()
        result: Any = True
        if method == "getMe":
            result = {"id": 42, "is_bot": True, "first_name": "Civic", "username": "civic_test_bot"}
        elif method == "sendMessage" and self.refuse_html and data.get("parse_mode") == "HTML":
            return web.json_response({"ok": False, "error_code": 400,
                                      "description": "Bad Request: can't parse entities"}, status=400)
        elif method == "sendMessage":
            self.next_id += 1
            result = {"message_id": self.next_id, "date": int(time.time()), "text": data.get("text", ""),
                      "chat": {"id": int(data["chat_id"]), "type": "private"}}
        elif method == "getUpdates":
            if not self.updates:
                await asyncio.sleep(0.05)
            result, self.updates = self.updates, []
        elif method not in ("answerCallbackQuery", "deleteWebhook", "setWebhook", "getWebhookInfo"):
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        return web.json_response({"ok": True, "result": result})


def tg_user(chat_id: int, language: str = "zh-hans") -> dict[str, Any]:
    return {"id": chat_id, "is_bot": False, "first_name": "Li", "language_code": language}


def tg_message(update_id: int, chat_id: int, text: str, message_id: int | None = None,
               language: str = "zh-hans") -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_id": message_id or update_id, "date": int(time.time()), "text": text,
        "chat": {"id": chat_id, "type": "private"}, "from": tg_user(chat_id, language),
    }
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"update_id": update_id, "message": message}


def tg_callback(update_id: int, chat_id: int, data: str) -> dict[str, Any]:
    return {"update_id": update_id, "callback_query": {
        "id": f"cbq{update_id:08d}", "from": tg_user(chat_id), "chat_instance": "ci-1", "data": data,
        "message": {"message_id": 5000 + update_id, "date": int(time.time()), "text": "…",
                    "chat": {"id": chat_id, "type": "private"}}}}


class FakeWeChatAPI:
    """``GET <base>token`` and ``POST <base>message/custom/send``; ``errcode`` makes the send fail."""

    def __init__(self) -> None:
        self.tokens_issued = 0
        self.sent: list[dict[str, Any]] = []
        self.menus: list[dict[str, Any]] = []
        self.errcode = 0
        self.changed = asyncio.Event()
        self.app = web.Application()
        self.app.router.add_get("/cgi-bin/token", self.token)
        self.app.router.add_post("/cgi-bin/message/custom/send", self.send)
        self.app.router.add_post("/cgi-bin/menu/create", self.menu)

    async def token(self, request: web.Request) -> web.Response:
        assert request.query["appid"] == "wx-test-app" and request.query["secret"] == "app-secret"
        self.tokens_issued += 1
        return web.json_response({"access_token": f"token-{self.tokens_issued}", "expires_in": 7200})

    def _authorised(self, request: web.Request) -> bool:
        return request.query.get("access_token") == f"token-{self.tokens_issued}"

    async def send(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        body = json.loads(await request.read())
        self.sent.append(body)
        self.changed.set()
        if self.errcode:
            return web.json_response({"errcode": self.errcode, "errmsg": "response out of time limit"})
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def menu(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        self.menus.append(json.loads(await request.read()))
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def wait_sent(self, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.sent) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{len(self.sent)} customer-service messages, not {count}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), left)
        return self.sent


WX_TOKEN = "wx-server-token"
WX_APP_ID = "wx-test-app"
WX_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as WeChat issues them
ACCOUNT = "gh_civic_account"


def signature(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return str(signer.signature)


@dataclass
class WeChatSide:
    """Builds the requests WeChat's servers send: XML bodies and the signed query string."""

    token: str = WX_TOKEN
    aes: bool = False
    crypto: WeChatCrypto | None = None
    counter: list[int] = field(default_factory=lambda: [0])

    def __post_init__(self) -> None:
        if self.aes:
            self.crypto = WeChatCrypto(self.token, WX_AES_KEY, WX_APP_ID)

    @staticmethod
    def text_xml(user: str, text: str, msg_id: int, created: int | None = None) -> str:
        return (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{user}]]>"
                f"</FromUserName><CreateTime>{created or int(time.time())}</CreateTime>"
                f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{text}]]></Content><MsgId>{msg_id}</MsgId></xml>")

    @staticmethod
    def event_xml(user: str, event: str, key: str = "", created: int | None = None) -> str:
        return (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{user}]]>"
                f"</FromUserName><CreateTime>{created or int(time.time())}</CreateTime>"
                f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event><EventKey><![CDATA[{key}]]></EventKey></xml>")

    def request(self, xml: str, bad: bool = False) -> tuple[dict[str, str], str]:
        """(query, body) of one delivery; ``bad`` signs with the wrong token."""
        self.counter[0] += 1
        timestamp, nonce = str(int(time.time())), f"nonce{self.counter[0]}"
        token = "wrong" + self.token if bad else self.token
        query = {"signature": signature(token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce,
                 "openid": "ignored"}
        if self.crypto is None:
            return query, xml
        sealed = xmltodict.parse(self.crypto.encrypt_message(xml, nonce, timestamp))["xml"]
        body = (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
                f"<Encrypt><![CDATA[{sealed['Encrypt']}]]></Encrypt></xml>")
        query.update(encrypt_type="aes", msg_signature="0" * 40 if bad else sealed["MsgSignature"])
        return query, body

    def read_reply(self, body: str) -> dict[str, Any]:
        """A passive reply (decrypted in safe mode) as a dict; {} for ``success``."""
        if body == "success":
            return {}
        if self.crypto is not None:
            sealed = xmltodict.parse(body)["xml"]
            body = self.crypto.decrypt_message(body, sealed["MsgSignature"], sealed["TimeStamp"],
                                               sealed["Nonce"])
        return dict(xmltodict.parse(body)["xml"])


@dataclass
class ScriptedChat:
    """A ChatService stand-in: replies from ``script`` (text -> reply dict fragment), else an echo; counts
    every call and can be slow."""

    script: dict[str, dict[str, Any]] = field(default_factory=dict)
    delay: Callable[[str], float] = lambda text: 0.0
    calls: list[tuple[str, str, str | None, str]] = field(default_factory=list)

    async def handle(self, session: str, text: str, language: str | None = None, channel: str = "api",
                     capabilities: dict[str, Any] | None = None) -> FakeReply:
        self.calls.append((session, text, language, channel))
        wait = self.delay(text)
        if wait:
            await asyncio.sleep(wait)
        reply = {"session": session, "messages": [{"text": f"收到：{text}", "buttons": [], "card": None,
                                                    "citations": []}],
                 "intent": {"name": "fake", "confidence": 1.0}, "handoff": False, "mode": "dialogue"}
        reply.update(self.script.get(text, {}))
        return FakeReply(reply)

    def texts(self) -> list[str]:
        return [c[1] for c in self.calls]
