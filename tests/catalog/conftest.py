"""Catalog fixtures: an archive holding public and non-public documents, and the real app over it."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from app.factory import create_app
from archive.models import DocType, Document, Status
from archive.store import Archive
from core.settings import Settings
from tests.app.fakes import FakeEngine, FakeRetriever

AiohttpClient = Any
TODAY_SAFE_PAST = "2020-01-01"


def fill(archive: Archive) -> None:
    """Two agencies, two topics; one abolished (replaced), one expired, one draft and one in review."""
    docs = [
        Document(
            id="P-NEW",
            title="示范市居住证管理办法（2026年修订）",
            body="第一条 居住证新办法全文。",
            doc_no="示府规〔2026〕1号",
            index_no="11360799MB0A00011P/2026-00001",
            issuer="示范市人民政府",
            issued_on="2026-03-01",
            topic="公安",
            genre="规章",
            audience="自然人",
            keywords=["居住证", "流动人口"],
            summary="居住证申领和续期的新规定。",
            url="https://www.shifan.gov.cn/p-new.html",
        ),
        Document(
            id="P-OLD",
            title="示范市居住证管理办法",
            body="第一条 旧办法。",
            doc_no="示府规〔2019〕3号",
            index_no="11360799MB0A00011P/2019-00511",
            issuer="示范市人民政府",
            issued_on="2019-01-25",
            topic="公安",
            genre="规章",
            audience="自然人",
        ),
        Document(
            id="G-1",
            title="结婚登记",
            type=DocType.GUIDE,
            body="结婚登记的办事指南。",
            issuer="示范市民政局",
            issued_on="2025-05-12",
            topic="民政",
            genre="办事指南",
            audience="自然人",
            materials=["居民身份证", "近期半身免冠合影照片"],
            location="示范市婚姻登记中心",
            index_no="11360799MB1B40105X/2025-00107",
        ),
        Document(
            id="P-EXP",
            title="临时补贴通知",
            body="补贴发放。",
            doc_no="示民发〔2024〕8号",
            issuer="示范市民政局",
            issued_on="2024-06-01",
            valid_until="2025-12-31",
            topic="民政",
            genre="通知",
            audience="法人",
        ),
        Document(
            id="D-1",
            title="草稿：养犬管理办法",
            body="养犬草稿正文。",
            doc_no="示府规〔2026〕9号",
            issuer="示范市人民政府",
            issued_on="2026-04-01",
            topic="公安",
            status=Status.DRAFT,
        ),
        Document(
            id="R-1",
            title="审核中：停车收费通知",
            body="停车收费正文。",
            doc_no="示发改〔2026〕2号",
            issuer="示范市发展和改革委员会",
            issued_on="2026-04-02",
            topic="价格",
            status=Status.REVIEW,
        ),
    ]
    for doc in docs:
        archive.upsert(doc)
    archive.set_status("P-OLD", Status.ABOLISHED, reason="被2026年修订版替代", replaced_by="P-NEW")
    archive.set_status("P-EXP", Status.EXPIRED, reason="有效期届满")


@pytest.fixture
def archive(settings: Settings) -> Archive:
    store = Archive(settings.paths.archive_db)
    fill(store)
    return store


@pytest.fixture
async def client(aiohttp_client: AiohttpClient, settings: Settings, archive: Archive) -> TestClient:
    app = create_app(settings, engine=FakeEngine(), retriever=FakeRetriever())
    result: TestClient = await aiohttp_client(app)
    return result
