"""`civic backup DEST` and `civic restore SRC HOME` (civic/backup.py)."""

from __future__ import annotations

from pathlib import Path

import click


def _say(message: str) -> None:
    click.echo(message, err=True)


@click.command("backup")
@click.argument("dest", type=click.Path(path_type=Path))
@click.option("--include-secrets", is_flag=True,
              help="Also copy secrets.toml (tokens and keys); keep such a backup as secret as the home.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.pass_context
def backup(ctx: click.Context, dest: Path, include_secrets: bool, no_progress: bool) -> None:
    """Back the home up into DEST (a new or empty directory), consistent while the app serves.

    Every SQLite database through SQLite's online backup, the current index generation, the active and the
    previous model, curated data, review lists, routing, originals and settings, with manifest.json
    (sizes and SHA-256 of every file).  Secrets only with --include-secrets.
    """
    from civic.backup import backup as run

    run(ctx.obj.settings, dest, include_secrets=include_secrets, progress=not no_progress, echo=_say)


@click.command("restore")
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("home", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Replace HOME even when it is not empty.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def restore(src: Path, home: Path, force: bool, no_progress: bool) -> None:
    """Restore the backup SRC into the home HOME (new or empty unless --force).

    Every checksum of the manifest is verified before anything is written; the home is written beside HOME
    and renamed into place, so a failure leaves no half home.  It serves without retraining or re-embedding.
    """
    from civic.backup import restore as run

    run(src, home, force=force, progress=not no_progress, echo=_say)


COMMANDS: list[click.Command] = [backup, restore]
