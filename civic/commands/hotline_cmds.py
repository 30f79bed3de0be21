"""`civic hotline export --since DATE --format csv|jsonl`: the submitted work orders (app/workorder.py);
`civic hotline classify|evaluate FILE.jsonl` and `civic hotline retrain`: the classifier behind their kind and
category (app/hotline_classifier.py), built as the app builds it: the labelled set, the agents' corrections
in app.db and the configured encoder (``embedding_model``; n-grams alone when it is "none" or unreadable)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

import click

from app.analytics import cell_text
from app.hotline_classifier import Loaded, corrections, labelled_set, load_examples, load_or_train, scores
from app.workorder import Orders, Routing, WorkOrder
from archive.validate import normalize_date
from core.errors import InvalidInput
from core.pii import mask
from core.settings import Settings

COLUMNS = ("order_id", "call_id", "submitted_at", "kind", "category", "department", "summary", "places",
           "times", "documents", "line", "submitted_by")


def _iso(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds") if ts is not None else ""


def row_of(order: WorkOrder) -> dict[str, str]:
    return {"order_id": order.order_id, "call_id": order.call_id, "submitted_at": _iso(order.submitted_at),
            "kind": order.kind, "category": order.category, "department": order.department,
            "summary": order.summary, "places": "；".join(order.places), "times": "；".join(order.times),
            "documents": "；".join(d["doc_id"] for d in order.documents), "line": order.line,
            "submitted_by": order.submitted_by}


def to_csv(orders: list[WorkOrder]) -> str:
    """UTF-8 with a byte-order mark (Excel reads Chinese), a header, formula-like cells quoted (as the
    analytics CSV does: app.analytics.cell_text)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for order in orders:
        row = row_of(order)
        writer.writerow([cell_text(row[c], "text") for c in COLUMNS])
    return "\ufeff" + out.getvalue()


def to_jsonl(orders: list[WorkOrder]) -> str:
    """One submitted order per line, every field (the transcript masked, as stored)."""
    return "".join(json.dumps(o.to_json(), ensure_ascii=False) + "\n" for o in orders)


@click.group("hotline")
def hotline() -> None:
    """The hotline's work orders (docs/hotline.md)."""


@hotline.command("export")
@click.option("--since", required=True, metavar="DATE",
              help="Orders submitted on or after this local day (YYYY-MM-DD, in the time_zone setting).")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="jsonl", show_default=True,
              help="csv: one row per order (summary, places, times, documents); jsonl: every field.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of standard output.")
@click.pass_context
def export(ctx: click.Context, since: str, fmt: str, output: Path | None) -> None:
    """Export the submitted work orders since DATE (drafts are not exported)."""
    settings = ctx.obj.settings
    local = ZoneInfo(settings.time_zone)
    day = datetime.fromisoformat(normalize_date(since, "--since")).replace(tzinfo=local)
    orders = Orders(settings.paths.app_db)
    try:
        found = orders.submitted_since(day.timestamp())
    finally:
        orders.close()
    text = to_csv(found) if fmt == "csv" else to_jsonl(found)
    if output is not None:
        output.write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)
    click.echo(f"{len(found)} work order(s) since {day.date().isoformat()}", err=True)


def _encoder(settings: Settings) -> Any:
    """The configured encoder, as the retriever loads it; None (n-grams alone) when there is none."""
    from retrieval.config import NO_MODEL
    from retrieval.embedder import EmbeddingModelNotFound, load_embedder

    if settings.embedding_model.strip() in NO_MODEL:
        return None
    try:
        return load_embedder(settings.embedding_model)
    except EmbeddingModelNotFound as exc:
        click.echo(f"warning: {exc}; classifying by n-grams alone", err=True)
        return None


def _classifier(settings: Settings) -> Loaded:
    orders = Orders(settings.paths.app_db)
    try:
        edits = corrections(orders)
    finally:
        orders.close()
    return load_or_train(settings.paths, labelled_set(settings), _encoder(settings), edits)


def _routing(settings: Settings) -> Routing:
    """The app's routing table (written from the archive's agencies when the home has none yet)."""
    def issuers() -> list[str]:
        if not settings.paths.archive_db.exists():
            return []
        from archive.store import Archive

        with Archive(settings.paths.archive_db) as archive:
            return [d.issuer for d in archive.iter_documents()]

    return Routing(settings.paths.hotline_routing, issuers)


def _lines(source: TextIO, name: str) -> list[tuple[int, dict[str, Any]]]:
    rows = []
    for number, line in enumerate(source, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{name}:{number}: not JSON ({exc})") from exc
        if not isinstance(row, dict) or not isinstance(row.get("text"), str) or not row["text"].strip():
            raise InvalidInput(f"{name}:{number}: needs a non-empty \"text\"")
        rows.append((number, row))
    return rows


@hotline.command("classify")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-",
              help="Write the lines here instead of standard output.")
@click.pass_context
def classify(ctx: click.Context, file: TextIO, output: TextIO) -> None:
    """Classify each line {"text": ...} of FILE (a JSONL file, - for standard input): each line is written
    back with kind, category, department and confidence ({"kind", "category"}: the model's probability).
    The text is masked first, as a call's transcript is before the draft classifies it."""
    settings = ctx.obj.settings
    rows = _lines(file, file.name)
    loaded = _classifier(settings)
    routing = _routing(settings)
    found = loaded.classifier.classify_many([mask(row["text"], caller=True) for _, row in rows])
    for (_, row), c in zip(rows, found, strict=True):
        out = {**row, "kind": c.kind, "category": c.category, "department": routing.department(c.category),
               "confidence": {"kind": c.kind_confidence, "category": c.category_confidence}}
        output.write(json.dumps(out, ensure_ascii=False) + "\n")
    click.echo(f"{len(rows)} line(s) classified ({loaded.classifier.features})", err=True)


@hotline.command("evaluate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (kind_accuracy, kind_macro_f1, "
              "category_accuracy, category_macro_f1, n).")
@click.pass_context
def evaluate(ctx: click.Context, file: Path, as_json: bool) -> None:
    """Accuracy and macro-F1 of kind and category on FILE's lines {"text", "kind", "category"} (e.g.
    data/hotline/heldout.jsonl, which the shipped model is not trained on)."""
    examples = load_examples(file)
    loaded = _classifier(ctx.obj.settings)
    predicted = loaded.classifier.classify_many([mask(e["text"], caller=True) for e in examples])
    result = scores(examples, predicted)
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(f"{result['n']} examples, classifier: {loaded.classifier.features} "
               f"(trained on {loaded.classifier.n_examples})")
    click.echo(f"{'field':<10} {'accuracy':>9} {'macro-F1':>9}")
    for field in ("kind", "category"):
        click.echo(f"{field:<10} {result[f'{field}_accuracy']:>9.3f} {result[f'{field}_macro_f1']:>9.3f}")


@hotline.command("retrain")
@click.pass_context
def retrain(ctx: click.Context) -> None:
    """Train the classifier on the labelled set and the agents' corrections (submitted orders whose kind or
    category the agent changed) and store it in the home; the app loads it at its next start."""
    loaded = _classifier(ctx.obj.settings)
    state = "trained" if loaded.trained else "up to date"
    click.echo(f"{state}: {loaded.classifier.n_examples} examples ({loaded.n_corrections} agents' "
               f"corrections), features {loaded.classifier.features}, {loaded.path}")


COMMANDS: list[click.Command] = [hotline]
