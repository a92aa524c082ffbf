"""Export the head to ONNX for onnxruntime on the device (torch needed here only)."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import IO

import torch

from models.lexical_overlap import SHARED_WORDS_INPUT
from models.reranking_head import RerankingHead

INPUT_NAMES = ("context", "candidates", "persona", "persona_mask")
OUTPUT_NAME = "scores"
OPSET = 17


def export_head_onnx(model: RerankingHead, path: Path) -> Path:
    """Write ``model`` as one ONNX file with dynamic batch, candidate and fact axes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with staging.open("wb") as handle:
        _export(model, handle)
    os.replace(staging, path)
    return path


def head_onnx_bytes(model: RerankingHead) -> bytes:
    """``model`` as ONNX bytes, never written to a file (a person's head is kept sealed)."""
    buffer = io.BytesIO()
    _export(model, buffer)
    return buffer.getvalue()


def _export(model: RerankingHead, target: IO[bytes]) -> None:
    dim = model.config.embedding_dim
    example: tuple[torch.Tensor, ...] = (
        torch.zeros(1, dim),
        torch.zeros(1, 3, dim),
        torch.zeros(1, 2, dim),
        torch.ones(1, 2),
    )
    names = list(INPUT_NAMES)
    axes = {
        "context": {0: "batch"},
        "candidates": {0: "batch", 1: "candidates"},
        "persona": {0: "batch", 1: "facts"},
        "persona_mask": {0: "batch", 1: "facts"},
        OUTPUT_NAME: {0: "batch", 1: "candidates"},
    }
    if model.config.reply_overlap:  # the fifth input, only for a head that reads it
        example += (torch.ones(1, 3),)
        names.append(SHARED_WORDS_INPUT)
        axes[SHARED_WORDS_INPUT] = {0: "batch", 1: "candidates"}
    model.eval()
    with warnings.catch_warnings():
        # The TorchScript exporter (one small file, no external data) warns it is legacy.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            example,
            target,  # type: ignore[arg-type]  # the TorchScript exporter takes file objects too
            input_names=names,
            output_names=[OUTPUT_NAME],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
