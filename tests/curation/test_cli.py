"""`civic curation` from the shell: the same store and rules as the page, audited as the shell."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from app.audit import AuditLog
from app.conversations import Conversations
from civic.cli import cli
from core.settings import Settings


def run(home: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--home", str(home), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_inbox_curate_dismiss_and_versions(settings: Settings) -> None:
    conversations = Conversations(settings.paths.app_db)
    for text in ("收到收到", "收到收到", "好的收到", "今天天气怎么样"):
        conversations.log("fallback", "web:s", text, {"answered": False})
    conversations.close()
    groups = json.loads(run(settings.home, "curation", "inbox", "--json", "--ngrams"))
    top = groups[0]
    assert top["texts"][0] == "收到收到" and top["count"] >= 2
    assert "version 1: " in run(settings.home, "curation", "add-examples", top["id"], "--intent", "affirm",
                                "--ngrams")
    weather = next(g for g in json.loads(run(settings.home, "curation", "inbox", "--json", "--ngrams"))
                   if "今天天气怎么样" in g["texts"])
    run(settings.home, "curation", "dismiss", weather["id"], "--ngrams", "--reason", "not ours")
    assert "The inbox is empty." in run(settings.home, "curation", "inbox", "--ngrams")
    history = json.loads(run(settings.home, "curation", "versions", "--json"))
    assert history["active"] == 0
    assert [v["action"] for v in history["versions"]] == ["dismiss", "add_examples"]
    log = AuditLog(settings.paths.app_db)
    try:
        rows = {r.action: r for r in log.query()}
    finally:
        log.close()
    added = rows["curation_add_examples"]
    assert added.role == "shell" and added.actor.startswith("cli")
    assert "curation_dismiss" in rows


def test_an_unknown_intent_is_a_clean_error(settings: Settings) -> None:
    result = CliRunner().invoke(cli, ["--home", str(settings.home), "curation", "add-examples", "--intent",
                                      "order_pizza", "--text", "来份披萨"])
    assert result.exit_code != 0 and "unknown intent" in str(result.exception)
