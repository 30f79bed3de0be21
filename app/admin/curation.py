"""The curation loop in the console (issue 13 part 4): ``/admin/curation``.

  GET  /admin/curation                            the inbox (groups of what the bot failed on), the curated
                                                  data's versions, the newest candidate with its before/after
                                                  comparison, what is active
  POST /admin/curation/examples                   ``text`` (each message ticked), ``intent``
  POST /admin/curation/synonym                    ``service``, ``synonym`` (``text``: the group, then handled)
  POST /admin/curation/faq                        ``text`` (the questions), ``answer``, ``title``: a draft FAQ
                                                  that goes through review
  POST /admin/curation/dismiss                    ``text``, ``reason``
  POST /admin/curation/train                      queue a candidate on the newest version; a ``civic curation
                                                  train`` process of its own runs it
  POST /admin/curation/candidates/{cid}/activate  ``override`` (admins only) for a candidate that loses more
                                                  than 0.02 F1 on an intent
  POST /admin/curation/rollback                   re-activate the previous model
  GET  /api/admin/curation/status                 the newest candidate's state and progress (the page's
                                                  script polls it)

Roles: everything is the editor's (admins hold every role): curating, training, activating a candidate that
passes the comparison, rolling back.  Overriding the comparison — activating a candidate that loses F1 on an
intent — is the admin's alone, and recorded in the audit log as its own row (``curation_override``).
Activation marks the engine not ready for the load (``EngineMonitor.mark_down``), so the chat answers from
search while Rasa loads the model, and probes it back at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any
from urllib.parse import quote

from aiohttp import web

from app.admin.web import audit, current_user, render, require
from app.curation import actions, inbox, training
from app.curation.store import CurationStore
from app.keys import ARCHIVE, ENGINE, ENGINE_MONITOR, RETRIEVER, SETTINGS
from core.errors import EngineUnavailable, InvalidInput, NotFound
from core.settings import Settings

EDITOR = ("editor",)
OVERRIDE = ("admin",)
MAX_GROUPS = 30
PAGE = "/admin/curation"


def _settings(request: web.Request) -> Settings:
    return request.app[SETTINGS]


def _store(request: web.Request) -> CurationStore:
    return CurationStore(_settings(request).paths.curation_dir)


def _candidates(request: web.Request) -> training.Candidates:
    return training.Candidates(_settings(request).paths.curation_dir)


def _back(notice: str = "", error: str = "") -> web.HTTPSeeOther:
    query = f"?notice={quote(notice)}" if notice else f"?error={quote(error)}" if error else ""
    return web.HTTPSeeOther(PAGE + query)


def _inbox(request: web.Request) -> list[inbox.Group]:
    settings = _settings(request)
    encoder = inbox.encoder_of(request.app.get(RETRIEVER))
    return inbox.build_inbox(settings.paths.app_db, _store(request).handled_keys(), encoder)[:MAX_GROUPS]


def _latest(request: web.Request) -> dict[str, Any] | None:
    candidates = _candidates(request)
    ids = candidates.ids()
    if not ids:
        return None
    state = candidates.status(ids[0])
    if state.get("state") == "ready":
        with contextlib.suppress(NotFound):
            state["report"] = candidates.report(ids[0])
    return state


def _page_data(request: web.Request) -> dict[str, Any]:
    settings = _settings(request)
    store = _store(request)
    archive = request.app.get(ARCHIVE)
    return {
        "groups": _inbox(request),
        "intents": actions.domain_intents(settings.project_dir),
        "services": actions.service_titles(archive) if archive is not None else [],
        "history": store.history()[:10],
        "latest_version": store.latest_version(),
        "candidate": _shown_candidate(_latest(request)),
        "active": {"candidate": None, "version": 0, "history": [], "override": False, "rolled_back_at": None,
                   "at": None, "actor": "", **training.active_state(settings)},
    }


def _shown_candidate(state: dict[str, Any] | None) -> dict[str, Any] | None:
    """The candidate with every field the template reads (it refuses undefined ones)."""
    if state is None:
        return None
    return {"id": "", "state": "", "version": 0, "error": "", "progress": None, "report": None, **state}


@require(*EDITOR)
async def page(request: web.Request) -> web.StreamResponse:
    data = await asyncio.to_thread(_page_data, request)
    user = current_user(request)
    return render(request, "admin/curation.html", {
        **data, "notice": request.query.get("notice", "")[:300],
        "error": request.query.get("error", "")[:300],
        "may_override": user.may(*OVERRIDE), "max_loss": training.MAX_F1_LOSS,
        "running": training.RUNNING_STATES, "when": _when,
    })


def _when(at: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(at)) if at else ""


async def _texts(request: web.Request) -> tuple[list[str], Any]:
    form = await request.post()
    texts = [str(t) for t in form.getall("text", []) if str(t).strip()]
    if not texts:
        raise InvalidInput("tick at least one message of the group")
    return texts, form


@require(*EDITOR)
async def add_examples(request: web.Request) -> web.StreamResponse:
    try:
        texts, form = await _texts(request)
        intent = str(form.get("intent", ""))
        intents = await asyncio.to_thread(actions.domain_intents, _settings(request).project_dir)
        user = current_user(request).name
        data = await asyncio.to_thread(_store(request).add_examples, intent, texts, intents=intents,
                                       actor=user)
    except InvalidInput as exc:
        raise _back(error=str(exc)) from None
    await audit(request, "curation_add_examples", intent, {"version": data.version - 1},
                {"version": data.version, "texts": texts})
    raise _back(f"已加入 {len(texts)} 条 {intent} 示例（第 {data.version} 版） "
                f"Added {len(texts)} examples of {intent} (version {data.version})")


@require(*EDITOR)
async def add_synonym(request: web.Request) -> web.StreamResponse:
    try:
        form = await request.post()
        texts = [str(t) for t in form.getall("text", []) if str(t).strip()]
        service, synonym = str(form.get("service", "")), str(form.get("synonym", ""))
        archive = request.app.get(ARCHIVE)
        if archive is None:
            raise InvalidInput("the archive is not open")
        services = await asyncio.to_thread(actions.service_titles, archive)
        data = await asyncio.to_thread(_store(request).add_synonym, service, synonym, services=services,
                                       actor=current_user(request).name, texts=texts or None)
    except InvalidInput as exc:
        raise _back(error=str(exc)) from None
    await audit(request, "curation_add_synonym", service, {"version": data.version - 1},
                {"version": data.version, "synonym": synonym})
    raise _back(f"已添加同义词 {synonym} → {service}（第 {data.version} 版） "
                f"Synonym added (version {data.version})")


@require(*EDITOR)
async def add_faq(request: web.Request) -> web.StreamResponse:
    try:
        texts, form = await _texts(request)
        archive = request.app.get(ARCHIVE)
        if archive is None:
            raise InvalidInput("the archive is not open")
        doc, data = await asyncio.to_thread(
            actions.create_faq, archive, _store(request), texts, str(form.get("answer", "")),
            title=str(form.get("title", "")), actor=current_user(request).name)
    except InvalidInput as exc:
        raise _back(error=str(exc)) from None
    await audit(request, "curation_add_faq", doc.id, None,
                {"status": doc.status.value, "title": doc.title, "questions": texts, "version": data.version})
    raise _back(f"已创建草稿 {doc.id}，提交审核后才会发布 "
                f"Draft {doc.id} created; it is published only after review")


@require(*EDITOR)
async def dismiss(request: web.Request) -> web.StreamResponse:
    try:
        texts, form = await _texts(request)
        data = await asyncio.to_thread(_store(request).dismiss, texts, actor=current_user(request).name,
                                       reason=str(form.get("reason", "")))
    except InvalidInput as exc:
        raise _back(error=str(exc)) from None
    await audit(request, "curation_dismiss", f"{len(texts)} messages", None,
                {"version": data.version, "texts": texts})
    raise _back(f"已忽略 {len(texts)} 条 Dismissed {len(texts)} messages")


@require(*EDITOR)
async def train(request: web.Request) -> web.StreamResponse:
    settings = _settings(request)
    store, candidates = _store(request), _candidates(request)
    try:
        version = await asyncio.to_thread(store.latest_version)
        if version == 0:
            raise InvalidInput("nothing curated yet: add examples or a synonym first")
        cid = await asyncio.to_thread(candidates.new, version, current_user(request).name)
    except InvalidInput as exc:
        raise _back(error=str(exc)) from None
    await asyncio.to_thread(training.start_background, settings, cid)
    await audit(request, "curation_train", cid, None, {"version": version})
    raise _back(f"开始训练候选模型 {cid} Training candidate {cid}")


async def _loaded_model(request: web.Request) -> str:
    engine = request.app[ENGINE]
    status = getattr(engine, "status", None)
    if status is None:
        return ""
    try:
        data = await status(timeout=5.0)
    except EngineUnavailable:
        return ""
    return str(data.get("model_file") or "")


async def _swap(request: web.Request, model: Any) -> None:
    """Load ``model`` into the engine; the chat answers from search while it loads."""
    engine = request.app[ENGINE]
    load = getattr(engine, "load_model", None)
    if load is None:
        raise EngineUnavailable("this engine cannot load models")
    monitor = request.app.get(ENGINE_MONITOR)
    if monitor is not None:
        monitor.mark_down("loading a new model")
    try:
        await load(str(model))
    finally:
        if monitor is not None:
            await monitor.probe()


@require(*EDITOR)
async def activate(request: web.Request) -> web.StreamResponse:
    cid = request.match_info["cid"]
    form = await request.post()
    user = current_user(request)
    override = form.get("override") == "yes"
    if override and not user.may(*OVERRIDE):
        raise _back(error="only an admin may override the comparison")
    settings = _settings(request)
    try:
        loaded = await _loaded_model(request)
        result = await training.activate(settings, cid, lambda m: _swap(request, m), loaded=loaded,
                                         actor=user.name, override=override)
    except (InvalidInput, NotFound, EngineUnavailable) as exc:
        raise _back(error=str(exc)) from None
    if result["after"]["override"]:
        await audit(request, "curation_override", cid, None, {"regressions": result["regressions"]})
    await audit(request, "curation_activate", cid, {"model": result["before"]["model"]},
                {"model": result["after"]["model"], "version": result["after"]["version"],
                 "override": result["after"]["override"]})
    raise _back(f"已启用候选模型 {cid} Candidate {cid} is active")


@require(*EDITOR)
async def rollback(request: web.Request) -> web.StreamResponse:
    try:
        result = await training.rollback(_settings(request), lambda m: _swap(request, m),
                                         actor=current_user(request).name)
    except (InvalidInput, NotFound, EngineUnavailable) as exc:
        raise _back(error=str(exc)) from None
    await audit(request, "curation_rollback", str(result["before"].get("candidate") or ""),
                {"model": result["before"]["model"]}, {"model": result["after"]["model"]})
    raise _back("已回滚到上一个模型 Rolled back to the previous model")


@require(*EDITOR)
async def status_api(request: web.Request) -> web.StreamResponse:
    state = await asyncio.to_thread(_latest, request)
    if state is not None:
        state.pop("report", None)
        state.pop("pid", None)
    return web.json_response({"candidate": state, "running": bool(state and state.get("state")
                                                                       in training.RUNNING_STATES)})


ROUTES: list[tuple[str, str, Any]] = [
    ("GET", PAGE, page),
    ("POST", PAGE + "/examples", add_examples),
    ("POST", PAGE + "/synonym", add_synonym),
    ("POST", PAGE + "/faq", add_faq),
    ("POST", PAGE + "/dismiss", dismiss),
    ("POST", PAGE + "/train", train),
    ("POST", PAGE + "/candidates/{cid}/activate", activate),
    ("POST", PAGE + "/rollback", rollback),
    ("GET", "/api/admin/curation/status", status_api),
]
