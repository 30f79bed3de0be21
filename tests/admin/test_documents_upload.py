"""The import's size limit on both ways a form arrives: streamed (the page's script: CSRF header, chunked
body, no Content-Length) and as a plain form the CSRF check has already read.  A small limit here."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import FormData

from app.keys import ARCHIVE
from core.settings import Settings
from tests.admin.conftest import SignedIn, create_users

LIMIT = 64 * 1024
BOUNDARY = "civic-test-boundary"


@pytest.fixture
def admin_settings(settings: Settings) -> Settings:
    create_users(settings)
    return settings.with_overrides(max_upload_bytes=LIMIT)


def multipart(name: str, data: bytes) -> bytes:
    head = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    return head + data + f"\r\n--{BOUNDARY}--\r\n".encode()


async def chunks(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 16 * 1024):
        yield body[start:start + 16 * 1024]


async def test_a_streamed_upload_stops_at_the_limit_and_one_under_it_lands(signed_in: SignedIn) -> None:
    editor = await signed_in("editor1")
    headers = {"X-CSRF-Token": editor.csrf,  # type: ignore[attr-defined]
               "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    line = b'{"id": "BIG-1", "title": "t", "body": "' + b"x" * 40_000 + b'"}\n'
    ok = await editor.post("/admin/documents/upload", data=chunks(multipart("ok.jsonl", line)),
                           headers=headers)
    assert ok.status == 200 and "ok.jsonl (jsonl, utf-8, documents): 1 added" in await ok.text()
    big = await editor.post("/admin/documents/upload", data=chunks(multipart("big.jsonl", line * 3)),
                            headers=headers)
    assert big.status == 413
    assert "the upload is larger than 64 KB, the limit" in await big.text()
    assert editor.app[ARCHIVE].find("BIG-1") is not None


async def test_a_plain_form_over_the_limit_is_refused_with_the_same_message(signed_in: SignedIn) -> None:
    editor = await signed_in("editor1")
    data = FormData()
    data.add_field("csrf", editor.csrf)  # type: ignore[attr-defined]
    data.add_field("files", b"x" * (LIMIT + 1), filename="big.jsonl")
    refused = await editor.post("/admin/documents/upload", data=data)
    assert refused.status == 413 and "the upload is larger than 64 KB, the limit" in await refused.text()
    nothing = FormData(default_to_multipart=True)
    nothing.add_field("csrf", editor.csrf)  # type: ignore[attr-defined]
    nothing.add_field("format", "auto")
    empty = await editor.post("/admin/documents/upload", data=nothing)
    assert empty.status == 400 and "choose at least one file" in await empty.text()
    form = FormData({"csrf": editor.csrf})  # type: ignore[attr-defined]
    not_multipart = await editor.post("/admin/documents/upload", data=form)
    assert not_multipart.status == 400 and "multipart/form-data" in await not_multipart.text()
