"""Rasa's linear intent classifier and CRF entity extractor, stored so that loading a model takes a moment.

Rasa 3.6.21 dropped pickle from its model files, at a price paid at every start of the engine:

- ``LogisticRegressionClassifier`` stores the scikit-learn model with ``skops``, and importing ``skops.io``
  takes ~6.5 s here (its list of trusted types is built by scanning every loaded module);
- ``CRFEntityExtractor`` stores its *training data* and trains the CRF again while loading (~2 s).

These subclasses train exactly as Rasa's components do and only store differently, still without pickle:
the classifier as plain arrays (``np.savez``, loaded with ``allow_pickle=False``: the weights, the intercepts
and the intent names, which is all ``predict_proba`` reads), the CRF as the model file CRFsuite itself writes
(opened with ``Tagger.open_inmemory``).  Measured in bench/TRAINING.md.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.nlu.extractors.crf_entity_extractor import CRFEntityExtractor, CRFToken
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.utils.tensorflow.constants import RANKING_LENGTH
from scipy.sparse import csr_matrix, hstack, vstack

WEIGHTS = "weights.npz"
CRF_ORDER = "crf_order.json"


def _features(message: Message, sublinear: bool = False) -> Any:
    """The message's sentence features as one row: the sparse ones, then the dense ones (Rasa's order).
    ``sublinear``: counts as log(1 + count), so a word typed three times is not three times the evidence."""
    sparse = message.get_sparse_features(attribute=TEXT)[1]
    dense = message.get_dense_features(attribute=TEXT)[1]
    parts = []
    if sparse is not None:
        counts = sparse.features.tocsr().astype(np.float64)
        if sublinear:
            counts.data = np.log1p(counts.data)
        parts.append(counts)
    if dense is not None:
        parts.append(csr_matrix(dense.features))
    return parts[0] if len(parts) == 1 else hstack(parts).tocsr()


def _probabilities(scores: np.ndarray) -> np.ndarray:
    if scores.shape[0] == 1:  # two intents: scikit-learn's binary model, p(second) = σ(score)
        second = 1.0 / (1.0 + np.exp(-scores[0]))
        return np.array([1.0 - second, second])
    shifted = np.exp(scores - scores.max())
    return np.asarray(shifted / shifted.sum())


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class LinearIntentClassifier(LogisticRegressionClassifier):
    """``LogisticRegressionClassifier`` (class-balanced, lbfgs) stored as arrays.

    It also scores a message without scikit-learn's per-call checks and without stacking an empty dense
    block onto the sparse features: the same probabilities (softmax of ``X·Wᵀ + b``, as scikit-learn's
    multinomial model; the logistic function for two intents), at a fifth of the time per message
    (5.4 → ~1 ms, bench/TRAINING.md).
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # C: scikit-learn's inverse regularisation strength (Rasa leaves it at 1.0);
        # sublinear_tf: log-scaled counts (_features).  config.yml sets both, chosen by 5-fold CV
        return {**LogisticRegressionClassifier.get_default_config(), "C": 1.0, "sublinear_tf": False}

    def __init__(
        self, config: dict[str, Any], name: str, model_storage: ModelStorage, resource: Resource
    ) -> None:
        super().__init__(config, name, model_storage, resource)
        self.clf.set_params(C=float(self.config["C"]))

    def _create_X(self, messages: list[Message]) -> Any:
        """Training rows, built exactly as ``process`` builds the row of one message."""
        return vstack([_features(m, self.config["sublinear_tf"]) for m in messages]).tocsr()

    def process(self, messages: list[Message]) -> list[Message]:
        coef, intercept = self.clf.coef_, self.clf.intercept_
        classes = [str(c) for c in self.clf.classes_]
        for message in messages:
            scores = _features(message, self.config["sublinear_tf"]) @ coef.T + intercept
            probs = _probabilities(np.asarray(scores).ravel())
            order = np.argsort(-probs, kind="stable")
            ranking = [{"name": classes[i], "confidence": float(probs[i])} for i in order]
            message.set(INTENT, ranking[0], add_to_output=True)
            if self.config[RANKING_LENGTH] > 0:
                ranking = ranking[: self.config[RANKING_LENGTH]]
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as model_dir:
            np.savez(Path(model_dir) / WEIGHTS, coef=self.clf.coef_, intercept=self.clf.intercept_,
                     classes=np.array([str(c) for c in self.clf.classes_]))

    @classmethod
    def load(
        cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
        execution_context: ExecutionContext, **kwargs: Any,
    ) -> LinearIntentClassifier:
        component = cls(config, execution_context.node_name, model_storage, resource)
        try:
            with model_storage.read_from(resource) as model_dir, \
                    np.load(Path(model_dir) / WEIGHTS, allow_pickle=False) as data:
                component.clf.coef_ = data["coef"]
                component.clf.intercept_ = data["intercept"]
                component.clf.classes_ = data["classes"].astype(object)
        except (ValueError, OSError):  # not trained (no intents): predicts nothing, like Rasa's own
            return cls(config, execution_context.node_name, model_storage, resource)
        component.clf.n_features_in_ = component.clf.coef_.shape[1]
        return component


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True)
class StoredCRFEntityExtractor(CRFEntityExtractor):
    """``CRFEntityExtractor`` whose trained CRFs are stored as CRFsuite model files, not retrained on load."""

    def persist(self, dataset: list[list[CRFToken]]) -> None:
        with self._model_storage.write_to(self._resource) as model_dir:
            (Path(model_dir) / CRF_ORDER).write_text(json.dumps(self.crf_order), encoding="utf-8")
            for tag_name, crf in (self.entity_taggers or {}).items():
                model_file = crf.modelfile.name
                (Path(model_dir) / f"{tag_name}.crfsuite").write_bytes(Path(model_file).read_bytes())

    @classmethod
    def load(
        cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
        execution_context: ExecutionContext, **kwargs: Any,
    ) -> StoredCRFEntityExtractor:
        import pycrfsuite
        import sklearn_crfsuite

        config = {**cls.get_default_config(), **config}
        try:
            with model_storage.read_from(resource) as model_dir:
                order = json.loads((Path(model_dir) / CRF_ORDER).read_text(encoding="utf-8"))
                taggers: OrderedDict[str, Any] = OrderedDict()
                for tag_name in order:
                    data = (Path(model_dir) / f"{tag_name}.crfsuite").read_bytes()
                    tagger = pycrfsuite.Tagger()
                    tagger.open_inmemory(data)  # CRFsuite reads the model from this buffer, not a copy:
                    crf = sklearn_crfsuite.CRF()
                    crf.model_bytes = data  # so it lives as long as the tagger
                    crf._tagger = tagger  # what sklearn_crfsuite opens lazily from its model file
                    taggers[tag_name] = crf
        except (ValueError, OSError):  # not trained (no entities)
            return cls(config, model_storage, resource)
        extractor = cls(config, model_storage, resource, taggers)
        extractor.crf_order = order
        return extractor
