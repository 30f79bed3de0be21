"""Rate limits on the app's public HTTP routes, one middleware, the buckets of connectors/ratelimit.py.

A rule is (which requests, a per-client-IP limit read from the settings). The client IP is
``request.remote`` as app/headers.py leaves it (the forwarded client behind a trusted proxy). A request over
the limit gets 429 with ``Retry-After`` and says why. A limit of 0 per minute switches its rule off (a load
bench from one IP; a proxy that limits itself). The web chat's messages are limited per session and per IP
by its connector (connectors/web.py), with the same buckets.

  sign_in   POST /admin/sign-in      settings.rate_sign_in_per_minute (the account+IP lock-out on top)
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
    method: str
    path: str
    per_minute: Callable[[Settings], int]
    message: str


RULES = (
    Rule("sign_in", "POST", "/admin/sign-in", lambda s: s.rate_sign_in_per_minute,
         "too many sign-in attempts from this address: wait a moment and try again"),
)
BUCKETS: web.AppKey[dict[str, Buckets]] = web.AppKey("rate_buckets", dict)


def _rule(request: web.Request) -> Rule | None:
    for rule in RULES:
        if request.method == rule.method and request.path == rule.path:
            return rule
    return None


@web.middleware
async def rate_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    rule = _rule(request)
    per_minute = rule.per_minute(request.app[SETTINGS]) if rule else 0
    if rule is None or per_minute <= 0:
        return await handler(request)
    buckets = request.app[BUCKETS]
    if rule.name not in buckets:
        buckets[rule.name] = Buckets(Limit(burst=per_minute, per_second=per_minute / 60))
    wait = buckets[rule.name].take(request.remote or "?")
    if wait > 0:
        response = json_error(429, rule.message, "TooManyRequests")
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    return await handler(request)


def setup_rate_limits(app: web.Application) -> None:
    app[BUCKETS] = {}
