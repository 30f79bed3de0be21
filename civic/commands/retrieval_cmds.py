"""Retrieval commands: `civic search`, `civic reindex`, `civic evaluate`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from archive.models import DocType


def _dump(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _say(message: str) -> None:
    click.echo(message, err=True)


def _retriever(ctx: click.Context) -> tuple[Any, Any]:
    from archive.store import Archive
    from retrieval.config import RetrievalConfig
    from retrieval.service import Retriever

    settings = ctx.obj.settings
    settings.paths.ensure()
    archive = Archive(settings.paths.archive_db)
    if not settings.paths.index_dir.joinpath("CURRENT").exists():
        _say("no index yet: building it (once)…")
    retriever = Retriever(RetrievalConfig.of(settings), archive)
    retriever.warm_up()
    return archive, retriever


def _print_hit(rank: int, hit: Any) -> None:
    c = hit.citation
    state = "current" if c.is_current else f"NOT CURRENT ({c.status})"
    meta = " · ".join(x for x in (c.doc_no, c.issuer, c.issued_on) if x)
    click.echo(f"{rank}. {hit.title}  [{hit.doc_id}, {hit.doc_type}, score {hit.score:.3f}, {state}]")
    if meta:
        click.echo(f"   {meta}")
    if c.valid_from or c.valid_until:
        click.echo(f"   valid {c.valid_from or '…'} – {c.valid_until or '…'}")
    if c.url:
        click.echo(f"   {c.url}")
    if hit.superseded_by is not None:
        s = hit.superseded_by
        click.echo(f"   superseded by: {s.title} [{s.id}] {s.doc_no}".rstrip())
    for p in hit.passages:
        text = " ".join(p.highlight.split())
        click.echo(f"   - ({p.field}) {text[:200]}{'…' if len(text) > 200 else ''}")


@click.command("search")
@click.argument("query")
@click.option("--type", "doc_type", type=click.Choice([t.value for t in DocType]), help="Only this type.")
@click.option("--agency", default="", help="Only documents whose issuing agency contains this text.")
@click.option("--topic", default="", help="Only documents whose topic contains this text.")
@click.option("--audience", default="", help="Only documents for this audience (e.g. 自然人, 法人).")
@click.option("--since", "issued_from", default="", help="Issued on or after this ISO date.")
@click.option("--until", "issued_to", default="", help="Issued on or before this ISO date.")
@click.option("--top-k", type=click.IntRange(min=1, max=100), default=5, show_default=True,
              help="Number of documents to return.")
@click.option("--all", "include_inactive", is_flag=True, help="Also return expired and abolished documents.")
@click.option("--json", "as_json", is_flag=True, help="Print the hits as JSON.")
@click.pass_context
def search(ctx: click.Context, query: str, doc_type: str | None, agency: str, topic: str, audience: str,
           issued_from: str, issued_to: str, top_k: int, include_inactive: bool, as_json: bool) -> None:
    """Search the home's archive for QUERY (Simplified or Traditional Chinese, or English).

    Builds the index on first use. Only current, published documents are returned unless --all is
    given; when the best match is expired or abolished it is shown with its replacement.
    """
    from retrieval.types import Filters

    filters = Filters(type=DocType(doc_type) if doc_type else None, agency=agency, topic=topic,
                      audience=audience, issued_from=issued_from, issued_to=issued_to)
    archive, retriever = _retriever(ctx)
    try:
        hits = retriever.search(query, filters, top_k=top_k, include_inactive=include_inactive)
    finally:
        archive.close()
    if as_json:
        _dump([h.to_dict() for h in hits])
        return
    if not hits:
        click.echo("No matching documents.")
        return
    for rank, hit in enumerate(hits, 1):
        _print_hit(rank, hit)


@click.command("reindex")
@click.option("--json", "as_json", is_flag=True, help="Print the build report as JSON.")
@click.pass_context
def reindex(ctx: click.Context, as_json: bool) -> None:
    """Rebuild the search index of the home's archive from scratch (swapped in atomically)."""
    archive, retriever = _retriever(ctx)
    try:
        report = retriever.rebuild()
    finally:
        archive.close()
    if as_json:
        _dump(report.to_dict())
    else:
        click.echo(f"indexed {report.documents} documents as {report.passages} passages in "
                   f"{report.seconds:.1f}s (generation {report.generation}, dense "
                   f"{'on' if report.dense_enabled else 'off'})")
        if report.fitness:
            from retrieval.fitness import FitnessReport

            click.echo(FitnessReport.from_dict(report.fitness).summary())
        else:
            click.echo("no embedding model configured: lexical search only")


@click.command("evaluate")
@click.option("--docs", "docs_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Documents in the generic JSONL import format.")
@click.option("--qrels", "qrels_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help='Queries, one {"query": str, "relevant": [id, ...]} per line.')
@click.option("--signals", default="hybrid", show_default=True, metavar="LIST",
              help="Rankings to measure, comma-separated: hybrid (BM25 + dense), lexical, dense.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: the metrics (one object per ranking "
              "when --signals names several).")
@click.pass_context
def evaluate(ctx: click.Context, docs_path: Path, qrels_path: Path, signals: str, as_json: bool) -> None:
    """Measure retrieval quality: import DOCS into a throwaway home, index it with the configured
    pipeline, run every query and print Recall@1/5/10, MRR@10, nDCG@10 and latency p50/p95, for the
    hybrid ranking or for one signal alone (--signals lexical,dense,hybrid gives a row each).

    Nothing touches the home's own archive or index. Progress goes to stderr.
    """
    from evaluation.evaluate import KEYS, evaluate_files
    from retrieval.ranking import SIGNALS

    names = [s.strip() for s in signals.split(",") if s.strip()]
    if not names or any(n not in SIGNALS for n in names):
        raise click.BadParameter(f"signals must be some of {', '.join(SIGNALS)}", param_hint="--signals")
    results = evaluate_files(ctx.obj.settings, docs_path, qrels_path, progress=True, signals=names)
    if as_json:
        rows = {name: {k: r[k] for k in KEYS} for name, r in results.items()}
        click.echo(json.dumps(rows[names[0]] if len(names) == 1 else rows))
        return
    header = "".join(f"{name:>10}" for name in results)
    click.echo(f"{'':<14}{header}")
    first = next(iter(results.values()))
    click.echo(f"{'queries':<14}" + f"{first['n_queries']:>10}" * len(results))
    for key in ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10"):
        click.echo(f"{key:<14}" + "".join(f"{r[key]:>10.4f}" for r in results.values()))
    for key, label in (("latency_ms_p50", "latency p50"), ("latency_ms_p95", "latency p95")):
        click.echo(f"{label:<14}" + "".join(f"{r[key]:>7.1f} ms" for r in results.values()))


COMMANDS: list[click.Command] = [search, reindex, evaluate]
