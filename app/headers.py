"""Security headers on every page the app serves (the web chat, the admin console, the public pages) and
their assets: a Content-Security-Policy with no inline script or style (every script and stylesheet is a
file this app serves, no CDN, so pages work inside a government intranet), no framing, no referrer, no
content sniffing, and HSTS when the request came over TLS.

Behind a reverse proxy the TCP peer is the proxy: only when the peer is one of ``settings.trusted_proxies``
does :func:`forwarded_middleware` believe its ``X-Forwarded-For`` (the client's IP: the right-most address
that is not itself a trusted proxy) and ``X-Forwarded-Proto`` (TLS ended at the proxy).  Handlers then see
the client in ``request.remote`` and TLS in ``request.secure`` (sign-in lock-out, audit rows, Secure cookies);
from any other peer those headers are ignored, so a client cannot forge its address or fake TLS."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Awaitable, Callable

from aiohttp import web

from app.keys import SETTINGS
from core.errors import ConfigError

CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
HSTS = "max-age=31536000; includeSubDomains"
# where pages live; an API client gets the headers too (they cost nothing), a page must never miss them
PAGE_PREFIXES = ("/webchat/", "/api/webchat/", "/admin", "/api/admin/", "/public/", "/catalog", "/staff")


def is_page_path(path: str) -> bool:
    return path == "/" or path.startswith(PAGE_PREFIXES)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.cache
def _networks(setting: str) -> tuple[Network, ...]:
    try:
        return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in setting.split(",")
                     if part.strip())
    except ValueError as exc:
        raise ConfigError(f"trusted_proxies: {exc} (comma-separated IPs or CIDRs)") from exc


def _trusted(address: str, setting: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in net for net in _networks(setting))


def from_trusted_proxy(request: web.Request) -> bool:
    setting = request.app[SETTINGS].trusted_proxies
    return bool(setting and request.remote and _trusted(request.remote, setting))


def client_ip(request: web.Request) -> str:
    """The client's IP: the peer, or behind a trusted proxy the right-most untrusted X-Forwarded-For hop."""
    peer = request.remote or ""
    if not from_trusted_proxy(request):
        return peer
    setting = request.app[SETTINGS].trusted_proxies
    forwarded = ",".join(request.headers.getall("X-Forwarded-For", []))
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, setting):
            return hop
    return hops[0] if hops else peer


def is_secure(request: web.Request) -> bool:
    """TLS to this app, or to a trusted proxy that says so in X-Forwarded-Proto."""
    if request.secure:
        return True
    proto = request.headers.get("X-Forwarded-Proto", "").split(",")[-1].strip().lower()
    return proto == "https" and from_trusted_proxy(request)


@web.middleware
async def forwarded_middleware(request: web.Request,
                               handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                               ) -> web.StreamResponse:
    if from_trusted_proxy(request):
        request = request.clone(remote=client_ip(request), scheme="https" if is_secure(request) else "http")
    return await handler(request)


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    if is_page_path(request.path):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
    if is_secure(request):  # every response over TLS, pages or not
        response.headers.setdefault("Strict-Transport-Security", HSTS)


def setup_security_headers(app: web.Application) -> None:
    app.on_response_prepare.append(security_headers)
