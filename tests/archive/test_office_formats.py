"""PDF, DOCX, OFD and legacy DOC/WPS imports (issue 17 part 3), on small files the tests make themselves
(tests/archive/office_files.py): Chinese text, a 文号 in the header, with and without sidecars; every file a
draft, its elements read out of the text flagged for review, the original kept under a safe name, the same
file again a no-op; and the files that must be refused — encrypted, truncated, a zip bomb, a DTD, a zip
that is not OFD, a missing converter."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.catalog import original_path
from archive.importers import ImportReport, container, expand, extract, import_paths
from archive.models import Status
from archive.review import EXTRACTED, review
from archive.store import Archive
from core.settings import Settings
from tests.archive.helpers import run
from tests.archive.office_files import (
    BODY,
    DOC_NO,
    ISSUED_ON,
    ISSUER,
    LINES,
    TITLE,
    docx_bytes,
    encrypted_pdf_bytes,
    ofd_bytes,
    pdf_bytes,
    rezip,
    write,
    zip_bomb,
)

ELEMENTS = {"title": TITLE, "doc_no": DOC_NO, "issuer": ISSUER, "issued_on": ISSUED_ON}


@pytest.fixture
def archive(settings: Settings) -> Iterator[Archive]:
    settings.paths.ensure()
    db = Archive(settings.paths.archive_db)
    yield db
    db.close()


def _import(archive: Archive, settings: Settings, *paths: Path) -> ImportReport:
    return import_paths(archive, list(paths), originals=settings.paths.originals_dir)


def _originals(settings: Settings) -> list[Path]:
    folder = settings.paths.originals_dir
    return sorted(p for p in folder.iterdir() if p.is_file()) if folder.exists() else []


@pytest.mark.parametrize("suffix,make", [
    (".pdf", pdf_bytes),
    (".docx", docx_bytes),
    (".ofd", ofd_bytes),
    (".ofd", lambda: ofd_bytes("http://www.ofdspec.org")),
], ids=["pdf", "docx-header", "ofd-2016", "ofd-ofdspec"])
def test_without_sidecar_every_element_is_read_from_the_text_and_flagged(
        tmp_path: Path, archive: Archive, settings: Settings, suffix: str, make: Callable[[], bytes]) -> None:
    data = make()
    path = write(tmp_path / "in" / f"居住证通知{suffix}", data)
    report = _import(archive, settings, path)
    assert report.ok and report.total("added") == 1, report.to_dict()
    doc = archive.get("居住证通知")
    assert doc.status is Status.DRAFT
    assert {name: getattr(doc, name) for name in ELEMENTS} == ELEMENTS
    assert sorted(doc.extracted) == sorted(ELEMENTS)
    assert BODY in doc.body.replace("\n", "") and doc.body.index("示政发") < doc.body.index("各区人民政府")
    # the original is kept under its fingerprint, and it is what the catalog serves
    kept = _originals(settings)
    assert len(kept) == 1 and kept[0].suffix == suffix and kept[0].read_bytes() == data
    assert kept[0].name == doc.source and len(kept[0].stem) == 32
    assert original_path(doc, settings.paths.originals_dir) == kept[0].resolve()
    # review flags each extracted element, with its value
    flagged = {f.field: f.text for f in review(doc, [], "2024-06-01") if f.kind == EXTRACTED}
    assert flagged == ELEMENTS
    assert all("extracted — check" in f.message for f in review(doc, [], "2024-06-01") if f.kind == EXTRACTED)


def test_docx_tables_and_body_header(tmp_path: Path, archive: Archive, settings: Settings) -> None:
    path = write(tmp_path / "n.docx", docx_bytes(header_in_section=False))
    assert _import(archive, settings, path).ok
    doc = archive.get("n")
    assert doc.doc_no == DOC_NO and "办理材料\t居民身份证" in doc.body and "15个工作日" in doc.body


def test_a_json_sidecar_gives_elements_and_cannot_publish(tmp_path: Path, archive: Archive,
                                                          settings: Settings) -> None:
    write(tmp_path / "通知.docx", docx_bytes())
    sidecar = {"id": "SF-P-2024-12", "title": "居住证办理办法", "doc_no": "示政发〔2024〕99号",
               "index_no": "SF-00001-2024-0012", "keywords": ["居住证", "办理"], "topic": "公安",
               "status": "published", "body": "ignored", "extracted": ["nothing"]}
    write(tmp_path / "通知.docx.json", json.dumps(sidecar, ensure_ascii=False).encode())
    report = _import(archive, settings, tmp_path)  # the folder: the sidecar is not a file of its own
    assert [Path(f.path).name for f in report.files] == ["通知.docx"] and report.ok
    doc = archive.get("SF-P-2024-12")
    assert doc.status is Status.DRAFT  # whatever the sidecar says
    assert (doc.title, doc.doc_no, doc.index_no, doc.keywords, doc.topic) == (
        "居住证办理办法", "示政发〔2024〕99号", "SF-00001-2024-0012", ["居住证", "办理"], "公安")
    assert "ignored" not in doc.body and BODY in doc.body
    assert sorted(doc.extracted) == ["issued_on", "issuer"]  # only what the sidecar left out
    assert (doc.issuer, doc.issued_on) == (ISSUER, ISSUED_ON)


def test_a_yaml_sidecar_for_an_ofd_file(tmp_path: Path, archive: Archive, settings: Settings) -> None:
    path = write(tmp_path / "a.ofd", ofd_bytes())
    write(tmp_path / "a.ofd.yml", "issuer: 示范市公安局\nissued_on: 2024-04-01\ntype: policy\n".encode())
    assert _import(archive, settings, path).ok
    doc = archive.get("a")
    assert (doc.issuer, doc.issued_on, doc.doc_no) == ("示范市公安局", "2024-04-01", DOC_NO)
    assert sorted(doc.extracted) == ["doc_no", "title"]


def test_the_same_file_again_is_a_no_op_even_after_publication(tmp_path: Path, archive: Archive,
                                                               settings: Settings) -> None:
    path = write(tmp_path / "p.pdf", pdf_bytes())
    assert _import(archive, settings, path).total("added") == 1
    archive.set_status("p", Status.PUBLISHED)
    again = _import(archive, settings, path)
    assert again.total("unchanged") == 1 and again.changes == 0
    assert archive.get("p").status is Status.PUBLISHED and len(_originals(settings)) == 1
    # a changed sidecar is a new draft version (it goes through review again), kept beside the first
    write(tmp_path / "p.pdf.json", json.dumps({"topic": "公安"}).encode())
    changed = _import(archive, settings, path)
    assert changed.total("changed") == 1
    doc = archive.get("p")
    assert doc.status is Status.DRAFT and doc.topic == "公安" and len(_originals(settings)) == 2


def test_civic_import_keeps_the_original(tmp_path: Path, home: Path, settings: Settings) -> None:
    path = write(tmp_path / "c.ofd", ofd_bytes())
    result = run(home, "import", str(path))
    assert result.exit_code == 0, result.output
    assert "1 added" in result.output
    with Archive(settings.paths.archive_db) as archive:
        doc = archive.get("c")
    assert doc.status is Status.DRAFT
    assert original_path(doc, settings.paths.originals_dir) is not None


def _refused(tmp_path: Path, archive: Archive, settings: Settings, name: str, data: bytes) -> str:
    report = _import(archive, settings, write(tmp_path / name, data))
    file = report.files[0]
    assert file.error and not report.ok, report.to_dict()
    assert archive.list() == [] and _originals(settings) == []
    return file.error


def test_an_encrypted_pdf_is_refused(tmp_path: Path, archive: Archive, settings: Settings) -> None:
    assert "encrypted" in _refused(tmp_path, archive, settings, "e.pdf", encrypted_pdf_bytes())


def test_truncated_files_are_refused(tmp_path: Path, archive: Archive, settings: Settings) -> None:
    data = pdf_bytes()
    assert "truncated" in _refused(tmp_path, archive, settings, "t.pdf", data[: len(data) // 2])
    data = docx_bytes()
    assert "damaged or truncated" in _refused(tmp_path, archive, settings, "t.docx", data[: len(data) // 2])
    data = ofd_bytes()
    assert "damaged or truncated" in _refused(tmp_path, archive, settings, "t.ofd", data[:-40])


def test_a_pdf_without_text_and_not_a_pdf(tmp_path: Path, archive: Archive, settings: Settings) -> None:
    assert "no text layer" in _refused(tmp_path, archive, settings, "scan.pdf", pdf_bytes([]))
    assert "not a PDF" in _refused(tmp_path, archive, settings, "x.pdf", b"hello, world")


def test_a_zip_bomb_is_refused_before_inflating(tmp_path: Path, archive: Archive, settings: Settings,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    assert "zip bomb" in _refused(tmp_path, archive, settings, "bomb.ofd", zip_bomb())
    monkeypatch.setattr(container, "MAX_UNZIPPED", 2000)  # the cap on all members together
    assert "would inflate" in _refused(tmp_path, archive, settings, "big.ofd", ofd_bytes())
    assert "would inflate" in _refused(tmp_path, archive, settings, "big.docx", docx_bytes())


def test_xml_entity_tricks_are_refused(tmp_path: Path, archive: Archive, settings: Settings) -> None:
    laughs = '<!DOCTYPE lol [<!ENTITY a "哈哈哈哈哈哈哈哈"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    error = _refused(tmp_path, archive, settings, "dtd.ofd", ofd_bytes(page_doctype=laughs))
    assert "DTD" in error
    evil = (b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            b'<w:body><w:p><w:r><w:t>&x;</w:t></w:r></w:p></w:body></w:document>')
    bad = rezip(docx_bytes(), {"word/document.xml": evil})
    error = _refused(tmp_path, archive, settings, "dtd.docx", bad)
    assert "DTD" in error


def test_a_zip_that_is_not_ofd(tmp_path: Path, archive: Archive, settings: Settings) -> None:
    assert "no OFD.xml" in _refused(tmp_path, archive, settings, "word.ofd", docx_bytes())
    other = rezip(ofd_bytes(), {"OFD.xml": b'<?xml version="1.0"?><root xmlns="urn:x"/>'})
    assert "not an OFD file" in _refused(tmp_path, archive, settings, "other.ofd", other)
    assert "no word/document.xml" in _refused(tmp_path, archive, settings, "ofd.docx", ofd_bytes())


def test_sidecar_rejects(tmp_path: Path, archive: Archive, settings: Settings) -> None:
    path = write(tmp_path / "s.pdf", pdf_bytes())
    write(tmp_path / "s.pdf.json", b"{not json")
    report = _import(archive, settings, path)
    assert [r.reason for r in report.files[0].rejects] == ["malformed"]
    assert "s.pdf.json" in report.files[0].rejects[0].message
    write(tmp_path / "s.pdf.json", json.dumps({"issued_on": "2024-02-30"}).encode())
    report = _import(archive, settings, path)
    assert [r.reason for r in report.files[0].rejects] == ["bad_date"]
    assert archive.list() == [] and _originals(settings) == []


def test_legacy_without_a_converter_says_what_to_install(tmp_path: Path, archive: Archive, settings: Settings,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    error = _refused(tmp_path, archive, settings, "old.doc", b"\xd0\xcf\x11\xe0 legacy word")
    assert "antiword" in error and "catdoc" in error and "install" in error


def test_legacy_through_catdoc(tmp_path: Path, archive: Archive, settings: Settings,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in catdoc on PATH (a shell script printing the text, as the real one does): the runner
    calls it with the file and reads its UTF-8 output; antiword, not on PATH, is skipped."""
    bin_dir = tmp_path / "bin"
    text = tmp_path / "text.txt"
    write(text, "\n".join(LINES).encode())
    script = write(bin_dir / "catdoc", f'#!/bin/sh\n[ -f "$4" ] || exit 2\ncat "{text}"\n'.encode())
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin")
    monkeypatch.setattr("archive.importers.legacy.TOOLS",
                        (("antiword-absent", ()), ("catdoc", ("-d", "utf-8", "-w"))))
    report = _import(archive, settings, write(tmp_path / "old.wps", b"\xd0\xcf\x11\xe0 wps"))
    assert report.ok, report.to_dict()
    doc = archive.get("old")
    assert doc.doc_no == DOC_NO and doc.status is Status.DRAFT and doc.source.endswith(".wps")


def test_expand_leaves_sidecars_out(tmp_path: Path) -> None:
    for name in ("a.pdf", "a.pdf.json", "b.json", "c.docx.yml", "c.docx", "d.ofd.yaml"):
        write(tmp_path / name, b"x")
    # d.ofd.yaml has no d.ofd beside it: it is a file of its own (and not an importable suffix anyway)
    assert [p.name for p in expand([tmp_path])] == ["a.pdf", "b.json", "c.docx"]


@pytest.mark.parametrize("text,expected", [
    ("国办发[2023]7号\n关于做好春节期间工作的通知\n正文。\n2023年12月31日",
     {"doc_no": "国办发[2023]7号", "issued_on": "2023-12-31", "title": "关于做好春节期间工作的通知"}),
    ("粤府函（2024）第15号\n广东省人民政府关于同意设立示范区的批复\n示范市人民政府：\n同意。\n广东省人民政府\n"
     "２０２４年１２月３１日",
     {"doc_no": "粤府函（2024）第15号", "issued_on": "2024-12-31", "issuer": "广东省人民政府",
      "title": "广东省人民政府关于同意设立示范区的批复"}),
    ("示范市民政局文件\n示民〔2024〕3号\n关于开展婚姻登记预约的通知\n各区民政局：\n根据国发〔2020〕5号，自2024年5月1日起施行。"
     "\n二〇二四年四月十日",
     {"doc_no": "示民〔2024〕3号", "issued_on": "2024-04-10", "issuer": "示范市民政局",
      "title": "关于开展婚姻登记预约的通知"}),
    ("正文第一句话，没有版头。\n根据国发〔2020〕5号文件办理。", {}),
])
def test_extraction_patterns(text: str, expected: dict[str, str]) -> None:
    assert extract.elements(text) == expected


def test_chinese_dates() -> None:
    assert extract.parse_date("二〇二四年十二月三十一日") == "2024-12-31"
    assert extract.parse_date("二〇二四年二月三十日") == ""  # no such day
    assert extract.parse_date("2024年3月5日") == "2024-03-05"
