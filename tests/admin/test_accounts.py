"""Users, passwords, sessions, lock-out and API tokens in the real app.db store (app/accounts.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.accounts import FAILURE_WINDOW, MAX_FAILURES, Accounts
from core.errors import AccessDenied, InvalidInput, TooManyAttempts


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def accounts(tmp_path: Path, clock: Clock) -> Accounts:
    store = Accounts(tmp_path / "app.db", idle_seconds=600, clock=clock)
    yield store  # type: ignore[misc]
    store.close()


def test_passwords_are_stored_as_argon2id_hashes_never_in_clear(accounts: Accounts, tmp_path: Path) -> None:
    accounts.add_user("ed", "editor", "a-long-secret-1")
    raw = (tmp_path / "app.db").read_bytes()
    assert b"a-long-secret-1" not in raw
    row = accounts._store.rows("SELECT password_hash FROM users")[0]
    assert row[0].startswith("$argon2id$")
    assert accounts.authenticate("ed", "a-long-secret-1").role == "editor"


def test_bad_names_roles_and_short_passwords_are_refused_with_the_rule(accounts: Accounts) -> None:
    with pytest.raises(InvalidInput, match="role"):
        accounts.add_user("x", "boss", "a-long-secret-1")
    with pytest.raises(InvalidInput, match="10"):
        accounts.add_user("x", "editor", "short")
    with pytest.raises(InvalidInput, match="spaces"):
        accounts.add_user("two words", "editor", "a-long-secret-1")
    accounts.add_user("x", "editor", "a-long-secret-1")
    with pytest.raises(InvalidInput, match="exists"):
        accounts.add_user("x", "staff", "a-long-secret-1")


def test_five_failures_lock_the_account_for_five_minutes_with_a_clear_message(
        accounts: Accounts, clock: Clock) -> None:
    accounts.add_user("ed", "editor", "a-long-secret-1")
    for _ in range(MAX_FAILURES):
        with pytest.raises(AccessDenied):
            accounts.authenticate("ed", "wrong-password", ip="10.0.0.1")
    # even the right password is refused now, from any address, and the message says when to come back
    with pytest.raises(TooManyAttempts, match="try again in 5 minutes"):
        accounts.authenticate("ed", "a-long-secret-1", ip="10.0.0.2")
    clock.now += FAILURE_WINDOW + 1
    assert accounts.authenticate("ed", "a-long-secret-1", ip="10.0.0.2").name == "ed"


def test_failures_are_also_counted_per_address_across_accounts(accounts: Accounts) -> None:
    for name in ("a1", "a2", "a3"):
        accounts.add_user(name, "staff", "a-long-secret-1")
    for i in range(MAX_FAILURES):
        with pytest.raises(AccessDenied):
            accounts.authenticate(("a1", "a2", "nobody")[i % 3], "guess-guess", ip="10.9.9.9")
    with pytest.raises(TooManyAttempts):
        accounts.authenticate("a3", "a-long-secret-1", ip="10.9.9.9")
    assert accounts.authenticate("a3", "a-long-secret-1", ip="10.1.1.1").name == "a3"


def test_sessions_end_when_idle_revoked_disabled_or_password_reset(accounts: Accounts, clock: Clock) -> None:
    user = accounts.add_user("ed", "editor", "a-long-secret-1")
    sid, csrf = accounts.open_session(user)
    session = accounts.session(sid)
    assert session is not None and session.csrf == csrf and session.user.name == "ed"
    clock.now += 599
    assert accounts.session(sid) is not None  # activity restarts the idle clock
    clock.now += 599
    assert accounts.session(sid) is not None
    clock.now += 601
    assert accounts.session(sid) is None  # idle too long
    sid2, _ = accounts.open_session(user)
    accounts.close_session(sid2)
    assert accounts.session(sid2) is None
    sid3, _ = accounts.open_session(user)
    accounts.reset_password("ed", "another-secret-2")
    assert accounts.session(sid3) is None
    sid4, _ = accounts.open_session(user)
    accounts.set_disabled("ed")
    assert accounts.session(sid4) is None
    with pytest.raises(AccessDenied):
        accounts.authenticate("ed", "another-secret-2")
    assert accounts.session("made-up") is None


def test_api_tokens_are_shown_once_stored_hashed_scoped_and_revocable(accounts: Accounts,
                                                                      tmp_path: Path) -> None:
    token = accounts.add_token("callcentre", "hotline")
    assert token.startswith("civ_") and len(token) > 40
    assert token.encode() not in (tmp_path / "app.db").read_bytes()
    assert accounts.check_token(token, "hotline") is not None
    assert accounts.check_token(token, "staff") is None  # wrong scope
    assert accounts.check_token(token + "x", "hotline") is None
    with pytest.raises(InvalidInput, match="scope"):
        accounts.add_token("x", "everything")
    accounts.revoke_token("callcentre")
    assert accounts.check_token(token, "hotline") is None
    assert [t.revoked for t in accounts.list_tokens()] == [True]
