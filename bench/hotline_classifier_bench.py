"""The hotline classifier on our held-out split: n-grams, the encoder, both (-> bench/HOTLINE_CLASSIFIER.md).

Trains on data/hotline/labelled.jsonl and scores data/hotline/heldout.jsonl (the fixed hash split of
app.hotline_classifier.is_held_out; never trained or tuned on).  The choice of C is made by 5-fold
cross-validation on the training split only, and printed.  Usage::

    .venv/bin/python -m bench.hotline_classifier_bench [--out bench/HOTLINE_CLASSIFIER.md]
"""

from __future__ import annotations

import argparse
import collections
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from app import hotline_classifier as hc
from retrieval.embedder import load_embedder

DATA = Path(__file__).resolve().parents[1] / "data" / "hotline"


def cross_validated(train: list[dict[str, str]], vectors: np.ndarray, features: str) -> dict[str, float]:
    folds = 5
    order = np.arange(len(train)) % folds
    kind = cat = 0.0
    for f in range(folds):
        tr = [i for i in range(len(train)) if order[i] != f]
        te = [i for i in range(len(train)) if order[i] == f]
        model = hc.HotlineClassifier.train([train[i] for i in tr], object(), features, vectors[tr]) \
            if features != "ngrams" else hc.HotlineClassifier.train([train[i] for i in tr], None, "ngrams")
        got = model.classify_many([train[i]["text"] for i in te], vectors[te])
        s = hc.scores([train[i] for i in te], got)
        kind += float(s["kind_accuracy"]) / folds
        cat += float(s["category_accuracy"]) / folds
    return {"kind": kind, "category": cat}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("bench/HOTLINE_CLASSIFIER.md"))
    args = parser.parse_args()
    train = hc.load_examples(DATA / "labelled.jsonl")
    test = hc.load_examples(DATA / "heldout.jsonl")
    encoder = load_embedder("packaged:use-multilingual-v3")
    t0 = time.perf_counter()
    train_vecs = encoder.encode([e["text"] for e in train])
    test_vecs = encoder.encode([e["text"] for e in test])
    encode_s = time.perf_counter() - t0
    shipped_c = hc.C
    cv: dict[float, dict[str, float]] = {}
    for c in (1.0, 10.0, 30.0):
        hc.C = c
        cv[c] = cross_validated(train, train_vecs, "both")
    hc.C = shipped_c  # the rows below are the shipped model's
    rows = []
    for features in ("ngrams", "encoder", "both"):
        t1 = time.perf_counter()
        vecs = train_vecs if features != "ngrams" else None
        model = hc.HotlineClassifier.train(train, encoder, features, vecs)
        train_s = time.perf_counter() - t1
        got = model.classify_many([e["text"] for e in test], test_vecs if features != "ngrams" else None)
        rows.append((features, hc.scores(test, got), hc.calibration(test, got), train_s))
    model = hc.HotlineClassifier.train(train, encoder, "both", train_vecs)
    both = model.classify_many([e["text"] for e in test], test_vecs)
    recall = {c: (sum(p.category == c for p, e in zip(both, test, strict=True) if e["category"] == c),
                  sum(e["category"] == c for e in test)) for c in hc.CATEGORIES}
    confused = collections.Counter((e["category"], p.category) for p, e in zip(both, test, strict=True)
                                   if p.category != e["category"])
    t2 = time.perf_counter()
    for e in test[:50]:
        model.classify(e["text"])
    per_call_ms = (time.perf_counter() - t2) / 50 * 1000
    kinds = collections.Counter(e["kind"] for e in train + test)
    cats = collections.Counter(e["category"] for e in train + test)
    lines = [
        "# Hotline classifier (issue 14 part 4): kind and category on our own held-out split",
        "",
        f"- Date: {datetime.now(UTC).isoformat(timespec='minutes')}; machine: {platform.node()}, "
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, shared 2 cores.",
        "- Command: `.venv/bin/python -m bench.hotline_classifier_bench` (this file is its output).",
        f"- Data: {len(train)} training examples (`data/hotline/labelled.jsonl`), {len(test)} held out "
        "(`data/hotline/heldout.jsonl`: the SHA-256 of the text ≡ 0 mod 5, never trained or tuned on). "
        f"Kinds: {', '.join(f'{k} {n}' for k, n in kinds.most_common())}. Categories: "
        f"{', '.join(f'{k} {n}' for k, n in cats.most_common())}.",
        "- Model: one multinomial logistic regression per field (class-balanced) over TF-IDF character "
        "1–3-grams (of the text normalised by `retrieval.normalize`: Traditional → Simplified, NFKC; "
        "n-grams of at least two examples), the USE-multilingual-v3 sentence vector (512-d), or both "
        "stacked (shipped when the app has the encoder); confidence = the probability of the chosen label, "
        "temperature-scaled on out-of-fold predictions of the training split.",
        "- Tried and left out (2026-12-01, on 2,356 training examples; held-out category / Taipei category, "
        "bench/HOTLINE_TAIPEI.md): jieba words beside the n-grams 0.825 / 0.407 against 0.802 / 0.443 "
        "without (better on our phrasing, worse on real questions); cosine similarities to short "
        "category descriptions through the encoder as extra features 0.797–0.800 on held-out (no gain, "
        "not taken to Taipei).",
        f"- C (inverse L2 penalty) = {shipped_c:g}, as shipped; 5-fold cross-validation on the training "
        "split only (both features): "
        + "; ".join(f"C={c:g}: kind {v['kind']:.3f}, category {v['category']:.3f}" for c, v in cv.items())
        + ".  These folds overstate accuracy (far above the held-out rows below): the composed examples "
        "wrap one core sentence several times and the folds split wrappings of one core (the held-out "
        "split never does, data/hotline/README.md), so they only rank C, and C hardly matters.  The solver "
        "is saga to tol 1e-3 (chosen for training time: lbfgs, the same objective, took 5x longer).",
        "",
        "| features | kind accuracy | kind macro-F1 | category accuracy | category macro-F1 | kind ECE "
        "(mean conf.) | category ECE (mean conf.) | training (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for features, s, cal, train_s in rows:
        lines.append(f"| {features} | {s['kind_accuracy']:.3f} | {s['kind_macro_f1']:.3f} | "
                     f"{s['category_accuracy']:.3f} | {s['category_macro_f1']:.3f} | {cal['kind_ece']:.3f} "
                     f"({cal['kind_mean_confidence']:.2f}) | {cal['category_ece']:.3f} "
                     f"({cal['category_mean_confidence']:.2f}) | {train_s:.2f} |")
    lines += [
        "",
        f"n = {len(test)} held-out examples: one example is {100 / len(test):.1f} points, so differences "
        "of a few points between rows are within noise.  ECE = expected calibration error of the confidence "
        "(10 bins; 0 is perfectly calibrated); a mean confidence below the accuracy is an under-confident "
        "model.",
        "Held-out category recall of the shipped model (both): "
        + ", ".join(f"{c} {r}/{n}" for c, (r, n) in recall.items()) + ".  Most frequent confusions "
        "(truth → predicted): " + ", ".join(f"{a} → {b} ×{n}" for (a, b), n in confused.most_common(6))
        + ".",
        "",
        f"Encoding all {len(train) + len(test)} texts took {encode_s:.1f} s; one classification with the "
        f"encoder (one text) {per_call_ms:.1f} ms; load average at the end {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} cores (training times scale with it).",
        "",
        "**What this does not show.** These are messages the team wrote and labelled, split from the "
        "same hands: the held-out part shares our phrasing, our idea of each category and our topics.  "
        "They cannot show the issue's target (kind ≥ 85 %, category ≥ 75 % on 11,529 real hotline "
        "messages of another city nobody here has seen); real calls are longer, noisier (ASR errors), "
        "with a different category mix (城建 most common) and boundaries drawn by that city's own "
        "practice.  Expect lower figures there; the agents' corrections (`civic hotline retrain`, and "
        "every start-up) are how the model meets the city's real calls.",
        "",
    ]
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
