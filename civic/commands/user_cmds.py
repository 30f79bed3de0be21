"""`civic users add|list|disable|enable|reset|role` and `civic tokens add|list|revoke`: who may use the
consoles, and the API tokens of integrations (app/accounts.py, in <home>/app.db).

A password never goes on the command line: it is asked for (hidden, twice) or read from stdin with
``--password-stdin``. A new token is printed once, as the last line of the output, and stored only hashed.
Each change is written to the audit log as done by the shell (actor ``cli:<login name>``).
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import click

from app.accounts import ROLES, SCOPES, Accounts
from app.audit import AuditLog
from core.settings import Settings


def _settings(ctx: click.Context) -> Settings:
    settings: Settings = ctx.obj.settings
    return settings


@contextmanager
def _stores(ctx: click.Context) -> Iterator[tuple[Accounts, AuditLog]]:
    settings = _settings(ctx)
    settings.paths.ensure()
    accounts, log = Accounts(settings.paths.app_db), AuditLog(settings.paths.app_db)
    try:
        yield accounts, log
    finally:
        accounts.close()
        log.close()


def _actor() -> str:
    try:
        return "cli:" + getpass.getuser()
    except Exception:  # no login name in a container
        return "cli"


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


def _when(at: float | None) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M") if at else "-"


@click.group()
def users() -> None:
    """Console users and their roles (admin, reviewer, editor, staff)."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the user may do (docs/admin.md).")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.pass_context
def users_add(ctx: click.Context, name: str, role: str, password_stdin: bool) -> None:
    """Add user NAME with ROLE; the password is asked for (or read from stdin)."""
    password = _password(password_stdin)
    with _stores(ctx) as (accounts, log):
        user = accounts.add_user(name, role, password)
        log.record(_actor(), "shell", "user_add", user.name, None, {"name": user.name, "role": user.role})
    click.echo(f"added {user.name} ({user.role})")


@users.command("list")
@click.pass_context
def users_list(ctx: click.Context) -> None:
    """Every user with role and state."""
    with _stores(ctx) as (accounts, _log):
        found = accounts.list_users()
    if not found:
        click.echo("no users yet: civic users add NAME --role admin")
    for user in found:
        state = "disabled" if user.disabled else "active"
        click.echo(f"{user.name}\t{user.role}\t{state}\tsince {_when(user.created_at)}")


def _set_disabled(ctx: click.Context, name: str, disabled: bool) -> None:
    with _stores(ctx) as (accounts, log):
        user = accounts.set_disabled(name, disabled)
        log.record(_actor(), "shell", "user_disable" if disabled else "user_enable", name)
    click.echo(f"{user.name} is {'disabled (its sessions ended)' if disabled else 'active'}")


@users.command("disable")
@click.argument("name")
@click.pass_context
def users_disable(ctx: click.Context, name: str) -> None:
    """Disable NAME: no sign-in, and every open session ends."""
    _set_disabled(ctx, name, True)


@users.command("enable")
@click.argument("name")
@click.pass_context
def users_enable(ctx: click.Context, name: str) -> None:
    """Enable NAME again."""
    _set_disabled(ctx, name, False)


@users.command("reset")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the new password from the first line of stdin.")
@click.pass_context
def users_reset(ctx: click.Context, name: str, password_stdin: bool) -> None:
    """Set a new password for NAME (asked for, or from stdin); its sessions end."""
    password = _password(password_stdin)
    with _stores(ctx) as (accounts, log):
        accounts.reset_password(name, password)
        log.record(_actor(), "shell", "user_reset", name)
    click.echo(f"new password set for {name}; its open sessions ended")


@users.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice(ROLES))
@click.pass_context
def users_role(ctx: click.Context, name: str, role: str) -> None:
    """Give NAME another ROLE."""
    with _stores(ctx) as (accounts, log):
        before = accounts.get_user(name)
        user = accounts.set_role(name, role)
        log.record(_actor(), "shell", "user_role", name, {"role": before.role}, {"role": user.role})
    click.echo(f"{name} is now {role}")


@click.group()
def tokens() -> None:
    """API tokens for integrations (scopes: hotline, feeds, staff, metrics)."""


@tokens.command("add")
@click.argument("name")
@click.option("--scope", type=click.Choice(SCOPES), required=True,
              help="What the token opens: hotline transcripts, catalog feeds or the staff API.")
@click.pass_context
def tokens_add(ctx: click.Context, name: str, scope: str) -> None:
    """A new token NAME for SCOPE, printed once as the last line (store it now: only its hash is kept)."""
    with _stores(ctx) as (accounts, log):
        token = accounts.add_token(name, scope)
        log.record(_actor(), "shell", "token_add", name, None, {"name": name, "scope": scope})
    click.echo(f"token {name} ({scope}) — shown this once:", err=True)
    click.echo(token)


@tokens.command("list")
@click.pass_context
def tokens_list(ctx: click.Context) -> None:
    """Every token's name, scope, state and last use (never the token)."""
    with _stores(ctx) as (accounts, _log):
        found = accounts.list_tokens()
    for t in found:
        state = "revoked" if t.revoked else "live"
        click.echo(f"{t.name}\t{t.scope}\t{state}\tlast used {_when(t.last_used)}")


@tokens.command("revoke")
@click.argument("name")
@click.pass_context
def tokens_revoke(ctx: click.Context, name: str) -> None:
    """Revoke token NAME at once."""
    with _stores(ctx) as (accounts, log):
        accounts.revoke_token(name)
        log.record(_actor(), "shell", "token_revoke", name)
    click.echo(f"token {name} revoked")


COMMANDS = [users, tokens]
