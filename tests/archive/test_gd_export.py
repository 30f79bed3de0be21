"""The real provincial portal export (../shared/data): every guide lands, and re-import changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archive.importers import import_paths
from archive.importers.gd import to_generic
from archive.models import DocType
from archive.store import Archive
from tests.archive.helpers import run, write_jsonl
from tests.conftest import shared_data

SAMPLE = {
    "TASK_CODE": "1144TEST0001",
    "TASK_NAME": "实验动物生产许可(变更)",
    "matter_name": "实验动物生产许可",
    "DEPT_NAME": "广东省科学技术厅",
    "TASK_TYPE_TEXT": "行政许可",
    "AREA_CODE_TEXT": "广东省",
    "matter_level": "省级",
    "matter_short": "无",
    "matter_daily": "动物许可证变更，实验动物",
    "handle_location": "办理地点：广州市越秀区连新路171号",
    "handle_time": "20(工作日)",
    "handle_time_limit": "无",
    "accept_standard": "无",
    "material_intro": ["变更申请表", "无", "营业执照"],
    "consult_phone": "020-83163877",
    "complain_phone": "无",
    "URL": "https://example.gov/apply/1144TEST0001",
    "ONLINECHECK": "1",
    "theme_category": ["科技创新"],
    "service_object_name": ["企业法人", "事业法人"],
    "visit_number": "0",
}


def test_mapping_of_one_export_record() -> None:
    g = to_generic(SAMPLE)
    assert (g["id"], g["type"], g["title"], g["issuer"]) == (
        "1144TEST0001",
        "guide",
        "实验动物生产许可(变更)",
        "广东省科学技术厅",
    )
    assert g["location"] == "广州市越秀区连新路171号"
    assert (g["time_limit_legal"], g["time_limit_promised"], g["conditions"]) == ("20(工作日)", "", "")
    assert g["materials"] == ["变更申请表", "营业执照"]
    assert g["topic"] == "科技创新" and g["audience"] == "企业法人、事业法人" and g["genre"] == "行政许可"
    assert g["keywords"] == ["动物许可证变更", "实验动物", "实验动物生产许可"]
    assert g["online_url"] == g["url"] == "https://example.gov/apply/1144TEST0001"
    assert "办理地点：广州市越秀区连新路171号" in g["body"] and "监督投诉电话" not in g["body"]
    assert "无" not in g["body"].replace("无线", "")


def test_export_format_is_auto_detected(home: Path, tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "export.jsonl",
        [SAMPLE, {**SAMPLE, "TASK_CODE": "1144TEST0002", "TASK_NAME": "", "matter_name": "无"}],
    )
    result = run(home, "import", "--json", str(path))
    file = json.loads(result.stdout)["files"][0]
    assert file["format"] == "gd" and file["added"] == 1
    assert [(r["line"], r["reason"], r["id"]) for r in file["rejects"]] == [
        (2, "missing_title", "1144TEST0002")
    ]


@pytest.mark.shared_data
def test_full_export_lands_and_reimport_reports_no_changes(home: Path) -> None:
    path = shared_data("gd-service-guides", "service_guides.jsonl")
    lines = sum(1 for line in path.read_text("utf-8").splitlines() if line.strip())
    with Archive(home / "archive.db") as archive:
        first = import_paths(archive, [path]).files[0]
        # every record either landed or is explained by file, line and reason
        assert first.added + first.rejected == lines == 2262
        assert all(r.line > 0 and r.reason and r.message for r in first.rejects)
        assert first.rejected == 0, [str(r) for r in first.rejects[:5]]
        assert archive.stats()["by_type"] == {DocType.GUIDE.value: 2262}
        guide = archive.get("11440000006939756B2440101007000")
        assert guide.issuer == "广东省发展和改革委员会" and guide.location.startswith("广州市越秀区")
        seq, _ = archive.changes_since(0)
        second = import_paths(archive, [path]).files[0]
        assert (second.added, second.changed, second.unchanged) == (0, 0, 2262)
        assert archive.changes_since(seq) == (seq, [])
