"""Typed keys for the state shared across the aiohttp application."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from civic.config import Settings

if TYPE_CHECKING:
    from app.chat import ChatService

SETTINGS = web.AppKey("settings", Settings)
CHAT: web.AppKey[ChatService] = web.AppKey("chat")
