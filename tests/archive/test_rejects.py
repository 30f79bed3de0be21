"""Every reject reason, one test each, driven through `civic import`; and one file with all of them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from archive.store import Archive
from core.settings import REPO_ROOT
from tests.archive.helpers import record, run, write_jsonl

BAD_RECORDS: dict[str, tuple[str, dict[str, Any] | str]] = {
    "bad JSON": ("malformed", '{"id": "x", "title": "缺少括号"'),
    "not an object": ("malformed", '["id", "title", "body"]'),
    "missing id": ("missing_id", {"title": "无编号", "body": "正文"}),
    "missing title": ("missing_title", {"id": "t1", "body": "正文"}),
    "empty title": ("missing_title", {"id": "t2", "title": "  ", "body": "正文"}),
    "missing body": ("missing_body", {"id": "b1", "title": "无正文"}),
    "bad date": ("bad_date", record("d1", issued_on="2024-02-30")),
    "unparseable date": ("bad_date", record("d2", valid_until="下个月")),
    "validity reversed": ("bad_date", record("d3", valid_from="2024-05-01", valid_until="2023-01-01")),
    "unknown type": ("unknown_type", record("u1", type="notice")),
    "unknown status": ("unknown_status", record("s1", status="retired")),
    "duplicate id": ("duplicate_id", record("good1", title="同一编号第二次出现")),
    "oversize body": ("oversize_body", record("o1", body="长" * 81)),
    "wrong shape": ("bad_field", record("k1", keywords={"a": 1})),
}


@pytest.fixture
def small_limit(home: Path) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    (home / "civic.toml").write_text("max_body_chars = 80\n", encoding="utf-8")
    return home


@pytest.mark.parametrize("case", list(BAD_RECORDS))
def test_each_reject_reason(case: str, small_limit: Path, tmp_path: Path) -> None:
    reason, bad = BAD_RECORDS[case]
    path = write_jsonl(tmp_path / "in.jsonl", [record("good1"), bad, record("good2")])
    result = run(small_limit, "import", "--json", str(path))
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)["files"][0]
    assert [(r["line"], r["reason"]) for r in report["rejects"]] == [(2, reason)]
    assert report["rejects"][0]["path"] == str(path)
    assert report["added"] == 2
    with Archive(small_limit / "archive.db") as archive:
        assert archive.find("good1") is not None and archive.find("good2") is not None
        assert archive.count() == 2


def test_file_with_one_bad_record_of_each_kind(small_limit: Path, tmp_path: Path) -> None:
    rows: list[dict[str, Any] | str] = [record("good1")]
    for _reason, bad in BAD_RECORDS.values():
        rows += [bad, record(f"good{len(rows) + 1}")]
    path = write_jsonl(tmp_path / "mixed.jsonl", rows)
    good_ids = {r["id"] for r in rows if isinstance(r, dict) and r.get("id", "").startswith("good")}
    result = run(small_limit, "import", str(path))
    assert result.exit_code == 1
    out = result.stdout
    assert f"{len(good_ids)} added" in out and f"{len(BAD_RECORDS)} rejected" in out
    for n, (reason, _bad) in enumerate(BAD_RECORDS.values()):
        assert f"{path}:{2 * n + 2}: {reason}" in out
    with Archive(small_limit / "archive.db") as archive:
        assert {d.id for d in archive.iter_documents()} == good_ids


def test_clean_file_exits_zero_and_reimport_reports_no_changes(home: Path, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "ok.jsonl", [record("a"), record("b", type="faq")])
    first = run(home, "import", str(path))
    assert first.exit_code == 0 and "2 added, 0 changed, 0 unchanged, 0 rejected" in first.stdout
    second = run(home, "import", str(path))
    assert second.exit_code == 0 and "0 added, 0 changed, 2 unchanged, 0 rejected" in second.stdout
    write_jsonl(path, [record("a", body="改过的正文"), record("b", type="faq")])
    third = run(home, "import", "--json", str(path))
    assert json.loads(third.stdout)["totals"] == {"added": 0, "changed": 1, "unchanged": 1, "rejected": 0}


def test_installed_console_script_reports_rejects_and_exit_code(home: Path, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", [record("ok"), {"id": "x", "title": "无正文"}])
    proc = subprocess.run(
        [str(REPO_ROOT / ".venv" / "bin" / "civic"), "--home", str(home), "import", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert f"{path}:2: missing_body [x]" in proc.stdout
    assert "Traceback" not in proc.stderr
