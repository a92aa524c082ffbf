"""Sentence encoder: ONNX reproduces sentence-transformers, both keep the Embedder
contract, the device path never imports torch, and the export is atomic and checked.

The encoder is exported once per session into a temporary cache folder.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

from client.embedding import (
    MODEL_NAME,
    Embedder,
    EncoderExportError,
    EncoderNotExportedError,
    OnnxEmbedder,
    SentenceTransformerEmbedder,
    default_cache_dir,
    default_embedder,
    encoder_dir,
    export_encoder,
)
from client.embedding import export as export_module
from client.embedding import factory as factory_module
from client.embedding.export import ExportTargetError
from client.embedding.manifest import MANIFEST_NAME, Manifest, read_manifest
from client.embedding.source import source_config, source_version
from models.data.locations import PERSONACHAT_VALID, data_dir, require
from models.data.personachat import load_personachat
from tests.conftest import REPO_ROOT, run_cli

OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "ORT_DISABLE_TELEMETRY": "1"}


# --- factories ---------------------------------------------------------------------------


def persona_chat_utterances(limit: int) -> list[str]:
    """Dialogue turns from PersonaChat (partner utterances and replies, in file order)."""
    dialogues = load_personachat(require(data_dir(), PERSONACHAT_VALID), limit=limit)
    turns = [t for d in dialogues for e in d.exchanges for t in (e.context, e.response)]
    return turns[:limit]


@functools.cache
def untruncated_tokenizer(export: Path) -> Tokenizer:
    tokenizer = Tokenizer.from_file(str(export / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def word_pieces(export: Path, text: str) -> int:
    """Token count before truncation (special tokens included)."""
    return len(untruncated_tokenizer(export).encode(text).ids)


def concatenated(utterances: list[str], export: Path, *, more_than: int) -> str:
    """Join utterances (cycling) until the text is longer than ``more_than`` word pieces."""
    text, index = "", 0
    while word_pieces(export, text) <= more_than:
        text = f"{text} {utterances[index % len(utterances)]}".strip()
        index += 1
    return text


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1))


# --- fixtures (the exported encoder itself is shared: tests/conftest.py) ---------------


@pytest.fixture(scope="session")
def torch_embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()


@pytest.fixture(params=["onnx", "sentence-transformers"])
def embedder(request: pytest.FixtureRequest) -> Embedder:
    name = "onnx_embedder" if request.param == "onnx" else "torch_embedder"
    backend: Embedder = request.getfixturevalue(name)
    return backend


# --- ONNX reproduces sentence-transformers -----------------------------------------------


def test_onnx_matches_sentence_transformers_on_persona_chat_utterances(
    onnx_embedder: OnnxEmbedder, torch_embedder: SentenceTransformerEmbedder, export: Path
) -> None:
    utterances = persona_chat_utterances(50)
    long_texts = [
        concatenated(utterances[:10], export, more_than=128),
        concatenated(utterances[10:30], export, more_than=200),
        concatenated(utterances[30:], export, more_than=300),  # past the 256 truncation
    ]
    texts = utterances + long_texts

    got, want = onnx_embedder.embed(texts), torch_embedder.embed(texts)

    assert len(utterances) == 50
    assert word_pieces(export, long_texts[-1]) > 256
    assert cosines(got, want).min() >= 0.999


def test_onnx_matches_sentence_transformers_in_one_batch_of_very_different_lengths(
    onnx_embedder: OnnxEmbedder, torch_embedder: SentenceTransformerEmbedder
) -> None:
    texts = [
        "",
        "ok",
        "i have two dogs and a cat .",
        "what do you do for fun ? i restore vintage cars with my dad on weekends . " * 3,
        " ".join(["i love country music and i sing in a band every friday night ."] * 30),
    ]

    got, want = onnx_embedder.embed(texts), torch_embedder.embed(texts)

    assert cosines(got, want).min() >= 0.999


def test_onnx_vectors_do_not_depend_on_batch_size_or_padding(export: Path) -> None:
    texts = ["hi", "my favourite band plays country music", "a " * 400, "i work nights ."]
    batched = OnnxEmbedder(export, batch_size=32).embed(texts)

    one_at_a_time = OnnxEmbedder(export, batch_size=1).embed(texts)

    np.testing.assert_allclose(batched, one_at_a_time, atol=1e-5)


# --- the Embedder contract, for both backends -------------------------------------------


def test_embeddings_are_float32_unit_rows_in_input_order(embedder: Embedder) -> None:
    texts = ["i have two dogs .", "the weather is cold today", "i am a nurse"]

    vectors = embedder.embed(texts)

    assert isinstance(embedder, Embedder)
    assert (embedder.name, embedder.dimension) == (MODEL_NAME, 384)
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    assert vectors.flags.c_contiguous
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vectors[1], embedder.embed([texts[1]])[0], atol=1e-5)


def test_higher_dot_product_means_more_similar(embedder: Embedder) -> None:
    query, related, unrelated = embedder.embed(
        ["i have two dogs", "my pets are a pair of puppies", "the central bank raised rates"]
    )

    assert float(query @ related) > float(query @ unrelated)


def test_empty_input_gives_zero_rows(embedder: Embedder) -> None:
    vectors = embedder.embed([])

    assert vectors.shape == (0, 384)
    assert vectors.dtype == np.float32


def test_a_bare_string_is_refused_rather_than_embedded_letter_by_letter(
    embedder: Embedder,
) -> None:
    with pytest.raises(TypeError, match="single string"):
        embedder.embed("hello")


# --- the device path never needs torch ---------------------------------------------------


def test_onnx_embedder_never_imports_torch(encoder_cache: Path) -> None:
    script = f"""
import sys
from pathlib import Path
import client.embedding, cli.main
assert "torch" not in sys.modules, "importing the package imported torch"
from client.embedding import default_embedder
vectors = default_embedder(Path({str(encoder_cache)!r})).embed(["hello there", "i have two dogs"])
assert vectors.shape == (2, 384), vectors.shape
heavy = [m for m in ("torch", "transformers", "sentence_transformers") if m in sys.modules]
assert not heavy, heavy
print("ok")
"""
    env = {**os.environ, **OFFLINE_ENV, "PYTHONPATH": str(REPO_ROOT)}

    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


# --- export: missing, damaged, atomic, self-describing -----------------------------------


def test_missing_export_raises_an_error_naming_the_export_command(tmp_path: Path) -> None:
    with pytest.raises(EncoderNotExportedError, match="fedpersona models export-encoder"):
        OnnxEmbedder(tmp_path / "encoder")
    with pytest.raises(EncoderNotExportedError, match="fedpersona models export-encoder"):
        default_embedder(tmp_path)


def test_folder_without_manifest_is_not_taken_for_an_export(tmp_path: Path) -> None:
    (tmp_path / "encoder").mkdir()
    (tmp_path / "encoder" / "model.onnx").write_bytes(b"half an onnx file")

    with pytest.raises(EncoderNotExportedError, match="no exported encoder"):
        OnnxEmbedder(tmp_path / "encoder")


def test_truncated_or_altered_model_file_is_detected(export: Path, tmp_path: Path) -> None:
    copy = tmp_path / "encoder"
    shutil.copytree(export, copy)
    model = copy / "model.onnx"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))

    read_manifest(copy)  # same size: the cheap check passes
    with pytest.raises(EncoderNotExportedError, match="damaged"):
        read_manifest(copy, check_hashes=True)
    model.write_bytes(bytes(data[:1000]))
    with pytest.raises(EncoderNotExportedError, match="damaged"):
        OnnxEmbedder(copy)


def test_export_manifest_describes_a_single_file_int64_dynamic_model(export: Path) -> None:
    import onnxruntime  # type: ignore[import-untyped]

    manifest = read_manifest(export, check_hashes=True)
    session = onnxruntime.InferenceSession(str(export / manifest.onnx_file))

    config = source_config()
    assert (manifest.dimension, manifest.max_length) == (config.dimension, config.max_length)
    assert (manifest.max_length, manifest.opset) == (256, 17)
    assert manifest.source_version == source_version()
    assert manifest.parity_min_cosine is not None
    assert manifest.parity_min_cosine >= 0.999
    assert sorted(p.name for p in export.iterdir()) == sorted([MANIFEST_NAME, *manifest.files])
    assert [(i.name, i.type) for i in session.get_inputs()] == [
        (name, "tensor(int64)") for name in manifest.inputs
    ]
    assert all(isinstance(dim, str) for i in session.get_inputs() for dim in i.shape)


def test_failed_export_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def half_written(staging: Path) -> Manifest:
        (staging / "model.onnx").write_bytes(b"partial")
        raise RuntimeError("killed mid-export")

    monkeypatch.setattr(export_module, "_export_into", half_written)

    with pytest.raises(EncoderExportError, match="killed mid-export"):
        export_encoder(tmp_path / "encoder")
    assert list(tmp_path.iterdir()) == []


def test_intact_export_is_kept_and_force_replaces_it(
    export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "encoder"
    shutil.copytree(export, target)

    kept = export_encoder(target)

    def fake_export(staging: Path) -> Manifest:
        (staging / "marker").write_text("new export")
        return kept.manifest

    monkeypatch.setattr(export_module, "_export_into", fake_export)
    forced = export_encoder(target, force=True)

    assert kept.reused
    assert not forced.reused
    assert sorted(p.name for p in target.iterdir()) == ["marker"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["encoder"]


def test_export_refuses_a_folder_that_is_not_an_export(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")

    with pytest.raises(ExportTargetError, match="refusing"):
        export_encoder(tmp_path, force=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_default_embedder_exports_when_asked(
    export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exported: list[Path] = []

    def copy_export(target: Path) -> None:
        exported.append(target)
        shutil.copytree(export, target)

    monkeypatch.setattr(factory_module, "export_encoder", copy_export)

    embedder = default_embedder(tmp_path, export_if_missing=True)

    assert exported == [tmp_path / "encoder"]
    assert isinstance(embedder, OnnxEmbedder)
    assert embedder.embed(["hello"]).shape == (1, 384)


def test_default_cache_dir_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FEDPERSONA_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    home_default = default_cache_dir()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    xdg_default = default_cache_dir()
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(tmp_path / "fp"))

    assert home_default == tmp_path / "home" / ".cache" / "fedpersona"
    assert xdg_default == tmp_path / "xdg" / "fedpersona"
    assert encoder_dir() == tmp_path / "fp" / "encoder"


# --- the command ------------------------------------------------------------------------


@pytest.mark.slow
def test_cli_export_encoder_writes_a_verified_export(tmp_path: Path) -> None:
    out = tmp_path / "encoder"

    first = run_cli("models", "export-encoder", "--out", str(out), env=OFFLINE_ENV)
    again = run_cli("models", "export-encoder", "--out", str(out), env=OFFLINE_ENV)

    assert first.returncode == 0, first.stderr
    assert "exported" in first.stdout
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert (manifest["model_name"], manifest["dimension"]) == (MODEL_NAME, 384)
    read_manifest(out, check_hashes=True)
    assert again.returncode == 0, again.stderr
    assert "already holds an intact export" in again.stdout


def test_cli_export_encoder_refuses_a_foreign_folder_with_exit_code_2(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")

    result = run_cli("models", "export-encoder", "--out", str(tmp_path), env=OFFLINE_ENV)

    assert result.returncode == 2
    assert result.stderr.startswith("fedpersona: refusing")
    assert (tmp_path / "notes.txt").read_text() == "mine"
