"""A small archive for retrieval tests: guides, policies (one abolished with a successor chain, one
expired), FAQs, in Simplified and Traditional Chinese and English."""

from __future__ import annotations

from archive.models import DocType, Document, Status
from archive.store import Archive


def docs() -> list[Document]:
    return [
        Document(
            id="G-MARRY", type=DocType.GUIDE, title="结婚登记", issuer="示范市民政局", topic="民政",
            audience="自然人", issued_on="2025-05-12", keywords=["领结婚证", "婚姻登记"],
            body="结婚登记是男女双方依法确立婚姻关系的法定手续。",
            materials=["双方有效居民身份证原件", "双方近期半身免冠2寸合影照片3张"],
            location="示范市婚姻登记中心（滨江路12号）一楼", hours="周一至周五 8:30-12:00，14:00-17:30",
            fees="免费", time_limit_promised="即时办结", steps=["预约或取号", "提交证件", "当场颁证"],
            conditions="男方年满22周岁、女方年满20周岁", phone="0799-87651520",
        ),
        Document(
            id="G-PASSPORT", type=DocType.GUIDE, title="普通护照申领", issuer="示范市公安局出入境管理支队",
            topic="公安", audience="自然人", issued_on="2024-03-01", keywords=["护照", "出国"],
            body="中国公民因私出国申请普通护照。", materials=["居民身份证", "近期彩色照片"],
            fees="每本120元", time_limit_promised="7个工作日", location="市民服务中心二楼出入境窗口",
        ),
        Document(
            id="G-TW-CAR", type=DocType.GUIDE, title="汽車移置保管場領車", issuer="臺北市政府警察局",
            topic="交通", audience="自然人", issued_on="2016-01-05",
            body="車輛遭拖吊後，車主可至移置保管場辦理領車。",
            materials=["行車執照", "駕駛人身分證"], fees="拖吊費新臺幣1,000元，保管費每日200元",
            location="臺北市各區拖吊場",
        ),
        Document(
            id="P-RES-OLD", type=DocType.POLICY, title="示范市居住证管理办法（2019）",
            issuer="示范市人民政府",
            doc_no="示政发〔2019〕3号", issued_on="2019-02-01", topic="公安", status=Status.ABOLISHED,
            replaced_by="P-RES-MID",
            body="第一条 为加强流动人口服务管理，制定本办法。\n"
                 "第二条 居住证有效期为一年，申领居住证须居住满半年。",
        ),
        Document(
            id="P-RES-MID", type=DocType.POLICY, title="示范市居住证管理办法（2022）",
            issuer="示范市人民政府",
            doc_no="示政发〔2022〕8号", issued_on="2022-02-01", topic="公安", status=Status.ABOLISHED,
            replaced_by="P-RES-NEW",
            body="第一条 为保障流动人口合法权益，制定本办法。\n第二条 居住证有效期为两年。",
        ),
        Document(
            id="P-RES-NEW", type=DocType.POLICY, title="示范市居住证管理办法", issuer="示范市人民政府",
            doc_no="示政发〔2025〕1号", issued_on="2025-01-10", topic="公安", valid_from="2025-02-01",
            body="第一条 为促进新型城镇化，保障公民合法权益，制定本办法。\n"
                 "第二条 在本市居住半年以上的，可以申领居住证。\n"
                 "第三条 居住证有效期为三年，期满前三十日内申请续期。",
        ),
        Document(
            id="P-SUBSIDY", type=DocType.POLICY, title="灵活就业人员社会保险补贴实施办法（2023—2025年）",
            issuer="示范市人力资源和社会保障局", doc_no="示人社发〔2023〕5号", issued_on="2023-01-01",
            valid_from="2023-01-01", valid_until="2025-12-31", topic="社保", status=Status.EXPIRED,
            body="一、补贴对象\n就业困难人员以灵活就业方式就业并缴纳社会保险费的，给予社会保险补贴。\n"
                 "二、补贴标准\n按实际缴费额的三分之二给予补贴，期限最长三年。",
        ),
        Document(
            id="F-BOOK", type=DocType.FAQ, title="到政务服务大厅办事需要提前预约吗？",
            issuer="示范市政务服务管理局",
            issued_on="2025-03-01", topic="政务服务", keywords=["预约", "取号"],
            body="大部分事项不需要预约，到大厅取号即可办理。结婚登记和出入境证件建议提前预约。",
        ),
        Document(
            id="F-TW-PARK", type=DocType.FAQ, title="路邊停車費逾期未繳怎麼辦？",
            issuer="臺北市停車管理工程處",
            issued_on="2017-06-01", topic="交通", keywords=["停車費", "補繳"],
            body="停車費逾期未繳納者，將寄發催繳通知單，請於期限內至便利商店補繳。",
        ),
        Document(
            id="F-EN-TAX", type=DocType.FAQ, title="How do foreign residents file an income tax return?",
            issuer="Demo City Tax Bureau", issued_on="2024-04-01", topic="tax", audience="foreigner",
            body="Foreign residents file the annual income tax return online between March and June.",
        ),
        Document(id="D-DRAFT", type=DocType.FAQ, title="草稿：结婚登记收费吗", issuer="示范市民政局",
                 status=Status.DRAFT, body="草稿内容，不应被检索到。结婚登记收费标准。"),
    ]


def seed(archive: Archive) -> Archive:
    for doc in docs():
        archive.upsert(doc)
    return archive
