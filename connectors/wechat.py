"""The WeChat Official Account (公众号) channel, through the same connector as the web chat.

Transport (wechatpy 1.8, synchronous: every call runs on the app's thread pool, never on the event loop)
  ``GET /wechat``   URL verification: the signature of (token, timestamp, nonce) checked, ``echostr`` echoed.
  ``POST /wechat``  a message or event; the signature is checked (403 otherwise).  With ``wechat_aes_key``
                    set, an ``encrypt_type=aes`` message is decrypted and its ``msg_signature`` checked by
                    ``WeChatCrypto`` (safe mode), and the reply is encrypted the same way.

Replies
  A message is answered with a passive XML reply when the answer is ready within ``deadline`` (4.5 s:
  WeChat waits 5 s); otherwise the route answers ``success`` and the answer follows as a customer-service
  message (``connectors/wechat_api.py``: the access token cached in app.db for all replicas; errcode 45015,
  the 48-hour window passed, is logged and not retried).  WeChat re-sends a message it got no reply to, three
  times in all: the idempotency key is the MsgId (an event's: its CreateTime; the session holds
  FromUserName), so the dialogue runs once and each retry gets the same answer — or ``success`` when that
  answer went by customer-service message.
  Buttons become numbered choices (「回复 1：收费标准」); a digit sent back maps to that user's payload.
  Citations are text with their address.  A text is at most 2,048 bytes: a longer answer is split, the rest
  sent as customer-service messages.
Events: subscribe → the welcome (utter_greet) and how to ask; unsubscribe → the user's choices forgotten;
menu CLICK → its key (an intent payload such as ``/ask_status``, or a question) as the citizen's message
(``civic wechat menu FILE.yml`` publishes the menu).  Voice messages with WeChat's recognition are read as
text; other kinds get a polite "text only".
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

from aiohttp import web
from wechatpy import create_reply, parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException, WeChatClientException
from wechatpy.utils import check_signature

from connectors.base import Capabilities, Inbound, Outbound
from connectors.messaging import MessagingConnector
from connectors.render import Line, message_lines, pack, utf8_len
from connectors.wechat_api import WINDOW_PASSED, CivicWeChatClient, SharedTokens
from core.inputs import detect_language

log = logging.getLogger(__name__)

CHANNEL = "wechat"
MAX_BYTES = 2048  # a text message's content, passive or customer-service
DEADLINE = 4.5  # seconds: WeChat gives up on a passive reply after 5
SEND_ATTEMPTS = 3


def _signed(token: str, signature: str, timestamp: str, nonce: str) -> bool:
    try:
        check_signature(token, signature, timestamp, nonce)
    except InvalidSignatureException:
        return False
    return True


class WeChatConnector(MessagingConnector):
    name: ClassVar[str] = CHANNEL
    # rendered as text by this connector (numbered choices, citations with addresses)
    capabilities: ClassVar[Capabilities] = Capabilities(
        buttons=True, cards=True, citations=True, max_buttons=9)
    ROUTES: ClassVar[tuple[tuple[str, str, str], ...]] = (
        ("GET", "/wechat", "verify"),
        ("POST", "/wechat", "incoming"),
    )

    def __init__(self, *args: Any, token: str, app_id: str = "", app_secret: str = "", aes_key: str = "",
                 api_url: str, deadline: float = DEADLINE, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.token = token
        self.deadline = deadline
        self.crypto = WeChatCrypto(token, aes_key, app_id) if aes_key else None
        self.client = (CivicWeChatClient(app_id, app_secret, api_url, SharedTokens(self.state))
                       if app_id and app_secret else None)
        self._answering: dict[tuple[str, str], asyncio.Task[tuple[list[str], bool]]] = {}
        self._late: set[tuple[str, str]] = set()
        self._background: set[asyncio.Task[None]] = set()

    # -- transport ---------------------------------------------------------------------------------
    async def verify(self, request: web.Request) -> web.Response:
        q = request.query
        if not await asyncio.to_thread(_signed, self.token, q.get("signature", ""), q.get("timestamp", ""),
                                       q.get("nonce", "")):
            raise web.HTTPForbidden(text="bad signature")
        return web.Response(text=q.get("echostr", ""))

    async def incoming(self, request: web.Request) -> web.Response:
        started = asyncio.get_running_loop().time()
        q = request.query
        timestamp, nonce = q.get("timestamp", ""), q.get("nonce", "")
        if not await asyncio.to_thread(_signed, self.token, q.get("signature", ""), timestamp, nonce):
            raise web.HTTPForbidden(text="bad signature")
        body = await request.read()
        encrypted = q.get("encrypt_type", "raw") == "aes"
        if encrypted:
            crypto = self.crypto
            if crypto is None:
                raise web.HTTPForbidden(text="safe mode is not configured (wechat_aes_key)")
            try:
                body = await asyncio.to_thread(crypto.decrypt_message, body, q.get("msg_signature", ""),
                                               timestamp, nonce)
            except Exception as exc:  # a bad msg_signature, or not ours (another app id, a bad key)
                raise web.HTTPForbidden(text="bad message signature") from exc
        try:
            message = await asyncio.to_thread(parse_message, body)
        except Exception as exc:
            raise web.HTTPBadRequest(text="not a WeChat message") from exc
        if message is None:
            raise web.HTTPBadRequest(text="empty message")
        text = await self._handle(message, started)
        if not text:
            return web.Response(text="success")
        xml = await asyncio.to_thread(lambda: create_reply(text, message=message).render())
        if encrypted and self.crypto is not None:
            xml = await asyncio.to_thread(self.crypto.encrypt_message, xml, nonce, timestamp)
        return web.Response(text=xml, content_type="application/xml")

    # -- what a message means ----------------------------------------------------------------------
    async def _handle(self, message: Any, started: float) -> str:
        user = str(message.source or "")
        kind = message.type
        if kind == "event":
            event = str(message.event or "")
            if event in ("subscribe", "subscribe_scan"):
                return self.texts.greet("zh") + "\n\n" + self.texts.say("wechat_help", "zh")
            if event == "unsubscribe":
                await asyncio.to_thread(self.state.forget, f"{CHANNEL}:{user}")
                return ""
            if event == "click" and message.key:
                return await self._dialogue(user, str(message.key), f"wx-ev-{message.time}", "", started)
            return ""
        text = ""
        if kind == "text":
            text = str(message.content or "")
        elif kind == "voice":
            text = str(getattr(message, "recognition", "") or "")
        if not text.strip():
            return self.texts.say("text_only", detect_language(text) or "zh")
        label = ""
        digits = text.strip()
        if digits.isdigit() and len(digits) <= 2:
            found = await asyncio.to_thread(self.state.choice, f"{CHANNEL}:{user}", int(digits))
            if found is not None:
                text, label = found
        return await self._dialogue(user, text, f"wx-msg-{message.id}", label, started)

    async def _dialogue(self, user: str, text: str, key: str, label: str, started: float) -> str:
        """The passive reply for one message ("" = ``success``), the dialogue run once per key."""
        slot = (f"{CHANNEL}:{user}", key)
        if slot in self._late or await asyncio.to_thread(self.state.is_late, *slot):
            return ""  # the answer went, or goes, by customer-service message
        task = self._answering.get(slot)
        first = task is None
        if task is None:
            lang = detect_language(text) or "zh"
            task = asyncio.get_running_loop().create_task(
                self._compose(Inbound(CHANNEL, user, text, key, label[:200]), lang))
            self._answering[slot] = task
            task.add_done_callback(lambda _t: self._answering.pop(slot, None))
        left = self.deadline - (asyncio.get_running_loop().time() - started)
        try:
            parts, duplicate = await asyncio.wait_for(asyncio.shield(task), max(0.0, left))
        except TimeoutError:
            if first:
                self._late.add(slot)
                await asyncio.to_thread(self.state.mark_late, *slot)
                self._spawn(self._send_later(user, slot, task))
            return ""
        if slot in self._late:
            return ""
        if first and not duplicate and len(parts) > 1:
            self._spawn(self._push(user, parts[1:]))
        return parts[0] if parts else ""

    async def _compose(self, inbound: Inbound, lang: str) -> tuple[list[str], bool]:
        """The answer as texts of at most MAX_BYTES each, and whether it is a re-delivery's stored answer."""
        out = await self.answer(inbound, lang)
        if isinstance(out, str):
            return ([out] if out else []), False
        buttons = [b for m in out.messages for b in m.get("buttons") or [] if b.get("payload")]
        buttons = buttons[: self.capabilities.max_buttons]
        await asyncio.to_thread(self.state.set_choices, out.session, buttons)
        return self.render(out, buttons, lang), out.duplicate

    def render(self, out: Outbound, buttons: list[dict[str, Any]], lang: str) -> list[str]:
        """The messages as texts of at most MAX_BYTES, the buttons numbered at the end."""
        lines: list[Line] = []
        for message in out.messages:
            if lines:
                lines.append(Line.plain(""))
            lines.extend(message_lines(message, self.texts, lang, urls_inline=True))
        if buttons:
            lines.append(Line.plain(""))
            lines.extend(Line.plain(self.texts.say("choose", lang, n=i, title=b.get("title", "")))
                         for i, b in enumerate(buttons, 1))
        texts = ["\n".join(line.text for line in chunk).strip() for chunk in pack(lines, MAX_BYTES, utf8_len)]
        return [t for t in texts if t]

    # -- customer-service messages -----------------------------------------------------------------
    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _send_later(self, user: str, slot: tuple[str, str], task: asyncio.Task[tuple[list[str], bool]]
                          ) -> None:
        try:
            parts, _ = await task
        except Exception:
            log.exception("wechat: a late answer failed")
            return
        finally:
            self._late.discard(slot)  # the database remembers it for the retries
        await self._push(user, parts)

    async def _push(self, user: str, parts: list[str], raise_errors: bool = False) -> None:
        client = self.client
        if client is None:
            log.warning("wechat: cannot send a customer-service message: wechat_app_id/secret are not set")
            if raise_errors:
                raise RuntimeError("wechat_app_id and wechat_app_secret are needed to push messages")
            return
        for part in parts:
            for attempt in range(1, SEND_ATTEMPTS + 1):
                try:
                    await asyncio.to_thread(client.message.send_text, user, part)
                    break
                except WeChatClientException as exc:
                    if exc.errcode == WINDOW_PASSED:
                        log.warning("wechat: the 48-hour window to %s has passed; message dropped", user)
                    elif exc.errcode is None and attempt < SEND_ATTEMPTS:  # HTTP trouble: try again
                        await asyncio.sleep(attempt)
                        continue
                    else:
                        log.error("wechat: customer-service message failed: %s", exc)
                    if raise_errors:
                        raise
                    return
                except Exception:
                    if attempt < SEND_ATTEMPTS:
                        await asyncio.sleep(attempt)
                        continue
                    log.exception("wechat: customer-service message failed")
                    if raise_errors:
                        raise
                    return

    async def send(self, user: str, text: str) -> None:
        """Push ``text`` to a user by customer-service message (a staff reply); raises when it fails."""
        chunks = pack([Line.plain(t) for t in text.split("\n")], MAX_BYTES, utf8_len)
        await self._push(user, ["\n".join(line.text for line in c) for c in chunks], raise_errors=True)

    async def close(self) -> None:
        """At shut-down: let the answers in flight go out (briefly), then stop."""
        pending = list(self._background)
        if pending:
            _, left = await asyncio.wait(pending, timeout=10)
            for task in left:
                task.cancel()
