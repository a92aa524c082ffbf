"""Where the exported encoder lives and the manifest that says what it is.

The manifest is written last, so its presence marks a complete export; it records
the model, shapes and sizes the runtime needs, and a SHA-256 per file so a damaged
or swapped file is caught before it produces wrong vectors.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from client.embedding.source import EncoderError

CACHE_ENV = "FEDPERSONA_CACHE_DIR"
MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1


class EncoderNotExportedError(EncoderError):
    """No complete, intact encoder export where one was expected."""


def default_cache_dir() -> Path:
    """``$FEDPERSONA_CACHE_DIR``, else ``$XDG_CACHE_HOME/fedpersona``, else ~/.cache/fedpersona."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    cache_home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache_home) / "fedpersona"


def encoder_dir(cache_dir: Path | None = None) -> Path:
    """Folder of the exported encoder inside a cache folder (the default one if None)."""
    return (cache_dir if cache_dir is not None else default_cache_dir()) / "encoder"


def export_hint(directory: Path) -> str:
    """The command that (re)creates the export in ``directory``."""
    out = "" if directory == encoder_dir() else f" --out {directory}"
    return f"run `fedpersona models export-encoder{out}`"


@dataclass(frozen=True)
class Manifest:
    """Self-description of one export (see the module docstring)."""

    model_name: str
    dimension: int
    max_length: int
    pooling: str
    normalized: bool
    exporter: str
    torch_version: str
    opset: int
    source_package: str
    source_version: str
    inputs: tuple[str, ...]
    output: str
    onnx_file: str
    tokenizer_file: str
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> sha256, bytes
    parity_min_cosine: float | None = None
    format_version: int = FORMAT_VERSION

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["inputs"] = list(self.inputs)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"unsupported manifest format {data.get('format_version')!r}")
        manifest = cls(**{**data, "inputs": tuple(data["inputs"])})
        if not {manifest.onnx_file, manifest.tokenizer_file} <= manifest.files.keys():
            raise ValueError("the manifest does not list the model and tokenizer files")
        return manifest


def file_digest(path: Path) -> dict[str, Any]:
    """SHA-256 and size of one file, as the manifest records them."""
    with path.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    return {"sha256": digest, "bytes": path.stat().st_size}


def write_manifest(directory: Path, manifest: Manifest) -> None:
    """Write the manifest and flush it to disk (it is the export's commit record)."""
    path = directory / MANIFEST_NAME
    with path.open("w", encoding="utf-8") as handle:
        json.dump(manifest.to_json(), handle, indent=2, sort_keys=True)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_manifest(directory: Path, *, check_hashes: bool = False) -> Manifest:
    """Load and check an export: files present with their recorded sizes (and hashes).

    Sizes are checked on every load (cheap, catches truncated copies); hashing the
    90 MB model costs about 0.1 s, so it is opt-in.

    Raises:
        EncoderNotExportedError: the folder, the manifest or a file is missing or damaged;
            the message says which command repairs it.
    """
    path = directory / MANIFEST_NAME
    if not path.is_file():
        raise EncoderNotExportedError(
            f"no exported encoder in {directory}: {export_hint(directory)}"
        )
    try:
        manifest = Manifest.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise EncoderNotExportedError(
            f"unreadable encoder manifest {path} ({error}): {export_hint(directory)}"
        ) from error
    for name, recorded in manifest.files.items():
        target = directory / name
        actual = file_digest(target) if check_hashes and target.is_file() else None
        size = target.stat().st_size if target.is_file() else None
        if size != recorded["bytes"] or (actual is not None and actual != recorded):
            raise EncoderNotExportedError(
                f"encoder file {target} is missing or damaged: {export_hint(directory)}"
            )
    return manifest
