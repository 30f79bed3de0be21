"""The hotline's start-up (app/factory.py calls :func:`open_hotline` in its one start-up context): the
orders and outbox, the routing table, the work-order classifier, the webhook when a URL is set, the
raw-transcript purge, the call journal and the :class:`app.hotline.HotlineService` over them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import AsyncExitStack

from aiohttp import web

from app.hotline import HotlineService
from app.hotline_classifier import Loaded, corrections, labelled_set, load_or_train
from app.keys import ARCHIVE, AUDIT, HOTLINE, RETRIEVER, SETTINGS, STATES, ComponentState
from app.workorder import Classifier, Orders, Routing, Webhook
from connectors.hotline_journal import CallJournal
from core.errors import CivicError

log = logging.getLogger("civic.hotline")


async def _purge_raw(orders: Orders, days: int) -> None:
    while True:
        try:
            await asyncio.to_thread(orders.purge_raw, days)
        except Exception:
            log.exception("hotline: could not purge raw transcripts; retrying")
        await asyncio.sleep(3600)


async def open_hotline(app: web.Application, stack: AsyncExitStack) -> None:
    """Build the hotline at start-up (app/factory.py): the orders and outbox, the routing table, the
    classifier (trained here, on the thread pool), the webhook when a URL is set, the raw-transcript purge."""
    settings = app[SETTINGS]
    orders = await asyncio.to_thread(Orders, settings.paths.app_db)
    stack.callback(orders.close)
    archive = app.get(ARCHIVE)

    def issuers() -> list[str]:
        return [d.issuer for d in archive.iter_documents()] if archive is not None else []

    routing = Routing(settings.paths.hotline_routing, issuers)
    await asyncio.to_thread(routing.ensure)
    try:
        def trained() -> Loaded:  # the retriever's encoder (if it reads Chinese) + the agents' edits
            encoder = getattr(app.get(RETRIEVER), "embedder", None)
            return load_or_train(settings.paths, labelled_set(settings), encoder, corrections(orders))

        loaded = await asyncio.to_thread(trained)
        classifier: Classifier = loaded.classifier
        app[STATES]["hotline"] = ComponentState(True, info={
            "classifier": loaded.classifier.features, "examples": loaded.classifier.n_examples,
            "corrections": loaded.n_corrections})
    except (OSError, CivicError) as exc:
        log.exception("hotline: could not train the work-order classifier")
        app[STATES]["hotline"] = ComponentState(False, f"could not train the work-order classifier: {exc}")
        return
    webhook = None
    if settings.hotline_webhook_url:
        webhook = Webhook(orders, settings.hotline_webhook_url, settings.hotline_webhook_secret)
        await webhook.start()
        stack.push_async_callback(webhook.stop)
    purge = asyncio.get_running_loop().create_task(_purge_raw(orders, settings.hotline_raw_retention_days))
    stack.push_async_callback(_cancel, purge)
    journal = await asyncio.to_thread(CallJournal, settings.paths.app_db)
    stack.callback(journal.close)
    service = HotlineService(app.get(RETRIEVER), archive, app.get(AUDIT), orders, classifier, routing,
                             settings.hotline_raw_retention_days, webhook, journal=journal)
    service.restore(await asyncio.to_thread(journal.load))  # the calls in progress when the app stopped
    app[HOTLINE] = service


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
