"""An approximate nearest-neighbour index over the memory index's rows (faiss IVF, 8-bit).

Used by :class:`~client.memory_engine.index.MemoryIndex` above a size threshold only; below
it dense search is an exact scan. Inverted file (Jegou, Douze and Schmid, "Product
quantization for nearest neighbor search", TPAMI 2011, section 4): k-means splits the unit
vectors into ``nlist = sqrt(n)`` cells, a query scans the ``nprobe`` cells whose centroids
are closest. Each vector is kept as 8-bit scalar-quantised codes (a quarter of float32);
the caller rescores what comes back with the exact float32 rows, so the scores it uses are
exact and only *which* rows are found is approximate.

The index lives in process memory; :meth:`AnnIndex.to_bytes` hands it out to be sealed
into the store (client.memory_engine.sealed_index; never written unsealed) and
:meth:`AnnIndex.from_bytes` takes it back at the next unlock instead of training it again.
Removing a row removes its codes from the index.
"""

from __future__ import annotations

import math

import faiss
import numpy as np
import numpy.typing as npt

Labels = npt.NDArray[np.int64]
# faiss' k-means guideline: at least 39 training points per centroid (it warns below).
TRAIN_POINTS_PER_CELL = 40
KMEANS_ITERATIONS = 10  # faiss' default is 25; 10 moves recall@10 by under a point here
PROBE_SHARE = 4  # scan a quarter of the cells: nprobe = ceil(nlist / 4); recall@10 0.975
# against 0.94 for an eighth on 11.8k MSC utterances (docs/benchmarks.md, Scale)


class AnnIndex:
    """IVF + 8-bit scalar quantiser over unit vectors, searched by inner product (cosine).

    Rows are added under integer labels the caller chooses (its row numbers at the time),
    and searches return labels.
    """

    def __init__(self, vectors: npt.NDArray[np.float32], rng: np.random.Generator) -> None:
        """Train on (a sample of) ``vectors`` (shape (n, d), n >= 1) and add them all,
        labelled 0..n-1."""
        count, dimension = vectors.shape
        if count == 0:
            raise ValueError("an approximate index needs at least one vector to train on")
        self.nlist = max(1, int(math.sqrt(count)))
        quantizer = faiss.IndexFlatIP(dimension)
        self._index = faiss.IndexIVFScalarQuantizer(
            quantizer,
            dimension,
            self.nlist,
            faiss.ScalarQuantizer.QT_8bit,
            faiss.METRIC_INNER_PRODUCT,
        )
        self._index.cp.niter = KMEANS_ITERATIONS
        self._index.cp.seed = int(rng.integers(2**31 - 1))
        self._index.cp.min_points_per_centroid = 1  # small test indexes train without noise
        sample = min(count, TRAIN_POINTS_PER_CELL * self.nlist)
        chosen = np.sort(rng.choice(count, size=sample, replace=False))
        self._index.train(np.ascontiguousarray(vectors[chosen], dtype=np.float32))
        self._index.nprobe = max(1, math.ceil(self.nlist / PROBE_SHARE))
        self.trained_size = count
        self.add(vectors, np.arange(count, dtype=np.int64))

    @classmethod
    def from_bytes(cls, data: bytes, trained_size: int) -> AnnIndex:
        """The index :meth:`to_bytes` wrote (``trained_size``: the rows it was trained on)."""
        index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        if not isinstance(index, faiss.IndexIVFScalarQuantizer):
            raise ValueError(f"expected a serialised IVF scalar-quantiser index, got {index!r}")
        ann = cls.__new__(cls)
        ann._index = index
        ann.nlist = int(index.nlist)
        index.nprobe = max(1, math.ceil(ann.nlist / PROBE_SHARE))
        ann.trained_size = trained_size
        return ann

    def to_bytes(self) -> bytes:
        """faiss' own serialisation of the index (centroids, codes and labels)."""
        return bytes(faiss.serialize_index(self._index))

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, vectors: npt.NDArray[np.float32], labels: Labels) -> None:
        self._index.add_with_ids(
            np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(labels, dtype=np.int64)
        )

    def remove(self, labels: Labels) -> None:
        # faiss' Python wrapper takes an id array here (its stubs list only IDSelector).
        self._index.remove_ids(np.asarray(labels, dtype=np.int64))  # type: ignore[arg-type]

    def search(self, query: npt.NDArray[np.float32], count: int) -> Labels:
        """Labels of up to ``count`` rows most similar to ``query`` (unordered, no -1)."""
        if count <= 0 or len(self) == 0:
            return np.zeros(0, dtype=np.int64)
        _, found = self._index.search(query.reshape(1, -1).astype(np.float32), count)
        labels: Labels = found[0][found[0] >= 0]
        return labels
