"""Sentence embeddings for retrieval: one Protocol, an ONNX and a torch backend.

Importing this package imports neither torch nor sentence-transformers.
"""

from client.embedding.export import EncoderExportError, ExportResult, export_encoder
from client.embedding.factory import default_embedder
from client.embedding.manifest import (
    EncoderNotExportedError,
    Manifest,
    default_cache_dir,
    encoder_dir,
)
from client.embedding.onnx_embedder import OnnxEmbedder
from client.embedding.protocol import Embedder, Vectors
from client.embedding.sentence_transformer_embedder import SentenceTransformerEmbedder
from client.embedding.source import MODEL_NAME, EncoderError

__all__ = [
    "MODEL_NAME",
    "Embedder",
    "EncoderError",
    "EncoderExportError",
    "EncoderNotExportedError",
    "ExportResult",
    "Manifest",
    "OnnxEmbedder",
    "SentenceTransformerEmbedder",
    "Vectors",
    "default_cache_dir",
    "default_embedder",
    "encoder_dir",
    "export_encoder",
]
