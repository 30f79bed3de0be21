"""`civic peers add|list|status|disable|enable|remove|resync`: subscriptions to other instances' catalogs
(四级资源共享; app/peers.py, docs/catalog.md "Sharing between instances").

The running app pulls every enabled peer in the background; these commands change what it pulls and show
how it went.  A peer's feed token is read from ``--token-file`` and kept in ``<home>/peers/NAME.token``
(mode 0600); no command prints it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from app.peers import Peer, Peers
from archive.peers import LEVELS
from archive.store import Archive


@contextmanager
def _peers(ctx: click.Context) -> Iterator[Peers]:
    paths = ctx.obj.settings.paths
    archive = Archive(paths.archive_db)
    peers = Peers(paths.app_db, paths.peers_dir, archive)
    try:
        yield peers
    finally:
        peers.close()
        archive.close()


def _line(p: Peer) -> str:
    state = "on" if p.enabled else "off"
    return f"{p.name}\t{p.level}\t{state}\t{p.label or '-'}\t{p.url}"


@click.group("peers")
def peers() -> None:
    """Other instances whose published catalog this one shares (national, province, city, county)."""


@peers.command("add")
@click.argument("name")
@click.argument("url")
@click.option("--level", type=click.Choice(LEVELS), required=True, help="The peer's government level.")
@click.option("--token-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="A file holding the feed token the peer issued (civic tokens add NAME --scope feeds).")
@click.option("--label", default="", help="How citizens see the source, e.g. 示范省人民政府.")
@click.option("--since", default=0, type=click.IntRange(min=0), show_default=True,
              help="Skip the peer's changes up to this seq (both seeded from the same corpus, say).")
@click.pass_context
def add(ctx: click.Context, name: str, url: str, level: str, token_file: Path, label: str,
        since: int) -> None:
    """Subscribe to the instance at URL under NAME."""
    token = token_file.read_text(encoding="utf-8")
    with _peers(ctx) as store:
        peer = store.add(name, url, level, token, label, since=since)
    click.echo(f"peer {peer.name} added ({peer.level}, {peer.url}); the running app pulls it within"
               f" {ctx.obj.settings.peer_poll_seconds:g} s")


@peers.command("list")
@click.pass_context
def list_(ctx: click.Context) -> None:
    """Every peer: name, level, on/off, label, URL."""
    with _peers(ctx) as store:
        for p in store.listing():
            click.echo(_line(p))


@peers.command("status")
@click.argument("name", required=False)
@click.pass_context
def status(ctx: click.Context, name: str | None) -> None:
    """How each peer's sync stands: last sync, cursor, last error, clashes and refused records."""
    with _peers(ctx) as store:
        chosen = [store.get(name)] if name else store.listing()
        if not chosen:
            click.echo("no peers (civic peers add NAME URL --level … --token-file …)")
        for p in chosen:
            click.echo(_line(p))
            click.echo(f"  last sync {p.last_sync or 'never'} · last attempt {p.last_attempt or 'never'}"
                       f" · cursor {p.cursor} of {p.peer_latest} · imported {p.imported}")
            if p.last_error:
                click.echo(f"  last error ({p.failures} in a row): {p.last_error}")
            click.echo(f"  clashes {p.clashes} · refused records {p.rejected}")
            for problem in store.problems(p.name, limit=20):
                what = (f"{problem.kind} {problem.value!r} is local document {problem.local_id}"
                        if problem.local_id else problem.detail)
                click.echo(f"  ! {problem.remote_id} {problem.title}: {what} — not imported")


def _switch(enabled: bool) -> click.Command:
    word = "enable" if enabled else "disable"

    @click.command(word, help=("Pull NAME again and show its documents." if enabled else
                               "Stop pulling NAME and hide its documents from chat and catalog (kept)."))
    @click.argument("name")
    @click.pass_context
    def command(ctx: click.Context, name: str) -> None:
        with _peers(ctx) as store:
            store.set_enabled(name, enabled)
        click.echo(f"peer {name} {word}d")

    return command


peers.add_command(_switch(False))
peers.add_command(_switch(True))


@peers.command("remove")
@click.argument("name")
@click.pass_context
def remove(ctx: click.Context, name: str) -> None:
    """Forget NAME and its token; its documents stay in the archive, hidden."""
    with _peers(ctx) as store:
        store.remove(name)
    click.echo(f"peer {name} removed (its documents are kept, hidden)")


@peers.command("resync")
@click.argument("name")
@click.pass_context
def resync(ctx: click.Context, name: str) -> None:
    """Pull NAME's whole feed again (after a clash was resolved locally, say)."""
    with _peers(ctx) as store:
        store.resync(name)
    click.echo(f"peer {name} will be pulled from the start")


COMMANDS = [peers]
