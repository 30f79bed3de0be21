"""Each input format lands the same catalog fields; encodings are detected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archive.importers import import_paths
from archive.models import DocType, Status
from archive.store import Archive
from tests.archive.helpers import record, run, write_jsonl

FULL = record(
    "sf-policy-1",
    type="policy",
    title="示范市居住证办理实施细则",
    issuer="示范市公安局",
    issued_on="2023/3/15",
    doc_no="示公规〔2023〕2号",
    index_no="SF-0001-2023-0002",
    keywords="居住证、流动人口,积分",
    summary="规定居住证的申领条件和办理流程。",
    topic="公安",
    genre="规范性文件",
    audience="自然人",
    valid_from="2023年4月1日",
    valid_until="2028-03-31",
    url="https://example.gov/sf/1",
    status="published",
)


@pytest.fixture
def archive(home: Path) -> Archive:
    with Archive(home / "archive.db") as a:
        yield a


def check_full(archive: Archive) -> None:
    doc = archive.get("sf-policy-1")
    assert doc.type is DocType.POLICY and doc.status is Status.PUBLISHED
    assert (doc.issued_on, doc.valid_from, doc.valid_until) == ("2023-03-15", "2023-04-01", "2028-03-31")
    assert doc.keywords == ["居住证", "流动人口", "积分"]
    assert (doc.issuer, doc.doc_no, doc.index_no) == (
        "示范市公安局",
        "示公规〔2023〕2号",
        "SF-0001-2023-0002",
    )


def test_jsonl_guide_fields(archive: Archive, tmp_path: Path) -> None:
    guide = record(
        "g1",
        materials=["身份证", "户口簿"],
        steps="申请\n受理；审核|办结",
        fees="不收费",
        hours="工作日 9:00-17:00",
    )
    report = import_paths(archive, [write_jsonl(tmp_path / "a.jsonl", [FULL, guide])])
    assert report.ok and report.total("added") == 2
    check_full(archive)
    got = archive.get("g1")
    assert got.materials == ["身份证", "户口簿"] and got.steps == ["申请", "受理", "审核", "办结"]
    assert got.guide_fields()["fees"] == "不收费"


def test_json_array_reports_element_lines(archive: Archive, tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps([FULL, {"id": "x", "title": "无正文"}], ensure_ascii=False, indent=2), "utf-8")
    report = import_paths(archive, [path])
    check_full(archive)
    (reject,) = report.files[0].rejects
    assert reject.reason == "missing_body"
    assert path.read_text("utf-8").splitlines()[reject.line - 1].strip() == "{"
    assert path.read_text("utf-8").splitlines()[reject.line].strip() == '"id": "x",'


def test_broken_json_array_lands_nothing(archive: Archive, tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text(json.dumps([FULL], ensure_ascii=False)[:-1] + ", {oops", "utf-8")
    report = import_paths(archive, [path])
    assert report.files[0].error and not report.ok
    assert archive.count() == 0


def test_csv(archive: Archive, tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    header = list(FULL)
    lines = [",".join(header), ",".join(f'"{FULL[h]}"' for h in header), "x,guide,,正文"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = import_paths(archive, [path])
    check_full(archive)
    assert [(r.line, r.reason) for r in report.files[0].rejects] == [(3, "missing_title")]


def test_markdown_with_front_matter(archive: Archive, tmp_path: Path) -> None:
    path = tmp_path / "sf-guide-9.md"
    path.write_text(
        "---\ntype: guide\nissuer: 示范市民政局\nissued_on: 2024-01-05\n"
        "materials:\n  - 身份证\n  - 户口簿\n---\n"
        "# 结婚登记\n\n双方共同到婚姻登记处办理。\n",
        encoding="utf-8",
    )
    assert import_paths(archive, [path]).ok
    doc = archive.get("sf-guide-9")
    assert (doc.title, doc.issued_on, doc.type) == ("结婚登记", "2024-01-05", DocType.GUIDE)
    assert doc.materials == ["身份证", "户口簿"] and "双方共同到婚姻登记处办理" in doc.body


def test_html_page(archive: Archive, tmp_path: Path) -> None:
    path = tmp_path / "notice.html"
    path.write_text(
        '<html><head><title>通知_示范市人民政府</title><meta name="id" content="sf-h1">'
        '<meta name="type" content="policy"><meta name="ContentSource" content="示范市人社局">'
        '<meta name="PubDate" content="2024-06-01 10:00"><meta name="Keywords" content="社保卡,补领">'
        "<style>p{color:red}</style></head><body><nav>首页 | 政务公开</nav>"
        "<h1>关于社保卡补领的通知</h1><p>即日起可在线补领社保卡。</p><script>track()</script></body></html>",
        encoding="utf-8",
    )
    assert import_paths(archive, [path]).ok
    doc = archive.get("sf-h1")
    assert (doc.title, doc.issuer, doc.issued_on) == ("关于社保卡补领的通知", "示范市人社局", "2024-06-01")
    assert doc.keywords == ["社保卡", "补领"]
    assert "即日起可在线补领社保卡。" in doc.body
    assert "track()" not in doc.body and "color" not in doc.body and "首页" not in doc.body


@pytest.mark.parametrize("encoding", ["gb18030", "gbk"])
def test_gb18030_and_gbk_are_detected(home: Path, tmp_path: Path, encoding: str) -> None:
    rows = [
        record("e1", title="出生医学证明办理", body="新生儿出生后，父母持身份证到助产机构申领出生医学证明。"),
        record("e2", title="户口迁移", body="迁入地派出所受理户口迁移申请，材料齐全的当场办结。"),
    ]
    path = write_jsonl(tmp_path / "gb.jsonl", rows, encoding=encoding)
    with pytest.raises(UnicodeDecodeError):
        path.read_text(encoding="utf-8")
    result = run(home, "import", "--json", str(path))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["files"][0]["encoding"] == "gb18030"
    with Archive(home / "archive.db") as archive:
        assert archive.get("e1").title == "出生医学证明办理"
        assert "当场办结" in archive.get("e2").body


def test_utf8_bom_is_accepted(archive: Archive, tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(record("b1"), ensure_ascii=False).encode())
    assert import_paths(archive, [path]).ok and archive.find("b1") is not None


def test_directory_is_expanded(archive: Archive, tmp_path: Path) -> None:
    write_jsonl(tmp_path / "d" / "one.jsonl", [record("a")])
    write_jsonl(tmp_path / "d" / "sub" / "two.jsonl", [record("b")])
    (tmp_path / "d" / "notes.txt").write_text("ignored", "utf-8")
    report = import_paths(archive, [tmp_path / "d"])
    assert len(report.files) == 2 and archive.count() == 2


def test_applications_are_detected_and_masked(archive: Archive, tmp_path: Path) -> None:
    rows = [
        {
            "app_no": "SF20240501001",
            "item": "结婚登记",
            "guide_id": "g1",
            "applicant": "王小红",
            "phone_last4": "5521",
            "submitted_on": "2024/05/01",
            "current_step": "审核",
            "state": "in_progress",
            "expected_by": "2024-05-08",
            "history": [{"step": "受理", "at": "2024-05-01T09:00"}, {"step": "审核", "at": "2024-05-02"}],
        },
        {"app_no": "SF2", "item": "户口迁移", "phone_last4": "55"},
        {"app_no": "SF3", "item": "户口迁移", "state": "lost"},
    ]
    report = import_paths(archive, [write_jsonl(tmp_path / "apps.jsonl", rows)])
    file = report.files[0]
    assert file.kind == "applications" and file.added == 1
    assert [(r.line, r.reason) for r in file.rejects] == [(2, "bad_field"), (3, "bad_field")]
    app = archive.get_application("SF20240501001")
    assert (app.applicant_masked, app.submitted_on, len(app.history)) == ("王*红", "2024-05-01", 2)
    assert archive.verify_application("SF20240501001", "5521")
    again = import_paths(archive, [tmp_path / "apps.jsonl"]).files[0]
    assert (again.added, again.changed, again.unchanged) == (0, 0, 1)
