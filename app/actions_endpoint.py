"""The Rasa action endpoint served by the app (POST /webhook). Owned by the dialogue work."""

from aiohttp import web


def setup_action_endpoint(app: web.Application) -> None:
    """Register the action endpoint routes on ``app`` (filled in by the dialogue work)."""
