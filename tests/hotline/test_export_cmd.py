"""`civic hotline export --since DATE --format csv|jsonl` over a real app.db: only submitted orders, since the
local day, masked, formula-like cells quoted."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from click.testing import CliRunner

from app.workorder import NgramClassifier, Orders, Routing, draft
from civic.cli import cli
from connectors.hotline import Call, Segment
from core.settings import REPO_ROOT, Settings


def make_orders(settings: Settings) -> None:
    classifier = NgramClassifier.from_file(REPO_ROOT / "data" / "hotline" / "labelled.jsonl")
    routing = Routing(settings.paths.hotline_routing, lambda: ["示范市政务服务管理局"])
    day = datetime(2026, 11, 20, 9, 0, tzinfo=ZoneInfo(settings.time_zone)).timestamp()
    moments = iter([day - 86400, day, day + 3600])
    orders = Orders(settings.paths.app_db, clock=lambda: next(moments))
    try:
        for call_id, text in (("old", "我想问公积金怎么提取"),
                              ("new", "=HYPERLINK(x) 我叫张伟，电话13812345678，路灯坏了"),
                              ("draft", "结婚登记要带什么")):
            call = Call(call_id)
            call.apply(Segment(call_id, 0, "caller", text, True, 0, 1000))
            orders.save_draft(draft(call, classifier, routing, [{"doc_id": "SF-G-014", "title": "租房提取"}]))
            if call_id != "draft":
                orders.submit(call_id, {"summary": text} if call_id == "new" else {}, "token:asr")
    finally:
        orders.close()


def test_export_jsonl_and_csv(home: Path, settings: Settings, tmp_path: Path) -> None:
    make_orders(settings)
    runner = CliRunner()
    result = runner.invoke(cli, ["--home", str(home), "hotline", "export", "--since", "2026-11-20"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["call_id"] for o in lines] == ["new"]
    assert lines[0]["status"] == "submitted" and "13812345678" not in result.stdout
    assert "张伟" not in result.stdout
    out = tmp_path / "orders.csv"
    result = runner.invoke(cli, ["--home", str(home), "hotline", "export", "--since", "2026/11/19",
                                 "--format", "csv", "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text[1:])))
    assert [r["call_id"] for r in rows] == ["old", "new"]
    assert rows[1]["summary"].startswith("'=HYPERLINK")  # not a formula in a spreadsheet
    assert rows[0]["documents"] == "SF-G-014" and rows[0]["submitted_at"].endswith("+00:00")
    bad = runner.invoke(cli, ["--home", str(home), "hotline", "export", "--since", "yesterday"])
    assert bad.exit_code != 0
