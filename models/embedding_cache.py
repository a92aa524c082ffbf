"""A disk cache of sentence embeddings for public data sets (never for a user's own texts).

Benchmarks embed the same tens of thousands of data-set sentences on every run; the cache
keys each vector by SHA-256 of (encoder name, text) and stores them in one ``.npz`` file of
two arrays, ``keys`` (n,) and ``vectors`` (n, d). Why two arrays: an ``.npz`` is a zip, and
one member per text made loading a simulation's 8,000 embeddings take about a second
(a zip member's header, a file open and an array header each); two members load at once.
A file in the older one-member-per-text layout is still read, and rewritten in the new one
when it is first loaded. Several processes may fill one cache (parallel benchmarks, test
workers): a save first takes in what another process saved since this one last read the
file, so that neither drops the other's vectors.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float32]
KEYS, VECTORS = "keys", "vectors"  # the two members of a cache file


class EmbeddingCache:
    def __init__(self, path: Path, encoder_name: str, embed: Callable[[list[str]], Array]) -> None:
        self.path = path
        self._encoder = encoder_name
        self._embed = embed
        self._vectors: dict[str, Array] = {}
        self._read_stamp: tuple[int, int] | None = None  # the file as this process last saw it
        if path.is_file():
            self._read_stamp = _stamp(path)
            self._vectors, older_layout = _load(path)
            if older_layout:
                self._save()  # once: later loads take the fast layout
        self.misses = 0

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self._encoder}\0{text}".encode()).hexdigest()

    def __call__(self, texts: Sequence[str]) -> Array:
        keys = [self._key(t) for t in texts]
        missing = sorted({t for t, k in zip(texts, keys, strict=True) if k not in self._vectors})
        if missing:
            self.misses += len(missing)
            for text, vector in zip(missing, self._embed(missing), strict=True):
                self._vectors[self._key(text)] = np.asarray(vector, np.float32)
            self._save()
        if not keys:
            return np.zeros((0, 0), np.float32)
        return np.stack([self._vectors[k] for k in keys])

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.is_file() and _stamp(self.path) != self._read_stamp:
            saved_elsewhere, _ = _load(self.path)  # another process saved since we read it
            self._vectors = {**saved_elsewhere, **self._vectors}
        staging = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp.npz")
        keys = np.array(list(self._vectors), dtype=np.str_)
        vectors = np.stack(list(self._vectors.values())).astype(np.float32)  # (n, d)
        np.savez(staging, keys=keys, vectors=vectors)  # KEYS, VECTORS
        os.replace(staging, self.path)
        self._read_stamp = _stamp(self.path)


def _stamp(path: Path) -> tuple[int, int]:
    status = path.stat()
    return status.st_mtime_ns, status.st_size


def _load(path: Path) -> tuple[dict[str, Array], bool]:
    """Key -> vector from a cache file, and whether it must be rewritten.

    Reads the two-array layout, the older one (one member per key), and a file holding
    both (an older version's save after it read a two-array file it did not know).
    """
    with np.load(path) as stored:
        names = set(stored.files)
        vectors: dict[str, Array] = {}
        if {KEYS, VECTORS} <= names:
            vectors.update(zip(stored[KEYS].tolist(), stored[VECTORS], strict=True))
        for name in sorted(names - {KEYS, VECTORS}):
            vectors[name] = stored[name]
        return vectors, names != {KEYS, VECTORS}
