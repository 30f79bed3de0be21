"""A quick estimate of the intent cross-validation, for comparing training data and lemma choices in seconds.

``rasa test nlu --cross-validation`` (bench/NLU_REPORT.md) trains DIET five times and takes about an hour on
this machine.  This script scores the same examples (``data/nlu`` plus the examples generated from the demo
archive) with a linear SVM over the same kind of features — word uni/bigrams and character n-grams of the
jieba tokens — on 5 stratified folds, averaged over three shuffles.  Its macro-F1 tracked DIET's within about
0.01 (0.824 vs 0.818 on ``783a372``, tokens as typed; 0.863 vs 0.852 on ``ebd698f``, lemmas); use it to rank
changes, and the Rasa run to report them.

    .venv/bin/python -m bench.nlu_quick                 # lemmas as the engine uses them
    .venv/bin/python -m bench.nlu_quick --lemmas typed  # the tokens as typed (no conversion, no marks)
    .venv/bin/python -m bench.nlu_quick --curve         # plus a learning curve (½, ¾, all training folds)
    .venv/bin/python -m bench.nlu_quick --report        # plus per-intent scores and the top confusions
"""

from __future__ import annotations

import argparse
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from nlu.examples import demo_training_examples
from nlu.lemmas import lemma_tokens

SEEDS = (0, 1, 2)


def featurize(texts: list[str], dictionary: Path, lemmas: str) -> list[str]:
    """Each text as the space-joined tokens the featurizers would read."""
    import jieba

    jieba.setLogLevel(60)
    jieba.load_userdict(str(dictionary))
    if lemmas == "engine":  # what nlu.tokenizer.JiebaWords gives the engine's featurizers
        return [" ".join(lemma for _, _, lemma in lemma_tokens(text)) for text in texts]
    return [" ".join(w.lower() for w in jieba.lcut(text) if w.strip()) for text in texts]


def _model() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline, make_union
    from sklearn.svm import LinearSVC

    return make_pipeline(
        make_union(
            TfidfVectorizer(token_pattern=r"\S+", ngram_range=(1, 2)),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3)),
        ),
        LinearSVC(class_weight="balanced"),
    )


def cross_validate(x: list[str], y: list[str], fraction: float = 1.0) -> tuple[float, list[list[str]]]:
    """Mean macro-F1 over SEEDS of 5-fold predictions, training on ``fraction`` of each training fold."""
    import numpy as np
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedKFold

    xs, ys = np.array(x, dtype=object), np.array(y)
    scores, predictions = [], []
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        predicted = np.empty(len(ys), dtype=object)
        for train, test in StratifiedKFold(5, shuffle=True, random_state=seed).split(xs, ys):
            train = train[rng.random(len(train)) < fraction] if fraction < 1 else train
            predicted[test] = _model().fit(xs[train], ys[train]).predict(xs[test])
        scores.append(f1_score(ys, predicted.astype(str), average="macro"))
        predictions.append(list(predicted.astype(str)))
    return float(np.mean(scores)), predictions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--lemmas", choices=("engine", "typed"), default="engine",
        help="engine: Simplified with negation marks (nlu/lemmas.py); typed: jieba tokens as typed",
    )
    parser.add_argument("--curve", action="store_true", help="also train on ½ and ¾ of each training fold")
    parser.add_argument("--report", action="store_true", help="per-intent F1, top confusions")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="civic-nlu-quick-") as tmp:
        examples, dictionary = demo_training_examples(Path(tmp))
        x = featurize([t for _, t in examples], dictionary, args.lemmas)
    y = [i for i, _ in examples]
    print(f"{len(y)} examples, {len(set(y))} intents, lemmas={args.lemmas}")
    for fraction in (0.5, 0.75, 1.0) if args.curve else (1.0,):
        score, predictions = cross_validate(x, y, fraction)
        print(f"training fraction {fraction:.2f}: macro-F1 {score:.3f} (5 folds, {len(SEEDS)} shuffles)")
    if args.report:
        from sklearn.metrics import classification_report

        print(classification_report(y, predictions[0], digits=3))
        misses = Counter((a, b) for a, b in zip(y, predictions[0], strict=True) if a != b)
        for (want, got), n in misses.most_common(12):
            print(f"{n:4d}  {want} -> {got}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
