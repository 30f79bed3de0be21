"""The hotline classifier on real citizens' questions of another city (-> bench/HOTLINE_TAIPEI.md).

Our labelled set (data/hotline/) is the team's own writing, so its held-out split cannot say how the model
does on a city it has never seen.  The nearest real data on this machine is Taipei's open FAQ set
(``../shared/data/taipei-faq/faq.jsonl``: 1,877 questions, each answered by one department).  Each
department whose remit falls clearly in one category of the default taxonomy gives its questions that
category (:data:`DEPARTMENT_CATEGORY`, first match wins); departments with no clear category (social
welfare, funerals, accounting, IT, personnel…) are left out, and so are questions that are only a heading
(「…常見問答」).  Every question is a 咨询, so the kind column only tells how often a question is taken for
a complaint or a suggestion.

The model is the shipped one: trained on data/hotline/labelled.jsonl with the encoder, as the app trains
it; nothing here is trained or tuned on Taipei.  The text is Traditional Chinese: it is scored as given
and converted to Simplified (the hidden data is Simplified).  Usage::

    .venv/bin/python -m bench.hotline_taipei [--data ../shared/data/taipei-faq/faq.jsonl]
"""

from __future__ import annotations

import argparse
import collections
import json
import platform
from datetime import UTC, datetime
from pathlib import Path

from app import hotline_classifier as hc
from retrieval.embedder import load_embedder
from retrieval.normalize import to_simplified

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "taipei-faq" / "faq.jsonl"

# (substring of the department's name, category); the first that matches wins, so the narrower go first
DEPARTMENT_CATEGORY: tuple[tuple[str, str], ...] = (
    ("交通警察", "交通"), ("交通", "交通"), ("運輸", "交通"), ("停車", "交通"), ("捷運", "交通"),
    ("裁決所", "交通"),
    ("衛生局", "医疗"), ("醫院", "医疗"),
    ("環境保護", "环保"),
    ("勞動", "就业"), ("就業", "就业"),
    ("警察", "治安"), ("家庭暴力", "治安"), ("消防", "治安"),
    ("觀光", "旅游"),
    ("體育", "文娱"), ("藝文", "文娱"), ("文化局", "文娱"), ("中山堂", "文娱"),
    ("教育局", "教育"),
    ("都市更新", "城建"), ("都市發展", "城建"), ("工務局", "城建"), ("自來水", "城建"), ("建築", "城建"),
    ("農業", "三农"), ("動物保護", "三农"),
    ("工商服務", "企业"), ("商業處", "企业"), ("市場處", "企业"), ("科技產業", "企业"),
    ("金融管理", "金融"),
    ("戶籍", "政务"), ("兵役", "政务"), ("區公所", "政务"),
)


def category_of(department: str) -> str:
    return next((cat for key, cat in DEPARTMENT_CATEGORY if key in department), "")


def load(path: Path) -> tuple[list[dict[str, str]], collections.Counter[str]]:
    """The questions with a clear category, and the departments left out (with their question counts)."""
    kept, skipped = [], collections.Counter[str]()
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        question = str(row.get("question", "")).strip()
        if len(question) < 6 or question.endswith(("常見問答", "問答集", "常見問題")):
            continue
        category = category_of(str(row.get("dept", "")))
        if category:
            kept.append({"text": question, "kind": "咨询", "category": category})
        else:
            skipped[str(row.get("dept", ""))] += 1
    return kept, skipped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "HOTLINE_TAIPEI.md")
    args = parser.parse_args()
    if not args.data.exists():
        raise SystemExit(f"{args.data} is missing (../shared/data is not on this machine)")
    questions, skipped = load(args.data)
    encoder = load_embedder("packaged:use-multilingual-v3")
    train = hc.load_examples(REPO / "data" / "hotline" / "labelled.jsonl")
    rows = []
    for features in ("ngrams", "encoder", "both"):
        model = hc.HotlineClassifier.train(train, encoder if features != "ngrams" else None, features)
        for script, texts in (("Traditional (as given)", [q["text"] for q in questions]),
                              ("Simplified", [to_simplified(q["text"]) for q in questions])):
            got = model.classify_many(texts)
            rows.append((features, script, hc.scores(questions, got), got))
    shipped = next(got for features, script, _, got in rows if features == "both" and script == "Simplified")
    by_cat = collections.Counter(q["category"] for q in questions)
    right = collections.Counter(q["category"] for q, p in zip(questions, shipped, strict=True)
                                if p.category == q["category"])
    pairs = list(zip(questions, shipped, strict=True))
    confused = collections.Counter((q["category"], p.category) for q, p in pairs
                                   if p.category != q["category"])
    kinds = collections.Counter(p.kind for p in shipped)
    lines = [
        "# Hotline classifier on another city's real questions (Taipei's open FAQ, issue 14)",
        "",
        f"- Date: {datetime.now(UTC).isoformat(timespec='minutes')}; machine: {platform.node()}, "
        f"Python {platform.python_version()}.",
        "- Command: `.venv/bin/python -m bench.hotline_taipei` (this file is its output; it needs "
        "`../shared/data/taipei-faq`).",
        f"- Data: {len(questions)} questions of Taipei City departments whose remit falls in one category "
        "(bench/hotline_taipei.py `DEPARTMENT_CATEGORY`); left out: "
        f"{sum(skipped.values())} questions of {len(skipped)} departments without one clear category "
        f"(largest: {', '.join(f'{d} {n}' for d, n in skipped.most_common(4))}).  By category: "
        + ", ".join(f"{c} {n}" for c, n in by_cat.most_common()) + ".",
        f"- Model: trained on our {len(train)} labelled messages only (`data/hotline/labelled.jsonl`), "
        "as shipped; nothing is tuned on Taipei.",
        "",
        "| features | text | kind accuracy (all are 咨询) | category accuracy | category macro-F1 |",
        "|---|---|---|---|---|",
    ]
    for features, script, s, _ in rows:
        lines.append(f"| {features} | {script} | {s['kind_accuracy']:.3f} | {s['category_accuracy']:.3f} | "
                     f"{s['category_macro_f1']:.3f} |")
    lines += [
        "",
        "Shipped model (both, Simplified), recall by category: "
        + ", ".join(f"{c} {right[c]}/{n}" for c, n in by_cat.most_common()) + ".  Most frequent confusions "
        "(department's category → predicted): "
        + ", ".join(f"{a} → {b} ×{n}" for (a, b), n in confused.most_common(8)) + ".  Kinds predicted: "
        + ", ".join(f"{k} {n}" for k, n in kinds.most_common()) + ".",
        "",
        "**What this shows and what it does not.** These are real citizens' questions from a city the "
        "model has never seen, in its own administrative vocabulary, so the category column is a fairer "
        "estimate than our held-out split.  They are FAQ questions, not transcribed calls: shorter, "
        "cleaner, all consultations, with no complaints or suggestions, so the kind column is no estimate "
        "of the three-way kind accuracy.  The label is the answering department's category, which is "
        "what a work order is routed by, but some departments answer questions of a neighbouring "
        "category (a tourism bureau's question about a bus pass).",
        "",
    ]
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
