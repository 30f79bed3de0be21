"""Every console route: each section module lists its own ``ROUTES`` (verb, path, handler); add a module here.

Static files of the console are served from ``app/static/admin/`` at ``/admin/static/``.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from aiohttp import web

from app.admin import analytics, curation, documents, people, review, signin

ADMIN_MODULES: list[ModuleType] = [signin, people, documents, analytics, review, curation]
STATIC_DIR = Path(__file__).resolve().parent.parent / "static" / "admin"


def setup_admin_routes(app: web.Application) -> None:
    for module in ADMIN_MODULES:
        for verb, path, handler in module.ROUTES:
            app.router.add_route(verb, path, handler)
    app.router.add_static("/admin/static", STATIC_DIR, append_version=True)
