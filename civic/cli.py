"""`civic`: the command-line edge. Each command group lives in civic/commands/<group>.py."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import click

from civic.commands import (
    archive_cmds,
    backup_cmds,
    catalog_cmds,
    channel_cmds,
    curation_cmds,
    hotline_cmds,
    peer_cmds,
    retrieval_cmds,
    review_cmds,
    serve_cmds,
    user_cmds,
)
from core.errors import CivicError, StorageUnavailable
from core.settings import Settings, load_settings


class AppContext:
    """Carried on click's context: the home directory, and settings loaded on first use."""

    def __init__(self, home: Path | None) -> None:
        self.home = home
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.home)
        return self._settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="CIVIC_HOME",
    help="Data directory holding the archive, indexes, models and logs (default ./var).",
)
@click.pass_context
def cli(ctx: click.Context, home: Path | None) -> None:
    """Civic Assistant: a citizen-service assistant over a government document archive."""
    ctx.obj = AppContext(home)


_MODULES = (archive_cmds, retrieval_cmds, serve_cmds, channel_cmds, review_cmds, curation_cmds, user_cmds,
            hotline_cmds, catalog_cmds, backup_cmds, peer_cmds)
for _module in _MODULES:
    for _command in _module.COMMANDS:
        cli.add_command(_command)


def main() -> None:
    try:
        rc = cli(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except CivicError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except sqlite3.OperationalError as exc:  # a locked, read-only or full database
        click.echo(f"Error: {StorageUnavailable.from_sqlite(exc)}", err=True)
        sys.exit(1)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    # non-standalone click returns ctx.exit()'s code (or a command's return value) instead of exiting
    sys.exit(rc if isinstance(rc, int) else 0)
