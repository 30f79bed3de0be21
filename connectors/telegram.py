"""The Telegram channel: python-telegram-bot 22 inside the app, through the same connector as the web chat.

Transport
  webhook (``telegram_mode = "webhook"``, the default): ``POST /telegram/webhook``; the request must carry
  ``X-Telegram-Bot-Api-Secret-Token`` equal to ``telegram_webhook_secret`` (403 otherwise, and always when no
  secret is set); the update goes on the PTB ``Application``'s queue and the route answers 200 at once.
  ``civic telegram set-webhook URL`` registers the URL with that secret.
  polling (``telegram_mode = "polling"``): PTB's updater long-polls ``getUpdates`` (deleting any webhook
  first), for a deployment without a public URL.
  Either way the ``Application`` (built with ``updater(None)`` for webhooks) is started and stopped with the
  app (``app/factory.py``'s start-up context); ``telegram_api_url`` points it at another Bot API server.

Replies (HTML parse mode, every value escaped): the text, a guide card's title, citations as links with 文号,
issuer, date and a mark when no longer valid; buttons as an inline keyboard whose callback data is a short
id of the payload (``connectors/channel_state.py``; callback data is at most 64 bytes), 👍/👎 under an answer
with sources; replies longer than 4,096 characters are split.  Commands: /start (welcome), /help, /human
(the hand-over, as the web chat's 「转人工」), /lang (中文 ↔ English).  The user's ``language_code`` is the
language hint; each chat is rate-limited with a polite notice (``connectors/messaging.py``).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any, ClassVar

from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import MessageLimit, ParseMode
from telegram.error import BadRequest
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from connectors.base import Capabilities, Inbound, KeyedLocks, Outbound
from connectors.messaging import MessagingConnector, language_hint
from connectors.render import Line, message_lines, pack
from core.inputs import detect_language

log = logging.getLogger(__name__)

CHANNEL = "telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "callback_query"]
MAX_CHARS = int(MessageLimit.MAX_TEXT_LENGTH)  # 4096
HUMAN = "/request_human"
Ctx = ContextTypes.DEFAULT_TYPE


def build_application(token: str, api_url: str, polling: bool) -> Application[Any, Any, Any, Any, Any, Any]:
    # httpx logs every request's URL at INFO, and a Bot API URL holds the bot's token
    logging.getLogger("httpx").setLevel(logging.WARNING)
    builder = Application.builder().token(token).base_url(api_url).concurrent_updates(True)
    if not polling:
        builder = builder.updater(None)
    return builder.build()


class TelegramConnector(MessagingConnector):
    name: ClassVar[str] = CHANNEL
    # rendered by this connector (HTML), so the dialogue's structure is kept for it
    capabilities: ClassVar[Capabilities] = Capabilities(
        buttons=True, cards=True, citations=True, max_buttons=8)
    ROUTES: ClassVar[tuple[tuple[str, str, str], ...]] = (("POST", "/telegram/webhook", "webhook"),)

    def __init__(self, *args: Any, token: str, secret: str = "", api_url: str, polling: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.secret = secret
        self.polling = polling
        self.application = build_application(token, api_url, polling)
        self._chat_locks = KeyedLocks()  # updates run one at a time within a chat, in arrival order
        add = self.application.add_handler
        add(CommandHandler("start", self._on_start))
        add(CommandHandler("help", self._on_help))
        add(CommandHandler("human", self._on_human))
        add(CommandHandler("lang", self._on_lang))
        add(MessageHandler(filters.TEXT & ~filters.COMMAND, self._on_text))
        add(CallbackQueryHandler(self._on_callback))
        add(MessageHandler(~filters.TEXT, self._on_other))
        self.application.add_error_handler(self._on_error)

    # -- life cycle --------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.application.initialize()  # getMe: a wrong token fails here
        await self.application.start()
        updater = self.application.updater
        if self.polling and updater is not None:
            await updater.start_polling(allowed_updates=ALLOWED_UPDATES)  # deletes a webhook first

    async def stop(self) -> None:
        updater = self.application.updater
        if updater is not None and updater.running:
            await updater.stop()
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()

    # -- webhook -----------------------------------------------------------------------------------
    async def webhook(self, request: web.Request) -> web.Response:
        presented = request.headers.get(SECRET_HEADER, "")
        if not self.secret or not hmac.compare_digest(presented.encode(), self.secret.encode()):
            raise web.HTTPForbidden(text="wrong or missing secret token")
        try:
            data = await request.json()
            if not isinstance(data, dict):
                raise ValueError("not an object")
            update = Update.de_json(data, self.application.bot)
        except Exception as exc:
            raise web.HTTPBadRequest(text=f"not a Telegram update: {exc}") from exc
        await self.application.update_queue.put(update)
        return web.Response(text="ok")

    # -- sending -----------------------------------------------------------------------------------
    async def send(self, user: str, text: str) -> None:
        """Push plain ``text`` to a chat (a staff reply), split at Telegram's limit."""
        for chunk in pack([Line.plain(t) for t in text.split("\n")], MAX_CHARS):
            await self.application.bot.send_message(
                chat_id=int(user), text="\n".join(line.html for line in chunk), parse_mode=ParseMode.HTML)

    async def _say(self, chat_id: int, text: str) -> None:
        if text:
            await self.send(str(chat_id), text)

    async def _deliver(self, chat_id: int, out: Outbound | str, lang: str) -> None:
        if isinstance(out, str):
            await self._say(chat_id, out)
            return
        lines: list[Line] = []
        for message in out.messages:
            if lines:
                lines.append(Line.plain(""))
            lines.extend(message_lines(message, self.texts, lang))
        while lines and not lines[-1].text.strip():
            lines.pop()
        markup = await self._keyboard(out)
        chunks = pack(lines, MAX_CHARS)
        for i, chunk in enumerate(chunks):
            body = "\n".join(line.html for line in chunk).strip()
            if not body:
                continue
            keyboard = markup if i == len(chunks) - 1 else None
            try:
                await self.application.bot.send_message(
                    chat_id=chat_id, text=body, parse_mode=ParseMode.HTML, disable_web_page_preview=True,
                    reply_markup=keyboard)
            except BadRequest as exc:  # Telegram refused the HTML: the same words, unformatted
                log.warning("telegram refused a formatted reply (%s); sending it as plain text", exc)
                plain = "\n".join(line.text for line in chunk).strip()
                await self.application.bot.send_message(chat_id=chat_id, text=plain, reply_markup=keyboard)

    async def _keyboard(self, out: Outbound) -> InlineKeyboardMarkup | None:
        buttons = [b for m in out.messages for b in m.get("buttons") or []][: self.capabilities.max_buttons]
        rows: list[list[InlineKeyboardButton]] = []
        for b in buttons:
            title, payload = str(b.get("title") or ""), str(b.get("payload") or "")
            if not title or not payload:
                continue
            digest = await asyncio.to_thread(self.state.remember_payload, payload, title)
            button = InlineKeyboardButton(title[:64], callback_data=f"p:{digest}")
            if rows and len(rows[-1]) == 1 and len(title) <= 12 and len(rows[-1][0].text) <= 12:
                rows[-1].append(button)
            else:
                rows.append([button])
        cited = any(m.get("citations") for m in out.messages)
        if cited and out.key and self.history is not None and not out.handoff:
            rows.append([InlineKeyboardButton("👍", callback_data=f"f:up:{out.key}"),
                         InlineKeyboardButton("👎", callback_data=f"f:down:{out.key}")])
        return InlineKeyboardMarkup(rows) if rows else None

    # -- turns -------------------------------------------------------------------------------------
    async def _languages(self, update: Update, text: str = "") -> tuple[str, str]:
        """(the hint for the dialogue, the language of the channel's own texts)."""
        chat = update.effective_chat
        chosen = await asyncio.to_thread(self.state.language, f"{CHANNEL}:{chat.id}") if chat else ""
        user = update.effective_user
        hint = chosen or language_hint(user.language_code if user else "")
        return hint, detect_language(text) or hint or "zh"

    async def _chat_turn(self, update: Update, text: str, key: str, label: str = "") -> None:
        chat = update.effective_chat
        if chat is None:
            return
        hint, lang = await self._languages(update, text)
        async with self._chat_locks.hold(chat.id):
            out = await self.answer(Inbound(CHANNEL, str(chat.id), text, key, label[:200], hint), lang)
            await self._deliver(chat.id, out, lang)

    async def _on_text(self, update: Update, context: Ctx) -> None:
        message, chat = update.effective_message, update.effective_chat
        if message is not None and message.text is not None and chat is not None:
            await self._chat_turn(update, message.text, f"tg-m-{chat.id}-{message.message_id}")

    async def _on_human(self, update: Update, context: Ctx) -> None:
        message, chat = update.effective_message, update.effective_chat
        if message is not None and chat is not None:
            await self._chat_turn(update, HUMAN, f"tg-m-{chat.id}-{message.message_id}", "/human")

    async def _on_start(self, update: Update, context: Ctx) -> None:
        if update.effective_chat is not None:
            _, lang = await self._languages(update)
            await self._say(update.effective_chat.id,
                            self.texts.greet(lang) + "\n\n" + self.texts.say("help", lang))

    async def _on_help(self, update: Update, context: Ctx) -> None:
        if update.effective_chat is not None:
            _, lang = await self._languages(update)
            await self._say(update.effective_chat.id, self.texts.say("help", lang))

    async def _on_lang(self, update: Update, context: Ctx) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        _, current = await self._languages(update)
        asked = language_hint((context.args or [""])[0])
        lang = asked or ("zh" if current == "en" else "en")
        await asyncio.to_thread(self.state.set_language, f"{CHANNEL}:{chat.id}", lang)
        await self._say(chat.id, self.texts.say("lang_set", lang))

    async def _on_other(self, update: Update, context: Ctx) -> None:
        if update.effective_chat is not None and update.effective_message is not None:
            _, lang = await self._languages(update)
            await self._say(update.effective_chat.id, self.texts.say("text_only", lang))

    async def _on_callback(self, update: Update, context: Ctx) -> None:
        query = update.callback_query
        chat = update.effective_chat
        if query is None or chat is None:
            return
        _, lang = await self._languages(update)
        kind, _, rest = (query.data or "").partition(":")
        if kind == "f":
            value, _, key = rest.partition(":")
            stored = value in ("up", "down") and await self.feedback(f"{CHANNEL}:{chat.id}", key, value)
            await query.answer(self.texts.say("feedback_thanks", lang) if stored else None)
            return
        found = await asyncio.to_thread(self.state.payload, rest) if kind == "p" else None
        if found is None:
            await query.answer(self.texts.say("button_expired", lang))
            return
        await query.answer()
        payload, title = found
        await self._chat_turn(update, payload, f"tg-cb-{query.id}"[:64], title)

    async def _on_error(self, update: object, context: Ctx) -> None:
        log.error("telegram update failed", exc_info=context.error)


async def set_webhook(token: str, api_url: str, url: str, secret: str) -> bool:
    """Register ``url`` as the bot's webhook with the secret the route checks (``civic telegram``)."""
    async with Bot(token, base_url=api_url) as bot:
        return bool(await bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES))


async def delete_webhook(token: str, api_url: str) -> bool:
    async with Bot(token, base_url=api_url) as bot:
        return bool(await bot.delete_webhook())
