"""Metrics and the `civic evaluate` / `civic search` commands on a small fixture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from civic.cli import cli
from evaluation.evaluate import KEYS, load_qrels, metrics
from tests.retrieval.conftest import write_jsonl

DOCS = [
    {"id": "d1", "type": "faq", "title": "結婚登記要帶什麼？", "body": "雙方身分證、戶口名簿及照片。",
     "issuer": "臺北市戶政事務所", "issued_on": "2020-01-01"},
    {"id": "d2", "type": "faq", "title": "护照办理需要几天？", "body": "普通护照7个工作日内办结。",
     "issuer": "示范市公安局", "issued_on": "2021-01-01"},
    {"id": "d3", "type": "faq", "title": "停车费怎么缴纳？", "body": "可在便利店或线上缴纳停车费。",
     "issuer": "示范市交通局", "issued_on": "2022-01-01"},
]
QRELS = [
    {"query": "结婚登记需要什么证件", "relevant": ["d1"]},
    {"query": "護照幾天可以拿到", "relevant": ["d2"]},
    {"query": "停車費在哪裡繳", "relevant": ["d3"]},
]


def test_metrics_on_known_rankings() -> None:
    qrels = [("a", {"x"}), ("b", {"y"}), ("c", {"z", "w"})]
    ranked = [["x", "q"], ["q", "r", "y"], ["n"] * 10 + ["z"]]
    m = metrics(ranked, qrels, [1.0, 2.0, 3.0])
    assert m["recall@1"] == pytest.approx(1 / 3, abs=1e-4)
    assert m["recall@5"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["mrr@10"] == pytest.approx((1 + 1 / 3) / 3, abs=1e-4)
    assert m["ndcg@10"] == pytest.approx((1 + 0.5) / 3, abs=1e-4)  # 1/log2(4) = 0.5
    assert m["latency_ms_p50"] == 2.0 and m["n_queries"] == 3


def test_bad_qrels_line_names_the_line(tmp_path: Path) -> None:
    from core.errors import InvalidInput

    path = tmp_path / "q.jsonl"
    path.write_text('{"query": "x", "relevant": ["a"]}\n{"question": "y"}\n', encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"q\.jsonl:2"):
        load_qrels(path)


def test_evaluate_cli_prints_exactly_the_json_keys(tmp_path: Path, home: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVIC_EMBEDDING_MODEL", "none")  # lexical only; the real model runs in the test below
    docs = write_jsonl(tmp_path / "docs.jsonl", DOCS)
    qrels = write_jsonl(tmp_path / "qrels.jsonl", QRELS)
    result = CliRunner().invoke(cli, ["--home", str(home), "evaluate", "--docs", str(docs),
                                      "--qrels", str(qrels), "--json"])
    assert result.exit_code == 0, result.output
    line = [ln for ln in result.stdout.splitlines() if ln.startswith("{")]
    data = json.loads(line[-1])
    assert tuple(data) == KEYS
    assert data["n_queries"] == 3 and data["recall@1"] == 1.0 and data["mrr@10"] == 1.0
    assert not (home / "archive.db").exists()  # nothing touched the home's archive


def test_search_cli_builds_the_index_on_first_use(home: Path, monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    monkeypatch.setenv("CIVIC_EMBEDDING_MODEL", "none")
    docs = write_jsonl(tmp_path / "docs.jsonl", DOCS)
    runner = CliRunner()
    assert runner.invoke(cli, ["--home", str(home), "import", str(docs)]).exit_code == 0
    result = runner.invoke(cli, ["--home", str(home), "search", "護照辦理幾天", "--json"])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout[result.stdout.index("["):])
    assert hits[0]["doc_id"] == "d2" and hits[0]["citation"]["issuer"] == "示范市公安局"
    assert (home / "index" / "CURRENT").exists()
    text = runner.invoke(cli, ["--home", str(home), "search", "停车费", "--type", "faq"])
    assert text.exit_code == 0 and "停车费怎么缴纳？" in text.stdout


@pytest.mark.model
def test_evaluate_with_the_real_packaged_model(tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    from evaluation.evaluate import evaluate_files

    rows = [*DOCS, {"id": "e1", "type": "faq", "title": "How can I renew my residence permit?",
                    "body": "Apply at the exit-entry office 30 days before the permit expires.",
                    "issuer": "Demo City Police", "issued_on": "2024-01-01"}]
    qrels = [*QRELS, {"query": "extend residence permit before expiry", "relevant": ["e1"]}]
    result = evaluate_files(settings, write_jsonl(tmp_path / "d.jsonl", rows),
                            write_jsonl(tmp_path / "q.jsonl", qrels))["hybrid"]
    assert result["recall@1"] == 1.0 and result["n_queries"] == 4


def test_reindex_cli_says_when_dense_is_off(home: Path, monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    monkeypatch.setenv("CIVIC_EMBEDDING_MODEL", "none")
    runner = CliRunner()
    assert runner.invoke(cli, ["--home", str(home), "import",
                               str(write_jsonl(tmp_path / "docs.jsonl", DOCS))]).exit_code == 0
    result = runner.invoke(cli, ["--home", str(home), "reindex"])
    assert result.exit_code == 0, result.output
    assert f"indexed {len(DOCS)} documents" in result.stdout
    assert "lexical search only" in result.stdout


@pytest.mark.model
def test_reindex_cli_prints_the_model_fitness(home: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["--home", str(home), "import",
                               str(write_jsonl(tmp_path / "docs.jsonl", DOCS))]).exit_code == 0
    result = runner.invoke(cli, ["--home", str(home), "reindex"])
    assert result.exit_code == 0, result.output
    # the summary says per script how much the default model (USE) cannot read
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("embedding model"))
    assert "han" in line and "unknown" in line and "dense weight" in line


@pytest.mark.model
def test_evaluate_cli_measures_each_signal_alone_and_together(tmp_path: Path, home: Path) -> None:
    """The dense side alone finds Simplified answers to Traditional and English questions that share no
    word with them; lexical alone finds none of those; the hybrid keeps both kinds."""
    rows = [
        {"id": "s1", "type": "faq", "title": "新生儿怎么落户？",
         "body": "持出生医学证明和父母户口簿到派出所申报出生登记。",
         "issuer": "示范市公安局", "issued_on": "2024-01-01"},
        {"id": "s2", "type": "faq", "title": "失业保险金怎么领？",
         "body": "失业后60日内到社保经办机构办理失业登记并申领。",
         "issuer": "示范市人社局", "issued_on": "2024-01-01"},
        {"id": "s3", "type": "faq", "title": "公园几点开门？", "body": "全年6:00至22:00开放，免费入园。",
         "issuer": "示范市园林局", "issued_on": "2024-01-01"},
    ]
    qrels = [{"query": "寶寶剛出生要怎麼報戶口", "relevant": ["s1"]},
             {"query": "I lost my job, how do I get unemployment benefits?", "relevant": ["s2"]},
             {"query": "公园开放时间", "relevant": ["s3"]}]
    result = CliRunner().invoke(cli, [
        "--home", str(home), "evaluate", "--docs", str(write_jsonl(tmp_path / "d.jsonl", rows)),
        "--qrels", str(write_jsonl(tmp_path / "q.jsonl", qrels)), "--signals", "lexical,dense,hybrid",
        "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(next(ln for ln in result.stdout.splitlines() if ln.startswith("{")))
    assert set(data) == {"lexical", "dense", "hybrid"} and all(tuple(v) == KEYS for v in data.values())
    assert data["dense"]["recall@1"] == 1.0
    assert data["lexical"]["recall@1"] < 1.0
    assert data["hybrid"]["recall@1"] == 1.0
    text = CliRunner().invoke(cli, [
        "--home", str(home), "evaluate", "--docs", str(tmp_path / "d.jsonl"), "--qrels",
        str(tmp_path / "q.jsonl"), "--signals", "dense,bogus"])
    assert text.exit_code != 0 and "signals must be some of" in text.output
