"""all-MiniLM-L6-v2 on onnxruntime: the device's encoder, without torch.

Imports and loads in about 0.3 s (sentence-transformers: about 4 s) and holds about
200 MB (torch: about 560 MB). It reproduces sentence-transformers: the same
tokenizer, truncation to the model's ``max_seq_length``, mean pooling over real
(unpadded) tokens, then L2 normalisation. Texts are sorted by length before
batching so each batch pads to a similar width.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from tokenizers import Encoding, Tokenizer

from client.embedding.manifest import read_manifest
from client.embedding.protocol import Vectors, as_text_list, empty_vectors

Int64Array = npt.NDArray[np.int64]


def mean_pool_normalise(hidden: npt.NDArray[np.float32], mask: Int64Array) -> Vectors:
    """Average token vectors over the mask, then scale rows to unit length.

    Args:
        hidden: ``(batch, seq, dim)`` last hidden states.
        mask: ``(batch, seq)`` attention mask, 1 for real tokens and 0 for padding.

    Returns:
        ``(batch, dim)`` float32 unit rows. The clamps (1e-9 on the token count,
        1e-12 on the norm) are those of sentence-transformers' Pooling and Normalize.
    """
    weights = mask[:, :, None].astype(np.float32)
    summed = (hidden * weights).sum(axis=1)
    pooled = summed / np.maximum(weights.sum(axis=1), 1e-9)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return np.ascontiguousarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)


class OnnxEmbedder:
    """:class:`~client.embedding.protocol.Embedder` backed by an exported ONNX file.

    Args:
        export_dir: folder written by ``fedpersona models export-encoder``.
        batch_size: texts per forward pass (32 keeps padding waste and memory low).
        threads: onnxruntime intra-op threads; None lets it use the physical cores.

    Raises:
        EncoderNotExportedError: the export is missing or damaged (the message says
            which command to run).
    """

    def __init__(self, export_dir: Path, *, batch_size: int = 32, threads: int | None = None):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.manifest = read_manifest(export_dir)
        self.export_dir = export_dir
        self.batch_size = batch_size
        self._tokenizer = Tokenizer.from_file(str(export_dir / self.manifest.tokenizer_file))
        self._tokenizer.no_padding()  # padding is done per batch, below
        self._tokenizer.enable_truncation(max_length=self.manifest.max_length)
        self._pad_id = self._tokenizer.token_to_id("[PAD]") or 0
        self._session = _open_session(export_dir / self.manifest.onnx_file, threads)
        self._input_names = [node.name for node in self._session.get_inputs()]

    @property
    def dimension(self) -> int:
        return self.manifest.dimension

    @property
    def name(self) -> str:
        return self.manifest.model_name

    def embed(self, texts: Sequence[str]) -> Vectors:
        items = as_text_list(texts)
        if not items:
            return empty_vectors(self.dimension)
        encodings = self._tokenizer.encode_batch(items)
        # Longest first, so each batch holds texts of similar length (less padding).
        order = np.argsort([-len(e.ids) for e in encodings], kind="stable")
        result = np.empty((len(items), self.dimension), dtype=np.float32)
        for start in range(0, len(items), self.batch_size):
            rows = order[start : start + self.batch_size]
            result[rows] = self._embed_batch([encodings[i] for i in rows])
        return result

    def batch_inputs(self, encodings: Sequence[Encoding]) -> dict[str, Int64Array]:
        """Right-padded int64 ``(batch, width)`` arrays, named as BERT's inputs."""
        width = max(len(e.ids) for e in encodings)
        arrays = {
            "input_ids": np.full((len(encodings), width), self._pad_id, dtype=np.int64),
            "attention_mask": np.zeros((len(encodings), width), dtype=np.int64),
            "token_type_ids": np.zeros((len(encodings), width), dtype=np.int64),
        }
        for row, encoding in enumerate(encodings):
            length = len(encoding.ids)
            arrays["input_ids"][row, :length] = encoding.ids
            arrays["attention_mask"][row, :length] = encoding.attention_mask
            arrays["token_type_ids"][row, :length] = encoding.type_ids
        return arrays

    def tokenize(self, texts: Sequence[str]) -> list[Encoding]:
        """Encodings exactly as :meth:`embed` sees them (truncated, not padded)."""
        return self._tokenizer.encode_batch(as_text_list(texts))

    def _embed_batch(self, encodings: Sequence[Encoding]) -> Vectors:
        arrays = self.batch_inputs(encodings)
        feeds = {name: arrays[name] for name in self._input_names}
        (hidden,) = self._session.run([self.manifest.output], feeds)
        return mean_pool_normalise(hidden, arrays["attention_mask"])


def _open_session(path: Path, threads: int | None) -> Any:
    """An onnxruntime CPU session; telemetry is off unless the caller decided otherwise."""
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")  # read when onnxruntime is imported
    import onnxruntime  # type: ignore[import-untyped]

    options = onnxruntime.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
    return onnxruntime.InferenceSession(
        str(path), sess_options=options, providers=["CPUExecutionProvider"]
    )
