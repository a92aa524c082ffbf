"""Retrieval latency and memory use of the memory engine at 1k, 10k and 100k long-term items.

Run from the repository root::

    .venv/bin/python -m bench.memory_scale --out bench/results/memory_scale.json
    .venv/bin/python -m bench.memory_scale --quick   # 1k and 10k items, fewer queries

Items are real sentences (Multi-Session Chat validation utterances, cycled with an index
suffix past the unique ones) with their MiniLM vectors (past the unique texts, a cycled
vector with a little Gaussian noise, renormalised). Each size is written sealed into a
store (one transaction) and unlocked once, which reads every record and writes the sealed
snapshot (``load (records)``). Then, as a device sees it on the next unlock: unlock (the
KDF at the store's default parameters), load (the snapshot's chunks into the engine's
index), first answer (the first query: embedding, BM25 build, search, rerank, validate,
with the engine's default dense search: exact below ``ANN_THRESHOLD`` items). The engine
then seals its BM25 and approximate index into the store (``seal s``), and a second
unlock loads them instead of building them (``first answer (sealed) s``: unlock, load,
first answer; the ratio to the rebuild of the same run is reported). Then two
rows per size, dense search forced exact and forced through the approximate index: p50/p95
of search + rerank + validate over the queries with the query vector given (the encoder's
own time is reported beside it), the approximate index's build time, its recall@10 against
the exact scan's dense top 10 and the share of the exact run's kept memories it keeps.
One process, one BLAS, faiss and onnxruntime thread. ``index_mib`` is the dense matrix
plus the resident growth while loading and answering.
"""

from __future__ import annotations

import os

# One core, as the target says: BLAS threads fight over a shared 2-core machine and make
# a 15 MB matrix-vector product 5-20x slower. Must precede numpy's import.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")  # faiss' OpenMP too

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
from client.memory_engine.index import ANN_CANDIDATES, ANN_THRESHOLD, top_positions
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
) -> list[dict[str, Any]]:
    """Two rows for one size: dense search exact, and through the approximate index."""
    path = folder / f"scale-{size}.fpstore"
    with Profile.create(path, PASSPHRASE) as profile:
        profile.memory.restore_items(items)
    started = time.perf_counter()
    with Profile.open(path, PASSPHRASE) as profile:  # the first unlock writes the snapshot
        MemoryEngine(profile, embedder, config=EngineConfig())
    records_load = time.perf_counter() - started
    started = time.perf_counter()
    profile = Profile.open(path, PASSPHRASE)
    unlocked = time.perf_counter()
    rss_before = _rss_mib()
    engine = MemoryEngine(profile, embedder, config=EngineConfig())
    loaded = time.perf_counter()
    engine.retrieve(queries[0])  # the engine's default: exact below ANN_THRESHOLD
    first = time.perf_counter()
    rss_after = _rss_mib()
    engine.seal_search_index()
    seal_s = time.perf_counter() - first
    vectors = embedder.embed(queries)
    encode_ms = 1000 * (time.perf_counter() - first) / len(queries)
    common = {
        "items": size,
        "unlock_s": round(unlocked - started, 3),
        "load_s": round(loaded - unlocked, 3),
        "load_from_records_s": round(records_load, 3),
        "first_answer_s": round(first - started, 3),
        "seal_s": round(seal_s, 3),
        "engine_default": "ann" if engine.index.uses_ann() else "exact",
        "query_encode_ms": round(encode_ms, 2),
        "index_mib": round(max(rss_after - rss_before, size * embedder.dimension * 4 / 2**20), 1),
        "queries": len(queries),
    }
    exact = _mode_row(engine, queries, vectors, threshold=2**62)
    approximate = _mode_row(engine, queries, vectors, threshold=0)
    approximate["recall_at_10"] = _recall(engine, vectors, exact["tops"], 10)
    approximate["retrieval_agreement"] = _agreement(exact["kept"], approximate["kept"])
    profile.close()
    common |= _sealed_unlock(path, queries[0], embedder, first - started)
    rows = []
    for mode, row in (("exact", exact), ("ann", approximate)):
        row.pop("tops")
        row.pop("kept")
        rows.append({**common, "dense": mode, **row})
    return rows


def _sealed_unlock(
    path: Path, query: str, embedder: OnnxEmbedder, rebuilt_s: float
) -> dict[str, Any]:
    """Unlock to first answer once more, with the search index the engine sealed."""
    started = time.perf_counter()
    with Profile.open(path, PASSPHRASE) as profile:
        loaded_at = time.perf_counter()
        engine = MemoryEngine(profile, embedder, config=EngineConfig())
        loaded = time.perf_counter()
        engine.retrieve(query)
        first = time.perf_counter() - started
    return {
        "load_sealed_s": round(loaded - loaded_at, 3),
        "first_answer_sealed_s": round(first, 3),
        "first_answer_sealed_ratio": round(first / rebuilt_s, 3),
    }


def _mode_row(
    engine: MemoryEngine, queries: list[str], vectors: np.ndarray, *, threshold: int
) -> dict[str, Any]:
    """p50/p95 with dense search forced exact (huge threshold) or approximate (zero)."""
    engine.index.ann_threshold = threshold
    started = time.perf_counter()
    engine.index.dense_scores(vectors[0])  # builds the approximate index when forced
    build = time.perf_counter() - started
    timed = [_timed_retrieval(engine, q, v) for q, v in zip(queries, vectors, strict=True)]
    wall = [t for t, _, _ in timed]
    cpu = [c for _, c, _ in timed]
    return {
        "build_s": round(build, 3),
        "latency_ms_p50": round(float(np.percentile(wall, 50)), 2),
        "latency_ms_p95": round(float(np.percentile(wall, 95)), 2),
        "cpu_ms_p50": round(float(np.percentile(cpu, 50)), 2),
        "cpu_ms_p95": round(float(np.percentile(cpu, 95)), 2),
        "ann_mib": round(len(engine.index._ann) * (engine.index.dimension + 8) / 2**20, 2)
        if engine.index._ann is not None
        else 0.0,
        "tops": [top_positions(engine.index.dense_scores(v), 10) for v in vectors],
        "kept": [ids for _, _, ids in timed],
    }


def _recall(engine: MemoryEngine, vectors: np.ndarray, exact: list[list[int]], k: int) -> float:
    """Mean share of the exact dense top-k that the approximate index's top-k holds, in %."""
    found = [
        len(set(top_positions(engine.index.dense_scores(v), k)) & set(truth)) / k
        for v, truth in zip(vectors, exact, strict=True)
    ]
    return round(100 * float(np.mean(found)), 1)


def _agreement(exact: list[list[str]], approximate: list[list[str]]) -> float:
    """Mean share of the memories the engine kept with exact search that it keeps with ANN."""
    shares = [len(set(a) & set(e)) / len(e) for e, a in zip(exact, approximate, strict=True) if e]
    return round(100 * float(np.mean(shares)), 1) if shares else 100.0


def _timed_retrieval(
    engine: MemoryEngine, message: str, vector: np.ndarray
) -> tuple[float, float, list[str]]:
    """search + rerank + validate for a given query vector: wall ms and this process's CPU
    ms (the encoder excluded; CPU time is what a loaded shared machine disturbs least), ids."""
    from client.memory_engine.retrieval import search
    from client.memory_engine.validator import validate

    started, cpu = time.perf_counter(), time.process_time()
    found = search(engine.index, message, vector, engine.config)
    found = engine.head.rerank(found, depth=engine.config.rerank_depth)
    kept, _ = validate(
        found, engine.index, floor=engine.config.relevance_floor, top_k=engine.config.top_k
    )
    wall_ms = 1000 * (time.perf_counter() - started)
    return wall_ms, 1000 * (time.process_time() - cpu), [c.id for c in kept]


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
            rows.extend(
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
            "ann_threshold": ANN_THRESHOLD,
            "ann_candidates": ANN_CANDIDATES,
            "load_average": [round(load, 2) for load in os.getloadavg()],
        },
        "rows": rows,
    }


def show(result: dict[str, Any]) -> None:
    header = [
        "items",
        "dense",
        "p50 ms",
        "p95 ms",
        "CPU p50 ms",
        "CPU p95 ms",
        "recall@10 %",
        "agree %",
        "build s",
        "encode ms",
        "unlock s",
        "load s",
        "load (records) s",
        "first answer s",
        "seal s",
        "first answer (sealed) s",
        "MiB",
    ]
    keys = [
        "dense",
        "latency_ms_p50",
        "latency_ms_p95",
        "cpu_ms_p50",
        "cpu_ms_p95",
        "recall_at_10",
        "retrieval_agreement",
        "build_s",
        "query_encode_ms",
        "unlock_s",
        "load_s",
        "load_from_records_s",
        "first_answer_s",
        "seal_s",
        "first_answer_sealed_s",
        "index_mib",
    ]
    body = [[str(r["items"]), *(str(r.get(k, "-")) for k in keys)] for r in result["rows"]]
    print("\n".join(table(header, body)))


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
