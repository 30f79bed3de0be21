"""The catalog record as a standard: the schema matches the archive's model, every document's record is
valid and turns back into the same document, broken records are named rule by rule, and `civic catalog
export` writes only valid, public records (JSON lines and CSV, the CSV importable again)."""

from __future__ import annotations

import csv
import json
from dataclasses import fields
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.admin.doc_forms import LABELS
from archive import catalog as records
from archive.demo import seed_demo
from archive.importers import import_paths
from archive.models import DocType, Document, Status
from archive.store import Archive
from civic.cli import cli
from core.settings import Settings
from tests.catalog.conftest import fill


def test_schema_is_the_archive_model() -> None:
    schema = records.schema()
    props = schema["properties"]
    assert set(props) == {f.name for f in fields(Document)} - {
        "source"
    }  # the local file path is never shared
    assert props["type"]["enum"] == [t.value for t in DocType]
    assert props["status"]["enum"] == [s.value for s in Status]
    # the element names are the console's labels (one name per element)
    assert {k: v["title"] for k, v in props.items()} == {k: LABELS[k] for k in props}
    for element in (
        "index_no",
        "title",
        "issuer",
        "doc_no",
        "issued_on",
        "keywords",
        "summary",
        "valid_from",
        "valid_until",
        "topic",
        "genre",
        "audience",
        "url",
        "status",
        "replaced_by",
    ):
        assert element in schema["required"]


def test_every_demo_record_is_valid_and_round_trips(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "a.db")
    seed_demo(archive)
    n = 0
    for doc in archive.iter_documents():
        record = records.to_record(doc)
        assert records.problems(record) == [], doc.id
        assert "source" not in record
        assert records.from_record(record).content() == doc.content()
        n += 1
    assert n == archive.count() > 50


def test_a_broken_record_is_refused_rule_by_rule() -> None:
    good = records.to_record(Document(id="A", title="标题", body="正文", issued_on="2024-01-02"))
    assert records.problems(good) == []
    bad = {**good, "issued_on": "2024/13/01", "status": "gone", "keywords": "不是列表", "colour": "red"}
    del bad["title"]
    found = records.problems(bad)
    text = " | ".join(found)
    for part in ("issued_on", "status", "keywords", "'title' is a required property", "colour"):
        assert part in text, text
    with pytest.raises(records.CatalogError) as caught:
        records.from_record(bad)
    assert len(caught.value.problems) == len(found) >= 5
    no_body = records.to_record(Document(id="A", title="标题", body="正文"), body=False)
    assert records.problems(no_body) == [] and "body" not in no_body


def test_export_jsonl_and_csv_validate_and_the_csv_imports_again(settings: Settings, tmp_path: Path) -> None:
    archive = Archive(settings.paths.archive_db)
    fill(archive)
    runner = CliRunner()
    out = tmp_path / "catalog.jsonl"
    result = runner.invoke(cli, ["--home", str(settings.home), "catalog", "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert {r["id"] for r in lines} == {"P-NEW", "P-OLD", "G-1", "P-EXP"}  # no draft, nothing in review
    for record in lines:
        records.validate(record)
        assert records.from_record(record).content() == archive.get(record["id"]).content()
    assert "exported 4 record(s)" in result.output

    csv_out = tmp_path / "catalog.csv"
    result = runner.invoke(
        cli, ["--home", str(settings.home), "catalog", "export", "--format", "csv", "--out", str(csv_out)]
    )
    assert result.exit_code == 0, result.output
    assert csv_out.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(csv_out.open(encoding="utf-8-sig", newline="")))
    assert [list(rows[0])] == [list(records.csv_columns())] and len(rows) == 4
    assert next(r for r in rows if r["id"] == "G-1")["materials"] == "居民身份证\n近期半身免冠合影照片"
    other = Archive(tmp_path / "other.db")
    report = import_paths(other, [csv_out])
    assert report.ok, report.to_dict()
    for row in rows:
        assert other.get(row["id"]).content() == archive.get(row["id"]).content()

    # --all includes the draft and the document in review; --no-body leaves the text out
    result = runner.invoke(cli, ["--home", str(settings.home), "catalog", "export", "--all", "--no-body"])
    assert result.exit_code == 0
    exported = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert {r["id"] for r in exported} >= {"D-1", "R-1"} and all("body" not in r for r in exported)


def test_export_leaves_out_and_reports_an_invalid_record(settings: Settings, tmp_path: Path) -> None:
    archive = Archive(settings.paths.archive_db)
    archive.upsert(Document(id="OK", title="好", body="正文"))
    archive.upsert(Document(id="BAD", title="坏", body="正文", issued_on="2024-1-5"))  # not ISO: bad data
    result = CliRunner().invoke(cli, ["--home", str(settings.home), "catalog", "export"])
    assert result.exit_code == 1
    assert "left out BAD: issued_on" in result.output
    assert [json.loads(x)["id"] for x in result.stdout.splitlines() if x.startswith("{")] == ["OK"]
