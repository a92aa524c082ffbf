"""Export all-MiniLM-L6-v2 to ONNX for the device: atomically, checked, self-describing.

The export is built in a hidden sibling folder, checked against the torch model on
probe texts, and only then renamed into place, so a killed export never leaves a
folder that looks valid. torch and transformers are imported only while exporting.

The TorchScript exporter (``dynamo=False``) is used: it writes one self-contained
``model.onnx`` (90.4 MB) in about 2 s, where the dynamo exporter writes ``model.onnx``
plus a ``model.onnx.data`` of the same total size in about 5 s. Both match torch.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from client.embedding.manifest import (
    MANIFEST_NAME,
    EncoderNotExportedError,
    Manifest,
    encoder_dir,
    file_digest,
    read_manifest,
    write_manifest,
)
from client.embedding.source import (
    MODEL_NAME,
    SOURCE_PACKAGE,
    EncoderError,
    model_path,
    source_config,
    source_version,
)

OPSET = 17
ONNX_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT = "last_hidden_state"
PARITY_FLOOR = 0.999
# Very different lengths (empty, one word, past the 256-piece truncation) so the
# check covers padding, pooling over the mask and truncation.
PROBES = (
    "",
    "hi",
    "i love hiking with my two dogs on the weekend .",
    "what do you do for a living ? i am a nurse , i work nights at the hospital .",
    " ".join(["my favourite food is pizza, and i eat it every friday with my family."] * 25),
)


class EncoderExportError(EncoderError):
    """The export could not be written, or did not match the torch model."""


class ExportTargetError(EncoderExportError):
    """The target folder holds something other than an export; it is left alone."""


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_encoder` did."""

    directory: Path
    manifest: Manifest
    reused: bool  # a valid export was already there and was kept
    seconds: float


def export_encoder(out_dir: Path | None = None, *, force: bool = False) -> ExportResult:
    """Write ``model.onnx``, ``tokenizer.json`` and the manifest into ``out_dir``.

    Args:
        out_dir: target folder; None means the default cache (see ``encoder_dir``).
        force: export again even when an intact export is already there.

    Raises:
        ExportTargetError: the folder holds something else (it is left alone).
        EncoderExportError: the export failed or did not match torch (nothing is
            left behind).
    """
    started = time.perf_counter()
    target = (out_dir if out_dir is not None else encoder_dir()).expanduser().absolute()
    if not force:
        try:
            existing = read_manifest(target, check_hashes=True)
            return ExportResult(target, existing, True, time.perf_counter() - started)
        except EncoderNotExportedError:
            pass
    _check_replaceable(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        manifest = _export_into(staging)
        _publish(staging, target)
    except EncoderError:
        raise
    except Exception as error:  # torch or I/O: one clear error type for callers
        raise EncoderExportError(f"export to {target} failed: {error}") from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # already gone after a successful publish
    return ExportResult(target, manifest, False, time.perf_counter() - started)


def _check_replaceable(target: Path) -> None:
    """Replace only an empty folder or an earlier export, never someone's files."""
    if not target.exists():
        return
    if not target.is_dir():
        raise ExportTargetError(f"{target} exists and is not a folder")
    if (target / MANIFEST_NAME).is_file() or not any(target.iterdir()):
        return
    raise ExportTargetError(
        f"refusing to write into {target}: it is not empty and holds no encoder export"
    )


def _export_into(staging: Path) -> Manifest:
    """Export, copy the tokenizer, write the manifest, check parity, record it."""
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    source = model_path()
    config = source_config(source)
    model = AutoModel.from_pretrained(str(source)).eval()
    _write_onnx(model, staging / ONNX_FILE)
    shutil.copyfile(source / "tokenizer.json", staging / TOKENIZER_FILE)
    manifest = Manifest(
        model_name=MODEL_NAME,
        dimension=config.dimension,
        max_length=config.max_length,
        pooling="mean",
        normalized=True,
        exporter="torch.onnx.export (TorchScript, dynamo=False)",
        torch_version=str(torch.__version__),
        opset=OPSET,
        source_package=SOURCE_PACKAGE,
        source_version=source_version(),
        inputs=INPUTS,
        output=OUTPUT,
        onnx_file=ONNX_FILE,
        tokenizer_file=TOKENIZER_FILE,
        files={name: file_digest(staging / name) for name in (ONNX_FILE, TOKENIZER_FILE)},
    )
    write_manifest(staging, manifest)  # the ONNX embedder needs it for the check below
    cosine = _parity_min_cosine(model, staging)
    if cosine < PARITY_FLOOR:
        raise EncoderExportError(f"exported encoder differs from torch (cosine {cosine:.6f})")
    manifest = replace(manifest, parity_min_cosine=round(cosine, 6))
    write_manifest(staging, manifest)
    return manifest


def _write_onnx(model: Any, path: Path) -> None:
    """Trace ``model`` to ONNX with dynamic batch and sequence axes, int64 inputs."""
    import torch
    from torch.jit._trace import TracerWarning

    # Distinct tensors with some padding: the exporter must not see aliased inputs
    # (the dynamo exporter merged an ids tensor passed twice into one input) or an
    # all-ones mask that could be specialised away.
    input_ids = torch.tensor([[101, 7592, 2088, 102, 0, 0], [101, 2023, 2003, 1037, 3231, 102]])
    attention_mask = (input_ids != 0).to(torch.int64)
    token_type_ids = torch.zeros_like(input_ids)
    axes = {name: {0: "batch", 1: "sequence"} for name in (*INPUTS, OUTPUT)}
    with warnings.catch_warnings():
        # The legacy-exporter notice, and tracer notes on two shape checks in
        # transformers' masking that are constant for an encoder (no KV cache, no
        # causal mask); the parity check below is what vouches for the graph.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", TracerWarning)
        warnings.filterwarnings("ignore", message="Exporting aten::index")
        torch.onnx.export(
            # eval() on the wrapper too: the exporter restores the wrapper's mode
            # afterwards, and a new Module is in training mode (dropout on).
            _keyword_forward(model).eval(),
            (input_ids, attention_mask, token_type_ids),
            str(path),
            dynamo=False,
            opset_version=OPSET,
            input_names=list(INPUTS),
            output_names=[OUTPUT],
            dynamic_axes=axes,
        )


def _keyword_forward(model: Any) -> Any:
    """Wrap ``model`` so the exporter's positional call becomes keyword arguments.

    transformers 5 models fail to export when called positionally.
    """
    import torch

    class KeywordForward(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor,
        ) -> torch.Tensor:
            output = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            hidden: torch.Tensor = output.last_hidden_state  # (batch, seq, dim)
            return hidden

    return KeywordForward(model)


def _parity_min_cosine(model: Any, staging: Path) -> float:
    """Lowest cosine between the ONNX embedder and torch + the same pooling, on PROBES."""
    import torch

    from client.embedding.onnx_embedder import OnnxEmbedder, mean_pool_normalise

    embedder = OnnxEmbedder(staging)
    got = embedder.embed(PROBES)  # sorted and batched: padding differs from the reference
    arrays = embedder.batch_inputs(embedder.tokenize(PROBES))
    with torch.inference_mode():
        feeds = {name: torch.from_numpy(array) for name, array in arrays.items()}
        hidden = model(**feeds).last_hidden_state.numpy()
    want = mean_pool_normalise(hidden, arrays["attention_mask"])
    return float((got * want).sum(axis=1).min())


def _publish(staging: Path, target: Path) -> None:
    """Flush the staged files, then swap them into place with renames."""
    for path in [*staging.iterdir(), staging]:
        _fsync(path)
    old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
    if target.exists():
        os.rename(target, old)
    os.rename(staging, target)
    _fsync(target.parent)
    shutil.rmtree(old, ignore_errors=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
