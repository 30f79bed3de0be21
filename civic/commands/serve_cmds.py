"""`civic serve`, `civic train` and the hidden `civic app-worker` the supervisor starts."""

from __future__ import annotations

import click

from civic import supervisor as serving
from civic import train as training
from core.pii import install_log_masking
from core.settings import Settings


def _settings(ctx: click.Context, **overrides: object) -> Settings:
    settings: Settings = ctx.obj.settings
    return settings.with_overrides(**overrides)


def _echo(message: str) -> None:
    click.echo(message)  # flushes, so a pipe (tests, logs) sees progress as it happens


@click.command()
@click.option("--host", help="Interface for the app (default 127.0.0.1; the engine is always local).")
@click.option("--port", type=int, help="Port of the app (default 8000).")
@click.option("--engine-port", type=int, help="Port of the Rasa engine on 127.0.0.1 (default: a free one).")
@click.option("--no-demo", is_flag=True, help="Do not seed the demo corpus into an empty archive.")
@click.option("--role", type=click.Choice(serving.ROLES), default="all", show_default=True,
              help="Run one replica on a prepared home: an engine (on --engine-port) or an app (on --port, "
                   "reaching the engines at --engine-url); docs/scaling.md.")
@click.option("--engine-url", help="The engines' one URL (an nginx upstream) for an app replica.")
@click.pass_context
def serve(
    ctx: click.Context, host: str | None, port: int | None, engine_port: int | None, no_demo: bool,
    role: str, engine_url: str | None,
) -> int:
    """Seed, index and train what is missing, then run the engine and the app until Ctrl-C."""
    settings = _settings(ctx, host=host, port=port, engine_port=engine_port, engine_url=engine_url)
    return serving.serve(settings, demo=not no_demo, echo=_echo, role=role)


@click.command()
@click.option("--force", is_flag=True, help="Train even when the training data did not change.")
@click.option("--no-demo", is_flag=True, help="Do not seed the demo corpus into an empty archive.")
@click.pass_context
def train(ctx: click.Context, force: bool, no_demo: bool) -> None:
    """Train the Rasa model into <home>/models when its training data changed."""
    result = training.prepare_and_train(_settings(ctx), demo=not no_demo, force=force, echo=_echo)
    if not result.trained:
        click.echo(f"{result.model.name}: {result.reason} (use --force to retrain)")


@click.command("app-worker", hidden=True)
@click.option("--host", help="Interface to bind.")
@click.option("--port", type=int, help="Port to bind.")
@click.pass_context
def app_worker(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Run the aiohttp app alone (started by `civic serve`, which supervises it)."""
    from aiohttp import web

    from app.factory import create_app
    from app.middlewares import QuietAccessLogger

    settings = _settings(ctx, host=host, port=port)
    install_log_masking()  # no personal data in the app's log (core/pii.py)
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        print=None,
        shutdown_timeout=5,
        access_log_class=QuietAccessLogger,
    )


COMMANDS: list[click.Command] = [serve, train, app_worker]
