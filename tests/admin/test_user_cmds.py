"""`civic users …` and `civic tokens …` through the installed command, as an operator runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from app.accounts import Accounts
from app.audit import AuditLog

CIVIC = str(Path(sys.executable).with_name("civic"))


def civic(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([CIVIC, "--home", str(home), *args], input=stdin, capture_output=True, text=True,
                          timeout=120)


def test_users_are_added_with_the_password_from_stdin_listed_disabled_and_reset(home: Path) -> None:
    added = civic(home, "users", "add", "chen", "--role", "reviewer", "--password-stdin",
                  stdin="a-long-secret-1\n")
    assert added.returncode == 0, added.stderr
    assert "added chen (reviewer)" in added.stdout
    listed = civic(home, "users", "list")
    assert "chen\treviewer\tactive" in listed.stdout
    accounts = Accounts(home / "app.db")
    try:
        assert accounts.authenticate("chen", "a-long-secret-1").role == "reviewer"
        assert civic(home, "users", "disable", "chen").returncode == 0
        assert "chen\treviewer\tdisabled" in civic(home, "users", "list").stdout
        assert civic(home, "users", "enable", "chen").returncode == 0
        reset = civic(home, "users", "reset", "chen", "--password-stdin", stdin="another-secret-2\n")
        assert reset.returncode == 0
        assert accounts.authenticate("chen", "another-secret-2").name == "chen"
    finally:
        accounts.close()
    log = AuditLog(home / "app.db")
    actions = [r.action for r in log.query(target="chen")]
    log.close()
    assert actions == ["user_reset", "user_enable", "user_disable", "user_add"]


def test_the_password_is_not_an_argument_and_bad_input_says_why(home: Path) -> None:
    as_argument = civic(home, "users", "add", "li", "--role", "staff", "--password", "a-long-secret-1")
    assert as_argument.returncode != 0 and "No such option" in as_argument.stderr
    short = civic(home, "users", "add", "li", "--role", "staff", "--password-stdin", stdin="short\n")
    assert short.returncode == 1 and "a password is 10 to 256 characters long" in short.stderr
    role = civic(home, "users", "add", "li", "--role", "boss", "--password-stdin", stdin="a-long-secret-1\n")
    assert role.returncode == 2 and "'boss' is not one of" in role.stderr
    missing = civic(home, "users", "disable", "nobody")
    assert missing.returncode == 1 and "no user named 'nobody'" in missing.stderr


def test_a_new_token_is_the_last_line_once_and_works_only_for_its_scope(home: Path) -> None:
    made = civic(home, "tokens", "add", "callcentre", "--scope", "hotline")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    assert token.startswith("civ_")
    listed = civic(home, "tokens", "list").stdout
    assert "callcentre\thotline\tlive" in listed and token not in listed
    accounts = Accounts(home / "app.db")
    try:
        assert accounts.check_token(token, "hotline") is not None
        assert civic(home, "tokens", "revoke", "callcentre").returncode == 0
        assert accounts.check_token(token, "hotline") is None
    finally:
        accounts.close()


def test_serve_says_where_the_console_is_and_how_to_make_the_first_admin(home: Path) -> None:
    from civic.supervisor import console_hint
    from core.settings import load_settings

    settings = load_settings(home)
    first = console_hint(settings)
    assert first.startswith("admin console: http://127.0.0.1:8000/admin")
    assert f"civic --home {settings.home} users add NAME --role admin" in first
    civic(home, "users", "add", "chen", "--role", "admin", "--password-stdin", stdin="a-long-secret-1\n")
    assert console_hint(settings) == "admin console: http://127.0.0.1:8000/admin"
