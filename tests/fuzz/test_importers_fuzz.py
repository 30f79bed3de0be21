"""Bad files through the importers — ``archive.importers.import_paths`` (what ``civic import`` runs) and the
console's upload (POST /admin/documents/upload): crafted files (truncated, binary, GBK, UTF-16 with and
without BOM, huge, deeply nested JSON, zip bombs dressed as .docx/.ofd, broken PDF) and hypothesis-generated
ones (random bytes under every suffix the importers know, random JSON values as records).

For every file: no exception escapes; a file that lands nothing says why (the file's error or a reject with
its reason code and message); the archive is byte-for-byte the same after a file that landed nothing (an
SQL dump of archive.db compared); the upload answers < 500 and shows the same reason.
"""

from __future__ import annotations

import codecs
import html
import json
import re
import sqlite3
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from app.factory import create_app
from archive.importers import FORMATS, FileReport, import_paths
from archive.models import Status
from archive.store import Archive
from tests.admin.conftest import create_users, sign_in_client
from tests.app.fakes import FakeEngine, FakeRetriever
from tests.fuzz.conftest import prepare_home

SEED = 20261201
EXAMPLES = 40  # per hypothesis test
GiB = 1024**3
RECORD = {"id": "fuzz-001", "title": "模糊测试 公共租赁住房申请指南", "issuer": "市住房保障局",
          "doc_type": "guide", "body": "申请条件：本市户籍。" * 20}
FINISHED = re.compile(r"(\d+) added, (\d+) changed, (\d+) unchanged, (\d+) rejected")
SUFFIXES = [".jsonl", ".json", ".csv", ".md", ".html", ".txt", ".docx", ".pdf", ".ofd"]


def dump(db: Path) -> list[str]:
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


def landed(file: FileReport) -> int:
    return file.added + file.changed + file.unchanged


def assert_says_why(file: FileReport) -> None:
    if landed(file):
        return
    assert file.error or file.rejects, f"{file.path}: nothing landed and no reason given"
    for reject in file.rejects:
        assert reject.reason and reject.message, reject


def zip_bytes(members: dict[str, bytes], path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in members.items():
            out.writestr(name, data)
    return path


def zip_bomb(path: Path, member: str, size: int = GiB) -> Path:
    """A zip whose member inflates to ``size`` bytes of zeros (about 1 MB compressed per GiB)."""
    chunk = b"\0" * (16 * 1024 * 1024)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out:
        out.writestr("[Content_Types].xml", b'<?xml version="1.0"?><Types/>')
        with out.open(member, "w", force_zip64=True) as stream:
            for _ in range(size // len(chunk)):
                stream.write(chunk)
    return path


def lying_zip(path: Path, member: str) -> Path:
    """A zip whose central directory declares a 100-byte member that inflates to 256 MB."""
    zip_bomb(path, member, 256 * 1024 * 1024)
    data = bytearray(path.read_bytes())
    name = member.encode()
    at = data.find(b"PK\x01\x02")
    while at != -1:  # each central-directory entry: the uncompressed size is at +24 (4 bytes)
        length = int.from_bytes(data[at + 28:at + 30], "little")
        if bytes(data[at + 46:at + 46 + length]) == name:
            data[at + 24:at + 28] = (100).to_bytes(4, "little")
        at = data.find(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(data))
    with zipfile.ZipFile(path) as check:
        assert check.getinfo(member).file_size == 100
    return path


def crafted(folder: Path) -> Iterator[tuple[str, Path]]:
    good = json.dumps(RECORD, ensure_ascii=False)
    files: dict[str, bytes] = {
        "truncated.jsonl": good.encode()[: len(good.encode()) // 2],
        "truncated.json": ("[" + good + "," + good[:40]).encode(),
        "binary.jsonl": bytes(range(256)) * 64,
        "binary.md": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 16,
        "nul.csv": b"id,title\n\0\0\0,\0\0\n",
        "gbk.jsonl": good.encode("gbk"),
        "utf16-bom.jsonl": codecs.BOM_UTF16_LE + good.encode("utf-16-le"),
        "utf16-nobom.jsonl": good.encode("utf-16-le"),
        "utf16be-nobom.json": ("[" + good + "]").encode("utf-16-be"),
        "nested.jsonl": ('{"id": "deep", "title": ' + "[" * 100_000 + "]" * 100_000 + "}").encode(),
        "nested-object.json": ('[{"id": "deep2", "x": ' + '{"a": ' * 50_000 + "1" + "}" * 50_000
                               + "}]").encode(),
        "huge-body.jsonl": json.dumps({**RECORD, "id": "huge", "body": "长" * 3_000_000},
                                      ensure_ascii=False).encode(),
        "empty.jsonl": b"",
        "not-a-docx.docx": b"PK\x03\x04" + b"\0" * 100,
        "truncated.pdf": b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\nendobj\n",
        "binary.pdf": bytes(range(256)) * 32,
        "binary.ofd": bytes(range(256)) * 32,
    }
    for name, data in files.items():
        path = folder / name
        path.write_bytes(data)
        yield name, path
    yield "bomb.docx", zip_bomb(folder / "bomb.docx", "word/document.xml")
    yield "bomb.ofd", zip_bomb(folder / "bomb.ofd", "Doc_0/Content.xml")
    yield "lying.docx", lying_zip(folder / "lying.docx", "word/document.xml")
    yield "many-members.docx", zip_bytes({f"m{i}.xml": b"" for i in range(6000)},
                                         folder / "many-members.docx")
    yield "huge-file.jsonl", _huge(folder / "huge-file.jsonl")


def _huge(path: Path) -> Path:
    """25 MB of records, over the upload limit (20 MB); civic import takes it."""
    line = (json.dumps({**RECORD, "id": "huge-{}"}, ensure_ascii=False) + "\n")
    with path.open("w", encoding="utf-8") as out:
        n = 0
        while out.tell() < 25 * 1024 * 1024:
            out.write(line.replace("{}", str(n)))
            n += 1
    return path


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Archive, Path]]:
    settings_, archive = prepare_home(tmp_path_factory.mktemp("importers") / "home")
    folder = tmp_path_factory.mktemp("crafted")
    yield settings_, archive, folder
    archive.close()


@pytest.fixture(scope="module")
def files(home: tuple[Any, Archive, Path]) -> list[tuple[str, Path]]:
    return list(crafted(home[2]))


def must_say_why(path: Path, file: FileReport) -> bool:
    """False for a file read as text that holds no record (blank, or one line: a CSV header), which lands
    nothing and has nothing to refuse."""
    lines = [line for line in path.read_bytes().splitlines() if line.strip(b" \t\0")]
    text_format = file.format in ("csv", "jsonl", "md", "html", "json")
    return len(lines) > 1 or not text_format or bool(file.rejects or file.error)


def import_and_check(archive: Archive, path: Path, **kwargs: Any) -> FileReport:
    before = dump(archive.path)
    report = import_paths(archive, [path], max_body_chars=200_000, **kwargs)
    (file,) = report.files
    if must_say_why(path, file):
        assert_says_why(file)
    if not landed(file):
        assert dump(archive.path) == before, f"{path.name}: rejected, yet the archive changed"
    return file


def test_crafted_files_through_import_paths(home: tuple[Any, Archive, Path],
                                            files: list[tuple[str, Path]]) -> None:
    _, archive, _ = home
    outcome = {}
    for name, path in files:
        if name == "huge-file.jsonl":
            continue  # civic import takes big files; the upload test refuses it by size
        file = import_and_check(archive, path, status=Status.DRAFT)
        why = file.error or (f"{file.rejects[0].reason}: {file.rejects[0].message}" if file.rejects else "")
        outcome[name] = "landed" if landed(file) else why or "no records"
    # the decodable ones land with their text intact, the rest are refused with a reason
    for name in ("gbk.jsonl", "utf16-bom.jsonl"):
        assert outcome[name] == "landed", (name, outcome[name])
        assert archive.get(RECORD["id"]).title == RECORD["title"]
    for name in ("truncated.jsonl", "binary.jsonl", "nested.jsonl", "huge-body.jsonl", "bomb.docx",
                 "bomb.ofd", "lying.docx", "many-members.docx", "not-a-docx.docx", "binary.pdf"):
        assert outcome[name] != "landed", (name, outcome)
    if {"docx", "ofd"} <= set(FORMATS):  # the office importers (archive/importers/office.py) name the bomb
        assert "zip bomb" in str(outcome["bomb.docx"]) and "zip bomb" in str(outcome["bomb.ofd"]), outcome


@seed(SEED)
@settings(max_examples=EXAMPLES, database=None, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.binary(max_size=4096), suffix=st.sampled_from(SUFFIXES))
def test_random_bytes_under_every_suffix(home: tuple[Any, Archive, Path], data: bytes, suffix: str) -> None:
    _, archive, folder = home
    path = folder / f"random{suffix}"
    path.write_bytes(data)
    import_and_check(archive, path)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=30)
FIELDS = st.fixed_dictionaries({}, optional={k: JSON_VALUES for k in
                                             ("id", "title", "issuer", "doc_type", "body", "status", "doc_no",
                                              "valid_from", "valid_to", "replaced_by", "app_no")})


@seed(SEED)
@settings(max_examples=EXAMPLES, database=None, deadline=None, suppress_health_check=list(HealthCheck))
@given(records=st.lists(FIELDS | JSON_VALUES, min_size=1, max_size=5), as_array=st.booleans())
def test_random_json_records(home: tuple[Any, Archive, Path], records: list[Any], as_array: bool) -> None:
    _, archive, folder = home
    path = folder / ("random.json" if as_array else "random.jsonl")
    text = json.dumps(records) if as_array else "\n".join(json.dumps(r) for r in records)
    path.write_text(text, encoding="utf-8")
    import_and_check(archive, path, status=Status.DRAFT)


async def test_crafted_files_through_the_upload(aiohttp_client: Any, home: tuple[Any, Archive, Path],
                                                files: list[tuple[str, Path]]) -> None:
    settings_, archive, _ = home
    create_users(settings_)
    client: TestClient = await aiohttp_client(create_app(settings_, engine=FakeEngine(), archive=archive,
                                                         retriever=FakeRetriever()))
    csrf = await sign_in_client(client, "editor1")
    for name, path in files:
        before = dump(archive.path)
        response = await client.post("/admin/documents/upload", headers={"X-CSRF-Token": csrf},
                                     data={"format": "auto", "files": path.open("rb")})
        page = await response.text()
        assert response.status < 500, (name, response.status, page[:300])
        if name == "huge-file.jsonl":
            assert response.status == 413 and "limit" in page, (name, response.status)
            assert dump(archive.path) == before
            continue
        assert response.status == 200, (name, response.status)
        totals = FINISHED.search(page)
        assert totals, (name, page[:300])
        if sum(int(n) for n in totals.groups()[:3]):
            continue  # it landed (as a draft) or was already there: the decodable files
        assert dump(archive.path) == before, f"{name}: rejected through the upload, yet the archive changed"
        file = import_paths(archive, [path]).files[0]  # the reason import_paths gives is on the page
        if not must_say_why(path, file):
            continue
        assert 'class="error"' in page, name
        reason = file.error or (file.rejects[0].message if file.rejects else "")
        assert reason, name
        shown = html.unescape(page)
        assert reason.replace(str(path), name)[:30] in shown or reason[-30:] in shown, (name, reason)
