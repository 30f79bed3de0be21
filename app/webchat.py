"""The citizen web chat: page, static assets and WebSocket channel. Owned by the web-chat work."""

from aiohttp import web


def setup_webchat(app: web.Application) -> None:
    """Register the web chat routes on ``app`` (filled in by the web-chat work)."""
