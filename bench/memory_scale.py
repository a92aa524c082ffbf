"""Retrieval latency and memory use of the memory engine at 1k, 10k and 100k long-term items.

Run from the repository root::

    .venv/bin/python -m bench.memory_scale --out bench/results/memory_scale.json
    .venv/bin/python -m bench.memory_scale --quick   # 1k and 10k items, fewer queries

Items are real sentences (Multi-Session Chat validation utterances, cycled with an index
suffix past the unique ones) with their MiniLM vectors (past the unique texts, a cycled
vector with a little Gaussian noise, renormalised). Each size is written sealed into a
store (one transaction), then timed as a device would see it: unlock (the KDF at the
store's default parameters), load (decrypt every item into the engine's index), first
answer (the first query: embedding, BM25 build, search, rerank, validate), and then
p50/p95 of search + rerank + validate over the queries with the query vector given (the
encoder's own time is reported beside it). One process, onnxruntime on one thread.
``index_mib`` is the dense matrix plus the resident growth while building the index.
"""

from __future__ import annotations

import os

# One core, as the target says: BLAS threads fight over a shared 2-core machine and make
# a 15 MB matrix-vector product 5-20x slower. Must precede numpy's import.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.msc_persona import load_speakers
from bench.reporting import data_benchmark_main, table
from client.embedding import OnnxEmbedder, encoder_dir, export_encoder
from client.embedding.manifest import EncoderNotExportedError
from client.memory import MemoryItem
from client.memory_engine import EngineConfig, MemoryEngine
from client.profile import Profile
from models.data.locations import data_dir

DEFAULT_OUT = Path("bench/results/memory_scale.json")
PASSPHRASE = "benchmark passphrase"
TARGET_P95_MS_AT_10K = 10.0


def _embedder(cache: Path | None) -> OnnxEmbedder:
    directory = encoder_dir(cache)
    try:
        return OnnxEmbedder(directory, threads=1)
    except EncoderNotExportedError:
        export_encoder(directory)
        return OnnxEmbedder(directory, threads=1)


def corpus(root: Path, unique: int) -> list[str]:
    texts: list[str] = []
    for utterances, _ in load_speakers(root, (1, 2, 3, 4), None):
        texts.extend(utterances)
        if len(texts) >= unique:
            break
    return texts[:unique]


def items_of(
    texts: list[str], vectors: np.ndarray, size: int, rng: np.random.Generator
) -> list[MemoryItem]:
    items = []
    for i in range(size):
        vector = vectors[i % len(texts)]
        text = texts[i % len(texts)]
        if i >= len(texts):
            vector = vector + rng.normal(0.0, 0.02, vector.shape).astype(np.float32)
            vector = vector / np.linalg.norm(vector)
            text = f"{text} ({i // len(texts)})"
        items.append(MemoryItem(text=text, kind="turn", embedding=vector.astype(np.float32)))
    return items


def measure(
    folder: Path, size: int, items: list[MemoryItem], queries: list[str], embedder: OnnxEmbedder
) -> dict[str, Any]:
    path = folder / f"scale-{size}.fpstore"
    with Profile.create(path, PASSPHRASE) as profile:
        profile.memory.restore_items(items)
    started = time.perf_counter()
    profile = Profile.open(path, PASSPHRASE)
    unlocked = time.perf_counter()
    rss_before = _rss_mib()
    engine = MemoryEngine(profile, embedder, config=EngineConfig())
    loaded = time.perf_counter()
    engine.retrieve(queries[0])
    first = time.perf_counter()
    rss_after = _rss_mib()
    vectors = embedder.embed(queries)
    encode_ms = 1000 * (time.perf_counter() - first) / len(queries)
    latencies = [_timed_retrieval(engine, q, v) for q, v in zip(queries, vectors, strict=True)]
    profile.close()
    return {
        "items": size,
        "unlock_s": round(unlocked - started, 3),
        "load_s": round(loaded - unlocked, 3),
        "first_answer_s": round(first - started, 3),
        "latency_ms_p50": round(float(np.percentile(latencies, 50)), 2),
        "latency_ms_p95": round(float(np.percentile(latencies, 95)), 2),
        "query_encode_ms": round(encode_ms, 2),
        "index_mib": round(max(rss_after - rss_before, size * embedder.dimension * 4 / 2**20), 1),
        "queries": len(queries),
    }


def _timed_retrieval(engine: MemoryEngine, message: str, vector: np.ndarray) -> float:
    """search + rerank + validate for a given query vector, in ms (the encoder excluded)."""
    from client.memory_engine.retrieval import search
    from client.memory_engine.validator import validate

    started = time.perf_counter()
    found = engine.head.rerank(search(engine.index, message, vector, engine.config))
    validate(found, engine.index, floor=engine.config.relevance_floor, top_k=engine.config.top_k)
    return 1000 * (time.perf_counter() - started)


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def produce(args: argparse.Namespace, log: Callable[[str], None]) -> dict[str, Any]:
    sizes = (1_000, 10_000) if args.quick else (1_000, 10_000, 100_000)
    root = data_dir(args.data_dir)
    embedder = _embedder(args.cache_dir)
    texts = corpus(root, 2_000 if args.quick else 10_000)
    log(f"embedding {len(texts)} unique texts")
    vectors = embedder.embed(texts)
    rng = np.random.default_rng(0)
    queries = [t for t in corpus(root, 12_000)[-200:]][: 50 if args.quick else 200]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for size in sizes:
            log(f"{size} items")
            rows.append(
                measure(Path(folder), size, items_of(texts, vectors, size, rng), queries, embedder)
            )
    return {
        "benchmark": "memory_scale",
        "config": {
            "quick": args.quick,
            "sizes": list(sizes),
            "unique_texts": len(texts),
            "target_p95_ms_at_10k": TARGET_P95_MS_AT_10K,
            "threads": 1,
        },
        "rows": rows,
    }


def show(result: dict[str, Any]) -> None:
    header = [
        "items",
        "p50 ms",
        "p95 ms",
        "encode ms",
        "unlock s",
        "load s",
        "first answer s",
        "MiB",
    ]
    keys = [
        "latency_ms_p50",
        "latency_ms_p95",
        "query_encode_ms",
        "unlock_s",
        "load_s",
        "first_answer_s",
        "index_mib",
    ]
    print(
        "\n".join(
            table(header, [[str(r["items"]), *(str(r[k]) for k in keys)] for r in result["rows"]])
        )
    )


def main(argv: list[str] | None = None) -> int:
    return data_benchmark_main(
        description=__doc__.splitlines()[0],
        default_out=DEFAULT_OUT,
        produce=produce,
        show=show,
        argv=argv,
    )


if __name__ == "__main__":
    sys.exit(main())
