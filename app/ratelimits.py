"""Rate limits on the app's public HTTP routes, one middleware, the buckets of connectors/ratelimit.py.

A rule is (which requests, a per-client-IP limit read from the settings). The client IP is
``request.remote`` as app/headers.py leaves it (the forwarded client behind a trusted proxy). A request over
the limit gets 429 with ``Retry-After`` and says why. A limit of 0 per minute switches its rule off (a load
bench from one IP; a proxy that limits itself). The web chat's messages are limited per session and per IP
by its connector (connectors/web.py), with the same buckets.

  sign_in   POST /admin/sign-in      settings.rate_sign_in_per_minute (the account+IP lock-out on top)
  api_chat  POST /api/chat           settings.rate_ip_per_minute, and per session (the body's ``session``)
                                     settings.rate_session_per_minute (:func:`session_refusal`)
  pages     GET the public pages     settings.rate_ip_per_minute: /catalog… (not its static files), /public/…,
                                     /sitemap.xml, /api/openapi.json
  channels  the Telegram and WeChat  settings.rate_webhook_per_minute: their servers post from a few
            webhooks                 addresses for every citizen, so the limit is generous; each chat is
                                     limited by its session bucket in connectors/messaging.py
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from app.keys import SETTINGS
from app.middlewares import json_error
from connectors.ratelimit import Buckets, Limit
from core.settings import Settings

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Rule:
    name: str
    methods: frozenset[str]
    matches: Callable[[str], bool]  # the request's path
    per_minute: Callable[[Settings], int]
    message: str


def _page(path: str) -> bool:
    if path.startswith("/catalog/static/"):
        return False
    return (path == "/catalog" or path.startswith(("/catalog/", "/public/"))
            or path in {"/sitemap.xml", "/api/openapi.json"})


_SLOW_DOWN = "too many requests from this address: wait a moment and try again"
RULES = (
    Rule("sign_in", frozenset({"POST"}), lambda p: p == "/admin/sign-in", lambda s: s.rate_sign_in_per_minute,
         "too many sign-in attempts from this address: wait a moment and try again"),
    Rule("api_chat", frozenset({"POST"}), lambda p: p == "/api/chat", lambda s: s.rate_ip_per_minute,
         _SLOW_DOWN),
    Rule("pages", frozenset({"GET", "HEAD"}), _page, lambda s: s.rate_ip_per_minute, _SLOW_DOWN),
    Rule("channels", frozenset({"GET", "POST"}), lambda p: p in {"/telegram/webhook", "/wechat"},
         lambda s: s.rate_webhook_per_minute, _SLOW_DOWN),
)
BUCKETS: web.AppKey[dict[str, Buckets]] = web.AppKey("rate_buckets", dict)


def _rule(request: web.Request) -> Rule | None:
    for rule in RULES:
        if request.method in rule.methods and rule.matches(request.path):
            return rule
    return None


def _take(request: web.Request, bucket: str, per_minute: int, key: str) -> float:
    buckets = request.app[BUCKETS]
    if bucket not in buckets:
        buckets[bucket] = Buckets(Limit(burst=per_minute, per_second=per_minute / 60))
    return buckets[bucket].take(key)


def _too_many(message: str, wait: float) -> web.Response:
    response = json_error(429, message, "TooManyRequests")
    response.headers["Retry-After"] = str(int(wait) + 1)
    return response


def session_refusal(request: web.Request, session: str) -> web.Response | None:
    """The 429 to answer when ``session`` has sent more than ``rate_session_per_minute`` messages (a REST
    client's own session; the web chat's are limited by its connector), else None."""
    per_minute = request.app[SETTINGS].rate_session_per_minute
    if per_minute > 0:
        wait = _take(request, "session", per_minute, session)
        if wait > 0:
            return _too_many("too many messages in this conversation: wait a moment and try again", wait)
    return None


@web.middleware
async def rate_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    rule = _rule(request)
    per_minute = rule.per_minute(request.app[SETTINGS]) if rule else 0
    if rule is None or per_minute <= 0:
        return await handler(request)
    wait = _take(request, rule.name, per_minute, request.remote or "?")
    if wait > 0:
        return _too_many(rule.message, wait)
    return await handler(request)


def setup_rate_limits(app: web.Application) -> None:
    app[BUCKETS] = {}
