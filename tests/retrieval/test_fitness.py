"""Model fitness check: per-script unknown shares and the dense weight they imply."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.embedder import FakeEmbedder
from retrieval.fitness import FitnessReport, check, ramp, script_counts, script_of
from tests.retrieval.test_dense_embedder import packaged_minilm

ENGLISH = [
    "Apply for a residential parking permit at the district office.",
    "Bring your ID card and proof of address; the fee is 200 dollars.",
    "Business licence renewals are processed within five working days.",
]
CHINESE = [
    "申请居民停车证需要携带身份证和住址证明，到区政府服务大厅办理。",
    "营业执照变更登记的法定办结时限为十五个工作日，承诺时限为三个工作日。",
    "臺北市市民申辦戶籍謄本，可至任一戶政事務所臨櫃辦理。",
]


def is_han(ch: str) -> bool:
    return script_of(ch) == "han"


def test_script_buckets() -> None:
    assert [script_of(c) for c in "护A7ねЖ，。 é"] == ["han", "latin", "latin", "other", "other", None, None,
                                                    None, "latin"]
    assert script_counts("办理 ID 2 份") == {"han": 3, "latin": 3, "other": 0}


def test_ramp_bounds() -> None:
    assert ramp(0.0) == 0.0 and ramp(0.5) == 0.0 and ramp(0.9) == 1.0 and ramp(1.0) == 1.0
    assert 0.0 < ramp(0.7) < 1.0


def test_english_only_model_gets_no_weight_on_chinese() -> None:
    report = check(FakeEmbedder(unknown=is_han, name="english-only"), ENGLISH + CHINESE)
    assert report.unknown_share("han") == 1.0
    assert report.unknown_share("latin") == 0.0
    assert report.weight_for("停车证怎么办理") == 0.0
    assert report.weight_for("parking permit fee") == 1.0
    assert report.weight_for("办理 parking permit") > 0.0  # mostly Latin: still some weight
    assert report.weight_for("parking permit", query_unknown_share=0.8) == 0.0
    assert report.weight_for("？！") == 0.0


def test_model_reading_chinese_gets_full_weight() -> None:
    report = check(FakeEmbedder(name="reads-all"), CHINESE)
    assert report.unknown_share("han") == 0.0 and report.unknown_share("latin") is None
    assert report.weight_for("停车证怎么办理") == 1.0
    assert report.corpus_weight == 1.0 and report.dense_useful


def test_report_round_trips_through_json(tmp_path: Path) -> None:
    report = check(FakeEmbedder(unknown=is_han), ENGLISH + CHINESE, sample=4, seed=1)
    assert report.texts_sampled == 4
    report.save(tmp_path / "fitness.json")
    loaded = FitnessReport.load(tmp_path / "fitness.json")
    assert loaded.to_dict() == report.to_dict()
    assert loaded.weight_for("停车证") == report.weight_for("停车证")
    assert "han 100% unknown" in loaded.summary()


@pytest.mark.model
def test_minilm_reads_english_but_not_chinese() -> None:
    report = check(packaged_minilm(), ENGLISH + CHINESE)
    han, latin = report.unknown_share("han"), report.unknown_share("latin")
    assert han is not None and han > 0.5
    assert latin is not None and latin < 0.05
    assert report.weight_for("申请居民停车证需要什么材料") < 0.05
    assert report.weight_for("residential parking permit") > 0.95
    assert report.dense_useful  # half the sample is English
    assert not check(packaged_minilm(), CHINESE).dense_useful
