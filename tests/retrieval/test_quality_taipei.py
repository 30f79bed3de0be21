"""Quality on the Taipei FAQ development set (../shared/data; skipped in a fresh clone).

Issue 12's target is Recall@5 >= 0.88 and MRR@10 >= 0.74 with the offline default model (USE); what the
pipeline reaches is recorded in bench/RETRIEVAL_QUALITY.md (0.831 / 0.681).  The floor test guards against
regressions; the target test is an expected failure until the target is met.
"""

from __future__ import annotations

import pytest

from tests.conftest import shared_data

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def taipei_scores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, float | int]:
    from core.settings import load_settings
    from evaluation.evaluate import evaluate_files

    docs = shared_data("taipei-faq", "docs.jsonl")
    qrels = shared_data("taipei-faq", "qrels.jsonl")
    settings = load_settings(tmp_path_factory.mktemp("home"))
    return evaluate_files(settings, docs, qrels)["hybrid"]


def test_taipei_quality_floor(taipei_scores: dict[str, float | int]) -> None:
    assert taipei_scores["n_queries"] == 1831
    assert taipei_scores["recall@5"] >= 0.825  # lexical alone: 0.825; the hybrid must not fall below it
    assert taipei_scores["mrr@10"] >= 0.675


@pytest.mark.xfail(reason="issue 12 target not reached yet: see bench/RETRIEVAL_QUALITY.md", strict=False)
def test_taipei_meets_the_issue_target(taipei_scores: dict[str, float | int]) -> None:
    assert taipei_scores["recall@5"] >= 0.88
    assert taipei_scores["mrr@10"] >= 0.74
