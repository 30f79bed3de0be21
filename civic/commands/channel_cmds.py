"""`civic telegram set-webhook|delete-webhook` and `civic wechat menu`: setting up the messaging channels
(docs/channels.md).  The channel settings come from the environment (CIVIC_*) or <home>/secrets.toml."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click

from connectors import telegram as tg
from connectors.channel_state import ChannelState
from connectors.wechat_api import CivicWeChatClient, SharedTokens, load_menu, publish_menu
from core.errors import ConfigError
from core.settings import Settings


def _settings(ctx: click.Context) -> Settings:
    settings: Settings = ctx.obj.settings
    return settings


@click.group()
def telegram() -> None:
    """Set up the Telegram channel (its token: telegram_token)."""


@telegram.command("set-webhook")
@click.argument("url")
@click.pass_context
def set_webhook(ctx: click.Context, url: str) -> None:
    """Register URL (https://<your host>/telegram/webhook) as the bot's webhook, with the secret the app
    checks (telegram_webhook_secret)."""
    settings = _settings(ctx)
    if not settings.telegram_token:
        raise ConfigError("telegram_token is not set (CIVIC_TELEGRAM_TOKEN or secrets.toml)")
    if not settings.telegram_webhook_secret:
        raise ConfigError("telegram_webhook_secret is not set: the app refuses webhook calls without one")
    if not url.startswith("https://") and not url.startswith("http://127.0.0.1"):
        raise click.BadParameter("Telegram calls webhooks over https only", param_hint="URL")
    asyncio.run(tg.set_webhook(settings.telegram_token, settings.telegram_api_url, url,
                               settings.telegram_webhook_secret))
    click.echo(f"webhook set: {url}")


@telegram.command("delete-webhook")
@click.pass_context
def delete_webhook(ctx: click.Context) -> None:
    """Remove the bot's webhook (polling mode deletes it by itself at start-up)."""
    settings = _settings(ctx)
    if not settings.telegram_token:
        raise ConfigError("telegram_token is not set (CIVIC_TELEGRAM_TOKEN or secrets.toml)")
    asyncio.run(tg.delete_webhook(settings.telegram_token, settings.telegram_api_url))
    click.echo("webhook deleted")


@click.group()
def wechat() -> None:
    """Set up the WeChat Official Account channel."""


@wechat.command("menu")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Validate and print the menu without publishing it.")
@click.pass_context
def menu(ctx: click.Context, file: Path, dry_run: bool) -> None:
    """Publish the account's custom menu from a YAML FILE (click buttons carry a payload for the dialogue)."""
    data = load_menu(file)
    if dry_run:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    settings = _settings(ctx)
    if not (settings.wechat_app_id and settings.wechat_app_secret):
        raise ConfigError("wechat_app_id and wechat_app_secret are needed to publish a menu")
    state = ChannelState(settings.paths.ensure().app_db)  # the access token the app shares
    try:
        client = CivicWeChatClient(settings.wechat_app_id, settings.wechat_app_secret,
                                   settings.wechat_api_url, SharedTokens(state))
        publish_menu(client, data)
    finally:
        state.close()
    click.echo(f"menu published: {len(data['button'])} buttons")


COMMANDS: list[click.Command] = [telegram, wechat]
