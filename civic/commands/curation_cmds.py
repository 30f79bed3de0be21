"""`civic curation inbox|add-examples|add-synonym|add-faq|dismiss|versions|train|status|activate|rollback`.

The curation loop from the shell (docs/admin.md, "The curation loop"): what the bot failed on, grouped;
curated into the versioned data in ``<home>/curation``; a candidate trained, evaluated against the active
model, activated in the running engine, rolled back.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
from pathlib import Path
from typing import Any

import click

from app.audit import AuditLog
from app.curation import actions, inbox, training
from app.curation.store import CurationStore
from app.engine_client import RasaClient, load_model, replica_urls
from archive.store import Archive
from civic.train import prepare_inputs, rasa_env, read_stamp, run_rasa_train
from core.errors import EngineUnavailable, InvalidInput, NotFound
from core.settings import Settings


def _actor() -> str:
    try:
        return "cli:" + getpass.getuser()
    except Exception:  # no login name in a container
        return "cli"


ACTOR = _actor()


def _audit(settings: Settings, action: str, target: str, before: Any = None, after: Any = None) -> None:
    """The console's audit rows for the same actions done from the shell (role ``shell``)."""
    log = AuditLog(settings.paths.app_db)
    try:
        log.record(ACTOR, "shell", action, target, before, after)
    finally:
        log.close()


def _dump(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _store(settings: Settings) -> CurationStore:
    return CurationStore(settings.paths.curation_dir)


def _encoder(settings: Settings, use: bool) -> inbox.Encoder | None:
    if not use:
        return None
    from retrieval.embedder import load_embedder

    return load_embedder(settings.embedding_model)


def _groups(settings: Settings, use_encoder: bool = True) -> list[inbox.Group]:
    handled = _store(settings).handled_keys()
    return inbox.build_inbox(settings.paths.app_db, handled, _encoder(settings, use_encoder))


def _group(settings: Settings, group_id: str, use_encoder: bool) -> inbox.Group:
    found = inbox.find_group(_groups(settings, use_encoder), group_id)
    if found is None:
        raise NotFound(f"no inbox group {group_id} (run `civic curation inbox`)")
    return found


def _say(message: str) -> None:
    """Progress goes to stderr, so `--json` output stays one document on stdout."""
    click.echo(message, err=True)


def rasa_tools(settings: Settings) -> training.Rasa:
    """The loop's way of running Rasa: civic/train.py's environment, inputs and `rasa train`."""

    def train(inputs: Any, out_dir: Path, progress: Path, reason: str, cache_dir: Path | None) -> Path:
        expected = float(read_stamp(settings).get("seconds") or 60.0)
        run = run_rasa_train(settings, inputs, out_dir, progress, reason, expected, echo=_say,
                             stream=False, cache_dir=cache_dir)
        run.tracker.finish(True)
        return run.model

    return training.Rasa(settings.rasa_bin, rasa_env(settings), lambda: prepare_inputs(settings), train)


def engine_url(settings: Settings, given: str | None) -> str:
    """The running engine: --engine-url, the setting, or what `civic serve` wrote in <home>/serve.json."""
    if given or settings.engine_url:
        return str(given or settings.engine_url)
    try:
        state = json.loads((settings.paths.root / "serve.json").read_text(encoding="utf-8"))
        return str(state["engine_url"])
    except (OSError, ValueError, KeyError):
        raise EngineUnavailable("no running engine found (no `civic serve` for this home); "
                                "pass --engine-url") from None


async def _loaded_model(url: str, token: str) -> str:
    async with RasaClient(url, token, timeout=10) as client:
        return str((await client.status()).get("model_file") or "")


def _texts(settings: Settings, group_id: str | None, texts: tuple[str, ...], use_encoder: bool) -> list[str]:
    """The group's messages (when a GROUP id is given) followed by any --text."""
    chosen = _group(settings, group_id, use_encoder).texts if group_id else []
    chosen += [t for t in texts if t not in chosen]
    if not chosen:
        raise InvalidInput("give a GROUP id from `civic curation inbox` or --text")
    return chosen


@click.group("curation")
def curation() -> None:
    """The curation loop: inbox, curated data, candidate training, activation, roll-back."""


@curation.command("inbox")
@click.option("--json", "as_json", is_flag=True, help="Print the groups as JSON.")
@click.option("--ngrams", is_flag=True, help="Group by character n-grams instead of the sentence encoder.")
@click.option("--limit", default=20, show_default=True, help="Groups to show.")
@click.pass_context
def inbox_cmd(ctx: click.Context, as_json: bool, ngrams: bool, limit: int) -> None:
    """What the bot failed on (fallbacks, low-confidence intents, negative feedback, hand-overs), grouped."""
    groups = _groups(ctx.obj.settings, not ngrams)[:limit]
    if as_json:
        _dump([g.to_json() for g in groups])
        return
    if not groups:
        click.echo("The inbox is empty.")
    for g in groups:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(g.kinds.items()))
        click.echo(f"{g.id}  {g.count}×  ({kinds})")
        for text in g.examples:
            click.echo(f"    {text}")
        if g.answer:
            click.echo(f"    bot: {g.answer[:120]}")


@curation.command("add-examples")
@click.argument("group_id", required=False)
@click.option("--intent", required=True, help="An intent of the domain.")
@click.option("--text", "texts", multiple=True, help="A message (besides or instead of a group); repeatable.")
@click.option("--ngrams", is_flag=True, help="The inbox was grouped by n-grams (as `inbox --ngrams`).")
@click.pass_context
def add_examples(ctx: click.Context, group_id: str | None, intent: str, texts: tuple[str, ...],
                 ngrams: bool) -> None:
    """Add a group's messages (or --text) as examples of INTENT; prints the new data version."""
    settings = ctx.obj.settings
    chosen = _texts(settings, group_id, texts, not ngrams)
    data = _store(settings).add_examples(intent, chosen, intents=actions.domain_intents(settings.project_dir),
                                         actor=ACTOR)
    _audit(settings, "curation_add_examples", intent, {"version": data.version - 1},
           {"version": data.version, "texts": chosen})
    click.echo(f"version {data.version}: {data.change.summary if data.change else ''}")


@curation.command("add-synonym")
@click.argument("service")
@click.argument("synonym")
@click.pass_context
def add_synonym(ctx: click.Context, service: str, synonym: str) -> None:
    """SYNONYM becomes another name of the published guide titled SERVICE."""
    settings = ctx.obj.settings
    with Archive(settings.paths.archive_db) as archive:
        titles = actions.service_titles(archive)
    data = _store(settings).add_synonym(service, synonym, services=titles, actor=ACTOR)
    _audit(settings, "curation_add_synonym", service, {"version": data.version - 1},
           {"version": data.version, "synonym": synonym})
    click.echo(f"version {data.version}: {data.change.summary if data.change else ''}")


@curation.command("add-faq")
@click.argument("group_id", required=False)
@click.option("--answer", required=True, help="The FAQ's answer.")
@click.option("--title", default="", help="The question as the FAQ shows it (default: the first message).")
@click.option("--text", "texts", multiple=True, help="A question (besides a group or instead); repeatable.")
@click.option("--ngrams", is_flag=True, help="The inbox was grouped by n-grams.")
@click.pass_context
def add_faq(ctx: click.Context, group_id: str | None, answer: str, title: str, texts: tuple[str, ...],
            ngrams: bool) -> None:
    """Draft an FAQ from a group's messages (it goes through review before it is published)."""
    settings = ctx.obj.settings
    questions = _texts(settings, group_id, texts, not ngrams)
    with Archive(settings.paths.archive_db) as archive:
        doc, data = actions.create_faq(archive, _store(settings), questions, answer, title=title, actor=ACTOR)
    _audit(settings, "curation_add_faq", doc.id, None, {"status": doc.status.value, "title": doc.title,
                                                        "questions": questions, "version": data.version})
    click.echo(f"draft {doc.id} ({doc.title}); version {data.version}")


@curation.command("dismiss")
@click.argument("group_id")
@click.option("--reason", default="", help="Why (kept with the version).")
@click.option("--ngrams", is_flag=True, help="The inbox was grouped by n-grams.")
@click.pass_context
def dismiss(ctx: click.Context, group_id: str, reason: str, ngrams: bool) -> None:
    """Take a group out of the inbox for good."""
    settings = ctx.obj.settings
    texts = _group(settings, group_id, not ngrams).texts
    data = _store(settings).dismiss(texts, actor=ACTOR, reason=reason)
    _audit(settings, "curation_dismiss", f"{len(texts)} messages", None,
           {"version": data.version, "texts": texts})
    click.echo(f"version {data.version}: {data.change.summary if data.change else ''}")


@curation.command("versions")
@click.option("--json", "as_json", is_flag=True, help="Print it as JSON.")
@click.pass_context
def versions(ctx: click.Context, as_json: bool) -> None:
    """The curated data's versions, newest first, and which one the active model holds."""
    settings = ctx.obj.settings
    history = _store(settings).history()
    active = training.active_state(settings).get("version", 0)
    if as_json:
        _dump({"active": active, "versions": [c.__dict__ for c in history]})
        return
    for change in history:
        mark = " (active)" if change.version == active else ""
        click.echo(f"v{change.version}{mark}  {change.action}  {change.summary}  by {change.actor or '-'}")


@curation.command("train")
@click.option("--candidate", "cid", default=None, help="Run this queued candidate (the app queues them).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def train_cmd(ctx: click.Context, cid: str | None, as_json: bool) -> None:
    """Validate, train and evaluate a candidate on the newest curated version (in the foreground)."""
    settings = ctx.obj.settings
    candidates = training.Candidates(settings.paths.curation_dir)
    if cid is None:
        cid = candidates.new(_store(settings).latest_version(), actor=ACTOR)
        _audit(settings, "curation_train", cid, None, {"version": candidates.status(cid)["version"]})
    _say(f"candidate {cid}")
    report = training.run_candidate(settings, rasa_tools(settings), cid)
    _report(report, as_json)


def _report(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _dump(report)
        return
    click.echo(f"candidate {report['candidate']} (curated v{report['version']}, "
               f"active v{report['active_version']}): macro-F1 {report['macro_f1_before']:.3f} -> "
               f"{report['macro_f1_after']:.3f} on "
               f"{report['evaluated']} held-out messages")
    for row in report["intents"]:
        flag = f"  LOSS > {report['max_loss']:.2f}" if row["regression"] else ""
        click.echo(f"  {row['intent']:<16} {row['before']:.3f} -> {row['after']:.3f} "
                   f"({row['support']}){flag}")
    stories = report.get("conversations") or {}
    if stories.get("ran"):
        click.echo(f"  conversation tests: {stories['stories']} stories, {len(stories['failed'])} failed "
                   f"{', '.join(stories['failed'])}")
    for change in report["changed"][:30]:
        click.echo(f"  changed: {change['text']}  {change['before']} -> {change['after']} "
                   f"(expected {change['expected']})")


@curation.command("status")
@click.argument("cid", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print it as JSON.")
@click.pass_context
def status(ctx: click.Context, cid: str | None, as_json: bool) -> None:
    """A candidate's state and report (the newest by default), and what is active."""
    settings = ctx.obj.settings
    candidates = training.Candidates(settings.paths.curation_dir)
    ids = candidates.ids()
    cid = cid or (ids[0] if ids else None)
    if cid is None:
        raise NotFound("no candidate yet; run `civic curation train`")
    state = candidates.status(cid)
    if as_json:
        with contextlib.suppress(NotFound):
            state["report"] = candidates.report(cid)
        state["active"] = training.active_state(settings)
        _dump(state)
        return
    click.echo(f"candidate {cid}: {state.get('state')} {state.get('error', '')}")
    if state.get("state") == "ready":
        _report(candidates.report(cid), False)


def _swapper(settings: Any, url: str, explicit: str | None) -> Any:
    """Loads a model into the engine: the one ``--engine-url`` names, else every replica of the
    ``engine_urls`` setting (docs/scaling.md), as the console's Activate does."""
    replicas = () if explicit else replica_urls(settings.engine_urls)
    return lambda model: load_model(url, settings.engine_token, model, replicas=replicas)


@curation.command("activate")
@click.argument("cid")
@click.option("--override", is_flag=True, help="Activate although an intent loses more than 0.02 F1.")
@click.option("--engine-url", default=None, help="The engine (default: the one `civic serve` runs).")
@click.pass_context
def activate(ctx: click.Context, cid: str, override: bool, **kwargs: Any) -> None:
    """Hot-swap candidate CID into the running engine (PUT /model)."""
    settings = ctx.obj.settings
    url = engine_url(settings, kwargs.get("engine_url"))

    async def run() -> dict[str, Any]:
        loaded = await _loaded_model(url, settings.engine_token)
        return await training.activate(settings, cid, _swapper(settings, url, kwargs.get("engine_url")),
                                       loaded=loaded, actor=ACTOR, override=override)

    result = asyncio.run(run())
    if result["after"]["override"]:
        _audit(settings, "curation_override", cid, None, {"regressions": result["regressions"]})
    _audit(settings, "curation_activate", cid, {"model": result["before"]["model"]},
           {"model": result["after"]["model"], "version": result["after"]["version"],
            "override": result["after"]["override"]})
    click.echo(f"activated {cid} ({Path(result['after']['model']).name}); before: "
               f"{Path(result['before']['model']).name}")


@curation.command("rollback")
@click.option("--engine-url", default=None, help="The engine (default: the one `civic serve` runs).")
@click.pass_context
def rollback(ctx: click.Context, **kwargs: Any) -> None:
    """Re-activate the model that was active before the current one."""
    settings = ctx.obj.settings
    url = engine_url(settings, kwargs.get("engine_url"))
    result = asyncio.run(training.rollback(settings, _swapper(settings, url, kwargs.get("engine_url")),
                                           actor=ACTOR))
    _audit(settings, "curation_rollback", str(result["before"].get("candidate") or ""),
           {"model": result["before"]["model"]}, {"model": result["after"]["model"]})
    click.echo(f"rolled back to {Path(result['after']['model']).name}")


COMMANDS = [curation]
