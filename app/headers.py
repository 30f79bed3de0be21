"""Security headers on every page the app serves (the web chat, the admin console, the public pages) and
their assets: a Content-Security-Policy with no inline script or style (every script and stylesheet is a
file this app serves, no CDN, so pages work inside a government intranet), no framing, no referrer, no
content sniffing, and HSTS when the request came over TLS."""

from __future__ import annotations

from aiohttp import web

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


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    if is_page_path(request.path):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.secure:
            response.headers.setdefault("Strict-Transport-Security", HSTS)


def setup_security_headers(app: web.Application) -> None:
    app.on_response_prepare.append(security_headers)
