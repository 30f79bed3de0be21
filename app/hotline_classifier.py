"""The hotline classifier: a call's ``kind`` (咨询 / 投诉求助 / 建言) and ``category`` (the city's taxonomy).

Features (:class:`HotlineClassifier`): TF-IDF character 1–3-grams (seen in at least two examples) of the
caller's (masked) words after ``retrieval.normalize.normalize`` (NFKC, Traditional → Simplified, lower case:
a Traditional or full-width message meets the same features) and, when
the app has an encoder that reads Chinese, the encoder's sentence vector (USE-multilingual-v3, 512-d, unit
length, times ``DENSE_SCALE``) stacked beside them; one multinomial logistic regression per field over the
stacked matrix (class-balanced).  Its probability of the chosen label, with a temperature per field
fitted on out-of-fold predictions of the training examples (:func:`_temperature`), is the ``confidence``
(bench/HOTLINE_CLASSIFIER.md measures how well it is calibrated).  The encoder is the app's one encoder —
the retriever's, loaded at its warm-up — never one of our own: with no encoder, or one that cannot read the
text (an English-only model, ``embedding_model = "none"``), the classifier runs on n-grams alone.

Training data: ``data/hotline/labelled.jsonl`` (the examples we wrote; ``data/hotline/heldout.jsonl`` is the
held-out split, chosen by a hash of the text — :func:`is_held_out` — and never trained or tuned on) plus
the agents' corrections (:func:`corrections`): a submitted work order whose kind or category the agent
changed from the classifier's draft is a labelled example, its text the masked caller transcript.

Loading (:func:`load_or_train`): the model is keyed by a hash of everything it is trained from (the
examples, the corrections, the features, the encoder's name, this module's ``MODEL_VERSION``).  A model
file ``<home>/hotline/classifier/model-<key>.pkl`` with that key is loaded (milliseconds); otherwise it is
trained (the encoder's vectors of the examples cached by content in ``vectors.db`` beside it, so a new
correction encodes one text) and written there.  A process keeps the models it built (:data:`_MEMO`), so
many app instances over the same data train once.  Nothing happens at import.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from core.errors import InvalidInput
from core.settings import HomePaths, Settings

log = logging.getLogger("civic.hotline")

KINDS = ("咨询", "投诉求助", "建言")
CATEGORIES = ("城建", "交通", "教育", "政务", "企业", "治安", "环保", "就业", "医疗", "三农", "文娱", "旅游",
              "金融", "其他")
FEATURES = ("ngrams", "encoder", "both")
MODEL_VERSION = 3  # 3: normalised text, n-grams of at least two examples
CALIBRATION_FOLDS = 3  # out-of-fold scores a temperature per field is fitted on (no held-out data)
MIN_CALIBRATION = 30  # fewer examples than this: no temperature (1.0)
DENSE_SCALE = 1.0  # the sentence vector's length beside the (unit-length) TF-IDF row
C = 10.0  # inverse L2 penalty of the logistic regressions (bench/HOTLINE_CLASSIFIER.md: by 5-fold CV)
CALIBRATION_TOL = 1e-2  # the out-of-fold fits behind the temperature only rank logits: a looser tolerance
MAX_UNKNOWN_SHARE = 0.2  # an encoder that maps more of the text than this to unknown is not used
HELD_OUT_SHARE = 5  # 1 in 5 texts (by hash) is held out
_MEMO_SIZE = 4


@dataclass(frozen=True)
class Classification:
    kind: str
    kind_confidence: float
    category: str
    category_confidence: float


class Classifier(Protocol):
    def classify(self, text: str) -> Classification: ...


def labelled_set(settings: Settings) -> Path:
    """The labelled set the app's classifier is trained from (``data/hotline/labelled.jsonl``)."""
    return settings.project_dir / "data" / "hotline" / "labelled.jsonl"


def load_examples(path: Path) -> list[dict[str, str]]:
    """Labelled lines ``{"text", "kind", "category"}``; a line with an unknown label is an error."""
    out: list[dict[str, str]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{path}:{number}: not JSON ({exc})") from exc
        if not isinstance(row, dict) or row.get("kind") not in KINDS \
                or row.get("category") not in CATEGORIES or not row.get("text"):
            raise InvalidInput(f"{path}:{number}: needs text, kind (one of {'/'.join(KINDS)}) and a category")
        out.append({"text": str(row["text"]), "kind": row["kind"], "category": row["category"]})
    return out


def is_held_out(text: str) -> bool:
    """The fixed split: a text is held out when the SHA-256 of its UTF-8 bytes is 0 modulo 5."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") % HELD_OUT_SHARE == 0


def readable(encoder: Any, texts: Sequence[str]) -> bool:
    """Whether ``encoder`` reads these texts (it maps at most ``MAX_UNKNOWN_SHARE`` of them to unknown)."""
    if encoder is None:
        return False
    sample = [t for t in texts[:200] if t.strip()]
    if not sample:
        return False
    share = sum(float(encoder.unknown_share(t)) for t in sample) / len(sample)
    return share <= MAX_UNKNOWN_SHARE


class HotlineClassifier:
    """Two logistic regressions (kind, category) over n-grams, the encoder's vector, or both."""

    def __init__(self, vectorizer: Any, kind_model: Any, category_model: Any, features: str,
                 encoder_name: str, n_examples: int) -> None:
        self._vectorizer, self._kind, self._category = vectorizer, kind_model, category_model
        self.temperatures = {"kind": 1.0, "category": 1.0}
        self.features, self.encoder_name, self.n_examples = features, encoder_name, n_examples
        self._encoder: Any = None

    # the encoder is not part of the pickled model: the app attaches its own
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_encoder"] = None
        return state

    def attach(self, encoder: Any) -> HotlineClassifier:
        needs = self.features != "ngrams"
        if needs and (encoder is None or getattr(encoder, "name", "") != self.encoder_name):
            raise InvalidInput(f"this classifier needs the encoder {self.encoder_name!r}")
        self._encoder = encoder
        return self

    @staticmethod
    def _vectorizer_new() -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer

        # min_df 2: an n-gram of one example only does not generalise, and dropping them halves the training
        # time on the ~2,400 examples.  jieba words beside them were tried (bench/HOTLINE_CLASSIFIER.md):
        # +2 points of category on our held-out split, -4 on Taipei's real questions: they learn our phrasing
        return TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2,
                               preprocessor=_normalized)

    @staticmethod
    def _model_new(tol: float = 1e-3) -> Any:
        from sklearn.linear_model import LogisticRegression

        # saga to a tolerance of 1e-3: the same objective as lbfgs; on the 654 examples here it trained both
        # heads over the stacked matrix in ~4 s where lbfgs took ~23 s (n-grams alone: 1 s against 12 s)
        return LogisticRegression(C=C, max_iter=3000, tol=tol, class_weight="balanced", solver="saga",
                                  random_state=0)

    def _matrix(self, texts: Sequence[str], vectors: np.ndarray | None, fit: bool = False) -> Any:
        from scipy import sparse

        blocks = []
        if self.features != "encoder":
            grams = self._vectorizer.fit_transform(texts) if fit else self._vectorizer.transform(texts)
            blocks.append(grams)
        if self.features != "ngrams":
            if vectors is None:
                vectors = self._encoder.encode(list(texts))
            blocks.append(sparse.csr_matrix(np.asarray(vectors, dtype=np.float64) * DENSE_SCALE))
        return sparse.hstack(blocks, format="csr")

    @classmethod
    def train(cls, examples: list[dict[str, str]], encoder: Any = None, features: str | None = None,
              vectors: np.ndarray | None = None) -> HotlineClassifier:
        """Train on ``examples``; ``features`` defaults to ``both`` when ``encoder`` reads them, else
        ``ngrams``.  ``vectors`` (the encoder's, one row per example) saves encoding them again."""
        if len({e["kind"] for e in examples}) < 2 or len({e["category"] for e in examples}) < 2:
            raise InvalidInput("the labelled set needs at least two kinds and two categories")
        texts = [e["text"] for e in examples]
        if features is None:
            features = "both" if readable(encoder, texts) else "ngrams"
        if features not in FEATURES:
            raise InvalidInput(f"features must be one of {', '.join(FEATURES)}")
        if features != "ngrams" and encoder is None:
            raise InvalidInput(f"features {features!r} need an encoder")
        model = cls(cls._vectorizer_new(), cls._model_new(), cls._model_new(), features,
                    getattr(encoder, "name", "") if features != "ngrams" else "", len(examples))
        model._encoder = encoder if features != "ngrams" else None
        if features != "ngrams" and vectors is None:
            vectors = encoder.encode(texts)
        matrix = model._matrix(texts, vectors, fit=True)
        for field, head in (("kind", model._kind), ("category", model._category)):
            labels = np.array([e[field] for e in examples])
            head.fit(matrix, labels)
            model.temperatures[field] = _temperature(lambda: cls._model_new(CALIBRATION_TOL), matrix, labels)
        return model

    @classmethod
    def from_file(cls, path: Path, encoder: Any = None) -> HotlineClassifier:
        return cls.train(load_examples(path), encoder)

    def classify_many(self, texts: Sequence[str], vectors: np.ndarray | None = None) -> list[Classification]:
        """One classification per text (encoded in one batch)."""
        if not texts:
            return []
        if self.features != "ngrams" and vectors is None and self._encoder is None:
            raise InvalidInput(f"this classifier needs the encoder {self.encoder_name!r}; attach() it")
        matrix = self._matrix(texts, vectors)
        kind_p = _softmax(_scores(self._kind, matrix) / self.temperatures["kind"])
        category_p = _softmax(_scores(self._category, matrix) / self.temperatures["category"])
        out = []
        for kp, cp in zip(kind_p, category_p, strict=True):
            k, c = int(kp.argmax()), int(cp.argmax())
            out.append(Classification(str(self._kind.classes_[k]), round(float(kp[k]), 4),
                                      str(self._category.classes_[c]), round(float(cp[c]), 4)))
        return out

    def classify(self, text: str) -> Classification:
        return self.classify_many([text])[0]


def _normalized(text: str) -> str:
    from retrieval.normalize import normalize

    return normalize(text)


def _scores(head: Any, matrix: Any) -> np.ndarray:
    """The logistic regression's logits, one column per class (a two-class head gives one column)."""
    z = np.asarray(head.decision_function(matrix), dtype=np.float64)
    return np.column_stack([np.zeros(len(z)), z]) if z.ndim == 1 else z


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def _temperature(new_head: Any, matrix: Any, labels: np.ndarray) -> float:
    """Temperature scaling: the T minimising the log-loss of softmax(logits / T) on out-of-fold logits of
    the training examples (CALIBRATION_FOLDS folds), so the confidence tracks how often the label is right.
    A class-balanced, L2-penalised model on a few hundred examples is under-confident without it."""
    if len(labels) < MIN_CALIBRATION:
        return 1.0
    from sklearn.model_selection import KFold

    true_logits: list[np.ndarray] = []
    for fit, held in KFold(CALIBRATION_FOLDS, shuffle=True, random_state=0).split(labels):
        if len(set(labels[fit])) < 2:
            continue
        head = new_head().fit(matrix[fit], labels[fit])
        z = _scores(head, matrix[held])
        index = {c: i for i, c in enumerate(head.classes_)}
        for row, label in zip(z, labels[held], strict=True):
            if label in index:  # a class the fold never saw cannot be scored
                true_logits.append(np.append(row, index[label]))
    if not true_logits:
        return 1.0
    rows = np.array(true_logits)
    z, truth = rows[:, :-1], rows[:, -1].astype(int)

    def loss(t: float) -> float:
        p = _softmax(z / t)[np.arange(len(truth)), truth]
        return float(-np.log(np.maximum(p, 1e-12)).mean())

    return float(min(np.geomspace(0.05, 5.0, 80), key=loss))


# -- evaluation ----------------------------------------------------------------------------------------------
def scores(examples: Sequence[dict[str, str]], predicted: Sequence[Classification]) -> dict[str, float | int]:
    """Accuracy and macro-F1 (over the labels that occur in truth or prediction) of kind and category."""
    from sklearn.metrics import accuracy_score, f1_score

    out: dict[str, float | int] = {"n": len(examples)}
    if not examples:
        raise InvalidInput("nothing to evaluate: no labelled lines")
    for field in ("kind", "category"):
        truth = [e[field] for e in examples]
        guess = [getattr(p, field) for p in predicted]
        out[f"{field}_accuracy"] = round(float(accuracy_score(truth, guess)), 4)
        out[f"{field}_macro_f1"] = round(float(f1_score(truth, guess, average="macro", zero_division=0)), 4)
    return out


def calibration(examples: Sequence[dict[str, str]], predicted: Sequence[Classification],
                bins: int = 10) -> dict[str, float]:
    """Expected calibration error of each field's confidence (|confidence − accuracy| weighted by bin)."""
    out = {}
    for field in ("kind", "category"):
        conf = np.array([getattr(p, f"{field}_confidence") for p in predicted])
        right = np.array([getattr(p, field) == e[field] for p, e in zip(predicted, examples, strict=True)])
        which = np.minimum((conf * bins).astype(int), bins - 1)
        ece = sum(abs(conf[which == b].mean() - right[which == b].mean()) * (which == b).sum()
                  for b in range(bins) if (which == b).any()) / max(1, len(conf))
        out[f"{field}_ece"] = round(float(ece), 4)
        out[f"{field}_mean_confidence"] = round(float(conf.mean()), 4) if len(conf) else 0.0
    return out


def held_out_accuracy(examples: list[dict[str, str]], test_share: float = 0.25,
                      seed: int = 0) -> dict[str, float]:
    """Train on a stratified (by kind) random split and report accuracy on the rest, n-grams only
    (bench/HOTLINE.md's figure; bench/HOTLINE_CLASSIFIER.md uses the fixed hash split instead)."""
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(examples, test_size=test_share, random_state=seed,
                                   stratify=[e["kind"] for e in examples])
    predicted = HotlineClassifier.train(train, features="ngrams").classify_many([e["text"] for e in test])
    result = scores(test, predicted)
    return {"n_train": len(train), "n_test": len(test), "kind_accuracy": float(result["kind_accuracy"]),
            "category_accuracy": float(result["category_accuracy"])}


# -- the agents' corrections ---------------------------------------------------------------------------------
def caller_text(order: Any) -> str:
    """The masked caller words of a stored order, joined as the draft joined them for the classifier."""
    return "。".join(str(t["text"]) for t in order.transcript if t.get("speaker") == "caller")


def corrections(orders: Any) -> list[dict[str, str]]:
    """Labelled examples from the agents: every submitted order (``app.workorder.Orders``) whose kind or
    category differs from what the classifier drafted, in submission order; its text is the masked caller
    transcript (the classifier's input at drafting).  Categories outside the default taxonomy are kept:
    they are the city's (its routing table's)."""
    out = []
    for order in orders.submitted_since(0.0):
        drafted = order.drafted or {}
        if not drafted or (order.kind == drafted.get("kind") and order.category == drafted.get("category")):
            continue
        text = caller_text(order)
        if text.strip() and order.kind in KINDS and order.category:
            out.append({"text": text, "kind": order.kind, "category": order.category})
    return out


def merge(examples: Iterable[dict[str, str]], extra: Iterable[dict[str, str]]) -> list[dict[str, str]]:
    """``examples`` then ``extra``; a text labelled twice keeps its last label (the agent's correction)."""
    merged: dict[str, dict[str, str]] = {}
    for e in [*examples, *extra]:
        merged.pop(e["text"], None)
        merged[e["text"]] = {"text": e["text"], "kind": e["kind"], "category": e["category"]}
    return list(merged.values())


# -- loading -------------------------------------------------------------------------------------------------
_MEMO: OrderedDict[str, HotlineClassifier] = OrderedDict()
_MEMO_LOCK = threading.Lock()


def model_key(examples: Sequence[dict[str, str]], features: str, encoder_name: str) -> str:
    digest = hashlib.sha256(json.dumps([MODEL_VERSION, features, encoder_name, DENSE_SCALE, C],
                                       ensure_ascii=False).encode())
    for e in examples:
        digest.update(json.dumps([e["text"], e["kind"], e["category"]], ensure_ascii=False).encode() + b"\n")
    return digest.hexdigest()[:24]


@dataclass
class Loaded:
    classifier: HotlineClassifier
    path: Path
    trained: bool  # False: loaded from the home's model file or the process's memo
    n_corrections: int


def load_or_train(paths: HomePaths, labelled: Path, encoder: Any = None,
                  extra: Sequence[dict[str, str]] = ()) -> Loaded:
    """The classifier of ``labelled`` plus ``extra`` (the agents' corrections): from this process's memo,
    from the home's model file of the same key, or trained now and written there (blocking: call it off the
    event loop)."""
    examples = merge(load_examples(labelled), extra)
    texts = [e["text"] for e in examples]
    features = "both" if readable(encoder, texts) else "ngrams"
    name = getattr(encoder, "name", "") if features != "ngrams" else ""
    key = model_key(examples, features, name)
    folder = paths.hotline_classifier
    path = folder / f"model-{key}.pkl"
    with _MEMO_LOCK:
        if key in _MEMO:
            _MEMO.move_to_end(key)
            memo = _MEMO[key]
            return Loaded(_copy_with(memo, encoder), path, False, len(extra))
    classifier: HotlineClassifier | None = None
    trained = False
    if path.exists():
        try:
            with path.open("rb") as fh:
                found = pickle.load(fh)  # our own file in the home, written below
            if isinstance(found, HotlineClassifier):
                classifier = found.attach(encoder if features != "ngrams" else None)
        except Exception as exc:  # another scikit-learn, a truncated file: train again
            log.warning("hotline classifier: cannot read %s (%s); training again", path, exc)
    if classifier is None:
        vectors = None
        if features != "ngrams":
            from retrieval.embed_cache import EmbeddingCache

            cache = EmbeddingCache(folder / "vectors.db", name, int(encoder.dim))
            try:
                vectors = cache.encode(encoder, texts, desc="hotline classifier")
            finally:
                cache.close()
        classifier = HotlineClassifier.train(examples, encoder, features, vectors)
        trained = True
        _save(classifier, path)
        log.info("hotline classifier trained on %d examples (%d corrections), features %s", len(examples),
                 len(extra), features)
    with _MEMO_LOCK:
        _MEMO[key] = classifier
        while len(_MEMO) > _MEMO_SIZE:
            _MEMO.popitem(last=False)
    return Loaded(classifier, path, trained, len(extra))


def _copy_with(model: HotlineClassifier, encoder: Any) -> HotlineClassifier:
    """The memo's model with this caller's encoder (the fitted parts are shared, read-only)."""
    copy = HotlineClassifier(model._vectorizer, model._kind, model._category, model.features,
                             model.encoder_name, model.n_examples)
    return copy.attach(encoder if model.features != "ngrams" else None)


def _save(model: HotlineClassifier, path: Path) -> None:
    """Written atomically; older model files in the folder are removed (the key names the current one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with tmp.open("wb") as fh:
        pickle.dump(model, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)
    for old in path.parent.glob("model-*.pkl"):
        if old != path:
            old.unlink(missing_ok=True)
