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

``--pipeline`` scores the engine's own pipeline instead: config.yml's tokenizer and featurizers (the count
featurizers fitted on each training fold, the USE sentence vectors of nlu/use_featurizer.py) and
``LinearIntentClassifier``, run inside the engine's virtualenv, 5 stratified folds per seed, over a grid of
the dense block's scale and the classifier's C (the FallbackClassifier's thresholds applied as the engine
does, scored like ``rasa test nlu``: a message sent to ``nlu_fallback`` is a miss).  Minutes, not the
~8 of Rasa's own CV; use it to choose settings, and ``make bench-training`` to report them.

    .venv/bin/python -m bench.nlu_quick --pipeline --scales 0,1,2 --C 10,20
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from nlu.lemmas import lemma_tokens

SEEDS = (0, 1, 2)
FALLBACK = "nlu_fallback"


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


def pipeline_cv(folder: Path, scales: list[float], cs: list[float], seeds: list[int], simplify: bool,
                report: bool) -> list[dict[str, Any]]:
    """Inside the engine's virtualenv: 5-fold CV of config.yml's intent pipeline on the NLU files in
    ``folder/nlu`` (config in ``folder/config.yml``), one row per (scale, C); scale 0 = no dense block."""
    import numpy as np
    import yaml
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier
    from rasa.nlu.featurizers.featurizer import Featurizer
    from rasa.nlu.tokenizers.tokenizer import Tokenizer
    from rasa.shared.nlu.constants import INTENT
    from rasa.shared.nlu.training_data.loading import load_data
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData
    from scipy.sparse import csr_matrix, hstack, vstack
    from sklearn.base import clone
    from sklearn.metrics import classification_report, f1_score
    from sklearn.model_selection import StratifiedKFold

    from nlu.persisted import LinearIntentClassifier, _features
    from nlu.use_featurizer import UseSentenceFeaturizer

    config = yaml.safe_load((folder / "config.yml").read_text(encoding="utf-8"))
    data = load_data(str(folder / "nlu"))
    (folder / "storage").mkdir(exist_ok=True)
    storage = LocalModelStorage(folder / "storage")
    steps: list[tuple[Any, dict[str, Any]]] = []
    for i, entry in enumerate(config["pipeline"]):
        entry = dict(entry)
        cls = DefaultV1Recipe._from_registry(entry.pop("name")).clazz
        steps.append((cls, {**cls.get_default_config(), **entry, "__node": f"n{i}"}))

    def make(cls: Any, cfg: dict[str, Any], tag: str) -> Any:
        cfg = {k: v for k, v in cfg.items() if k != "__node"}
        node = f"{cls.__name__}_{tag}"
        return cls.create(cfg, storage, Resource(node), ExecutionContext(GraphSchema({}), node_name=node))

    examples = [m for m in data.intent_examples if m.get(INTENT) and m.get("text")]
    whole = TrainingData(training_examples=examples, regex_features=data.regex_features,
                         lookup_tables=data.lookup_tables, entity_synonyms=data.entity_synonyms)
    y = np.array([m.get(INTENT) for m in examples])
    use_config: dict[str, Any] | None = None
    classifier_config: dict[str, Any] = {}
    fallback = (0.0, 0.0)
    per_fold: list[tuple[Any, dict[str, Any]]] = []
    for cls, cfg in steps:
        if issubclass(cls, Tokenizer):
            make(cls, cfg, "all").process_training_data(whole)  # no fitting: tokens once, for every fold
        elif issubclass(cls, UseSentenceFeaturizer):
            use_config = cfg
        elif issubclass(cls, Featurizer):
            per_fold.append((cls, cfg))
        elif issubclass(cls, LinearIntentClassifier):
            classifier_config = cfg
        elif issubclass(cls, FallbackClassifier):
            fallback = (float(cfg["threshold"]), float(cfg["ambiguity_threshold"]))
    # the USE vectors (unit length) of every example, once; the grid scales them
    started = time.monotonic()
    use_cfg = {**(use_config or UseSentenceFeaturizer.get_default_config()), "scale": 1.0, "cache_size": 0,
               "simplify": simplify}
    use = make(UseSentenceFeaturizer, use_cfg, "all")
    fresh = [Message(data=dict(m.data)) for m in examples]
    use.process_training_data(TrainingData(training_examples=fresh))
    dense = np.vstack([m.get_dense_features("text")[1].features for m in fresh])
    print(f"USE vectors of {len(examples)} examples: {time.monotonic() - started:.1f} s", flush=True)
    lr_cfg = {k: v for k, v in classifier_config.items() if k != "__node"}
    template = LinearIntentClassifier(lr_cfg, "lr", storage, Resource("lr")).clf
    sublinear = bool(lr_cfg.get("sublinear_tf", False))

    folds = []
    for seed in seeds:
        for k, (train, test) in enumerate(StratifiedKFold(5, shuffle=True, random_state=seed).split(y, y)):
            tr = [Message(data=dict(examples[i].data)) for i in train]
            te = [Message(data=dict(examples[i].data)) for i in test]
            train_data = TrainingData(training_examples=tr, regex_features=data.regex_features,
                                      lookup_tables=data.lookup_tables, entity_synonyms=data.entity_synonyms)
            for cls, cfg in per_fold:
                component = make(cls, cfg, f"{seed}_{k}")
                if hasattr(component, "train"):
                    component.train(train_data)
                component.process_training_data(train_data)
                component.process(te)
            sparse = [vstack([_features(m, sublinear) for m in ms]).tocsr() for ms in (tr, te)]
            folds.append((seed, train, test, sparse))
    norms = np.concatenate([np.sqrt(x_tr.multiply(x_tr).sum(axis=1)).A1 for _, _, _, (x_tr, _) in folds[:1]])
    print(f"sparse rows: median L2 norm {np.median(norms):.2f} (a dense row's is its scale)", flush=True)
    rows = []
    for scale in scales:
        for c in cs:
            started = time.monotonic()
            predicted = {seed: np.empty(len(y), dtype=object) for seed in seeds}
            argmax = {seed: np.empty(len(y), dtype=object) for seed in seeds}
            iterations = 0
            for seed, train, test, (x_tr, x_te) in folds:
                if scale > 0:
                    x_tr = hstack([x_tr, csr_matrix(dense[train] * scale)]).tocsr()
                    x_te = hstack([x_te, csr_matrix(dense[test] * scale)]).tocsr()
                clf = clone(template).set_params(C=c).fit(x_tr, y[train])
                iterations = max(iterations, int(np.max(clf.n_iter_)))
                probs = clf.predict_proba(x_te)
                order = np.argsort(-probs, axis=1)
                top = probs[np.arange(len(test)), order[:, 0]]
                second = probs[np.arange(len(test)), order[:, 1]]
                best = clf.classes_[order[:, 0]]
                argmax[seed][test] = best
                unsure = (top < fallback[0]) | (top - second < fallback[1])
                predicted[seed][test] = np.where(unsure, FALLBACK, best)
            with_fallback = [f1_score(y, predicted[s].astype(str), average="macro") for s in seeds]
            plain = [f1_score(y, argmax[s].astype(str), average="macro") for s in seeds]
            rows.append({"scale": scale, "C": c, "macro_f1_rasa": round(float(np.mean(with_fallback)), 4),
                         "macro_f1_argmax": round(float(np.mean(plain)), 4),
                         "accuracy": round(float(np.mean([(predicted[s] == y).mean() for s in seeds])), 4),
                         "fallbacks": int(np.mean([(predicted[s] == FALLBACK).sum() for s in seeds])),
                         "lbfgs_iterations": f"{iterations}/{template.max_iter}",
                         "seconds": round(time.monotonic() - started, 1)})
            print(json.dumps(rows[-1]), flush=True)
            if report:
                print(classification_report(y, predicted[seeds[0]].astype(str), digits=3, zero_division=0))
                misses = Counter((a, b) for a, b in zip(y, predicted[seeds[0]], strict=True) if a != b)
                for (want, got), n in misses.most_common(12):
                    print(f"{n:4d}  {want} -> {got}")
    return rows


def run_pipeline_cv(args: argparse.Namespace) -> int:
    """Prepare the training data here (the archive needs this virtualenv), score it in the engine's."""
    from archive.demo import seed_demo
    from archive.store import Archive
    from civic.train import rasa_env
    from core.settings import REPO_ROOT, load_settings
    from nlu.generate import prepare_training

    with tempfile.TemporaryDirectory(prefix="civic-nlu-pipeline-") as tmp:
        work = Path(tmp)
        archive = Archive(work / "archive.db")
        seed_demo(archive)
        inputs = prepare_training(archive, REPO_ROOT, work / "gen")
        (work / "nlu").mkdir()
        for path in [*sorted((REPO_ROOT / "data" / "nlu").glob("*.yml")), inputs.data[-1]]:
            shutil.copy(path, work / "nlu" / path.name)
        shutil.copy(inputs.config, work / "config.yml")
        settings = load_settings(work / "home")
        python = Path(settings.rasa_bin).parent / "python"
        argv = [str(python), "-m", "bench.nlu_quick", "--child", str(work), "--scales", args.scales,
                "--C", args.C, "--seeds", args.seeds]
        argv += ["--typed-dense"] * args.typed_dense + ["--report"] * args.report
        return subprocess.run(argv, env=rasa_env(settings), cwd=REPO_ROOT, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--lemmas", choices=("engine", "typed"), default="engine",
        help="engine: Simplified with negation marks (nlu/lemmas.py); typed: jieba tokens as typed",
    )
    parser.add_argument("--curve", action="store_true", help="also train on ½ and ¾ of each training fold")
    parser.add_argument("--report", action="store_true", help="per-intent F1, top confusions")
    parser.add_argument("--pipeline", action="store_true",
                        help="the engine's own featurizers and classifier (config.yml), in its virtualenv")
    parser.add_argument("--scales", default="0,1", help="--pipeline: dense scales to try (0: no dense block)")
    parser.add_argument("--C", default="20", help="--pipeline: values of the classifier's C to try")
    parser.add_argument("--seeds", default="0", help="--pipeline: fold shuffles, e.g. 0,1,2")
    parser.add_argument("--typed-dense", action="store_true",
                        help="--pipeline: encode the text as typed, not its Simplified form")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        floats = [float(v) for v in args.scales.split(",")], [float(v) for v in args.C.split(",")]
        pipeline_cv(args.child, *floats, [int(v) for v in args.seeds.split(",")], not args.typed_dense,
                    args.report)
        return 0
    if args.pipeline:
        return run_pipeline_cv(args)
    from nlu.examples import demo_training_examples

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
