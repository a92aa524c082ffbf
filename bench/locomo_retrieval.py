"""Evidence recall on LoCoMo: what each retrieval stage of the memory engine adds.

Run from the repository root::

    .venv/bin/python -m bench.locomo_retrieval --out bench/results/locomo_retrieval.json
    .venv/bin/python -m bench.locomo_retrieval --quick   # one conversation, 8 sessions

Each conversation of ``locomo/locomo10-dev.json`` is ingested session by session through
the engine into its own encrypted store (bench.locomo_data). Then, for every question of
categories 1-4, each row ranks the stored items, maps them to the dialogue turns they came
from (distinct, in rank order) and scores recall@5/10/25 of the question's ``evidence``
ids: the share of evidence turns among the first k, averaged over questions (the LoCoMo
paper's retrieval metric). Rows: ``dense`` (MiniLM cosine), ``lexical`` (BM25, bm25s),
``fused`` (reciprocal rank fusion), ``fused+links``, ``fused+rerank`` (the engine's
feature head at its prior), and ``engine`` (every stage: fusion, speaker and links, the
head, the validator). ``tokens_per_query``: the memory section assembled from the first
10 memories; ``history_tokens``: the whole conversation, which a full-context prompt
would carry. Latency: embedding the question plus the row's stages, one process.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.locomo_data import Conversation, dia_ids_of, ingest, load_conversations
from bench.reporting import run_and_report, table
from client.embedding import default_embedder, encoder_dir
from client.memory_engine import EngineConfig, MemoryEngine, Stages
from client.memory_engine.retrieval import search
from client.profile import Profile, ProfileSettings
from models.data.locations import data_dir
from privacy.kdf import MIN_ITERATIONS, MIN_MEMORY_KIB, KdfParams

DEFAULT_OUT = Path("bench/results/locomo_retrieval.json")
KS = (5, 10, 25)
PROMPT_MEMORIES = 10
# Enough candidates that every row can fill recall@25 with distinct turns.
CONFIG = EngineConfig(candidates=100, top_k=60)
ANCHORS = (
    ("DRAGON, dialog turns (LoCoMo paper, Table 3)", (56.7, 66.2, 76.7)),
    ("MiniLM dense over turns (issue 15)", (40.0, 49.0, 63.0)),
    ("MiniLM dense, speaker name in text (issue 15)", (44.5, 53.8, 68.0)),
)
Ranker = Callable[[MemoryEngine, str, np.ndarray], list[str]]


def _searcher(stages: Stages, rerank: bool) -> Ranker:
    def rank(engine: MemoryEngine, message: str, query: np.ndarray) -> list[str]:
        found = search(engine.index, message, query, engine.config, stages)
        return [c.id for c in (engine.head.rerank(found) if rerank else found)]

    return rank


def _engine(engine: MemoryEngine, message: str, query: np.ndarray) -> list[str]:
    return [c.id for c in engine.retrieve(message).memories]


PLAIN = Stages(context=False, links=False)
ROWS: tuple[tuple[str, Ranker], ...] = (
    ("dense", _searcher(replace(PLAIN, lexical=False), False)),
    ("lexical", _searcher(replace(PLAIN, dense=False), False)),
    ("fused", _searcher(PLAIN, False)),
    ("fused+links", _searcher(replace(PLAIN, links=True), False)),
    ("fused+rerank", _searcher(PLAIN, True)),
    ("engine", _engine),
)


@dataclass
class Tally:
    hits: dict[int, list[float]]
    latency_ms: list[float]
    tokens: list[int]

    @classmethod
    def empty(cls) -> Tally:
        return cls({k: [] for k in KS}, [], [])


def evaluate_conversation(
    engine: MemoryEngine,
    conversation: Conversation,
    dia_of: dict[str, str],
    tallies: dict[str, Tally],
) -> None:
    for question in conversation.questions:
        started = time.perf_counter()
        query = engine.embedder.embed([question.question])[0]
        embed_ms = 1000 * (time.perf_counter() - started)
        for method, ranker in ROWS:
            started = time.perf_counter()
            ranked = ranker(engine, question.question, query)
            elapsed = 1000 * (time.perf_counter() - started)
            tally = tallies[method]
            tally.latency_ms.append(elapsed + (embed_ms if method != "engine" else 0.0))
            dias = dia_ids_of(engine, ranked, dia_of)
            gold = set(question.evidence)
            for k in KS:
                tally.hits[k].append(len(gold & set(dias[:k])) / len(gold))
            lines = [
                engine.memory_line(engine_candidate(engine, i)) for i in ranked[:PROMPT_MEMORIES]
            ]
            tally.tokens.append(sum(engine.counter.count(line) for line in lines))


def engine_candidate(engine: MemoryEngine, item_id: str) -> Any:
    from client.memory_engine.retrieval import Candidate

    entry = engine.index.entry(item_id)
    return Candidate(id=item_id, text=entry.text, score=0.0)


def produce(args: argparse.Namespace, log: Callable[[str], None]) -> dict[str, Any]:
    conversations = load_conversations(data_dir(args.data_dir))
    if args.quick:
        conversations = [_first_sessions(conversations[0], 8)]
    embedder = default_embedder(encoder_dir(args.cache_dir), export_if_missing=True)
    tallies = {method: Tally.empty() for method, _ in ROWS}
    history_tokens: list[int] = []
    ingest_seconds = 0.0
    with tempfile.TemporaryDirectory() as folder:
        for conversation in conversations:
            started = time.perf_counter()
            profile = Profile.create(
                Path(folder) / f"{conversation.sample_id}.fpstore",
                "benchmark passphrase",
                kdf=KdfParams(memory_kib=MIN_MEMORY_KIB, iterations=MIN_ITERATIONS),
                settings=ProfileSettings(turn_capacity=200),
            )
            engine = MemoryEngine(profile, embedder, config=CONFIG)
            dia_of = ingest(engine, conversation)
            ingest_seconds += time.perf_counter() - started
            count = len(conversation.questions)
            log(f"{conversation.sample_id}: {len(engine.index)} items, {count} questions")
            evaluate_conversation(engine, conversation, dia_of, tallies)
            full = sum(engine.counter.count(f"{t.speaker}: {t.text}") for t in conversation.turns())
            history_tokens.extend([full] * len(conversation.questions))
            profile.close()
    return _report(args, conversations, tallies, history_tokens, ingest_seconds)


def _report(
    args: argparse.Namespace,
    conversations: list[Conversation],
    tallies: dict[str, Tally],
    history_tokens: list[int],
    ingest_seconds: float,
) -> dict[str, Any]:
    rows = []
    for method, tally in tallies.items():
        row: dict[str, Any] = {"method": method}
        for k in KS:
            row[f"recall@{k}"] = round(100 * statistics.fmean(tally.hits[k]), 1)
        row["tokens_per_query"] = round(statistics.fmean(tally.tokens))
        row["latency_ms_p50"] = round(float(np.percentile(tally.latency_ms, 50)), 2)
        row["latency_ms_p95"] = round(float(np.percentile(tally.latency_ms, 95)), 2)
        rows.append(row)
    return {
        "benchmark": "locomo_retrieval",
        "config": {
            "quick": args.quick,
            "conversations": [c.sample_id for c in conversations],
            "questions": sum(len(c.questions) for c in conversations),
            "categories": [1, 2, 3, 4],
            "engine_config": {k: v for k, v in vars(CONFIG).items()},
            "prompt_memories": PROMPT_MEMORIES,
            "ingest_seconds": round(ingest_seconds, 1),
        },
        "rows": rows,
        "history_tokens_per_query": round(statistics.fmean(history_tokens)),
        "anchors": [{"method": name, "recall@5,10,25": list(values)} for name, values in ANCHORS],
    }


def _first_sessions(conversation: Conversation, count: int) -> Conversation:
    sessions = conversation.sessions[:count]
    known = {t.dia_id for s in sessions for t in s}
    questions = tuple(q for q in conversation.questions if set(q.evidence) <= known)
    return replace(conversation, sessions=sessions, questions=questions)


def show(result: dict[str, Any]) -> None:
    header = ["method", "R@5", "R@10", "R@25", "tokens/query", "p50 ms", "p95 ms"]
    lines = [
        [
            r["method"],
            *(f"{r[f'recall@{k}']:.1f}" for k in KS),
            str(r["tokens_per_query"]),
            f"{r['latency_ms_p50']:.1f}",
            f"{r['latency_ms_p95']:.1f}",
        ]
        for r in result["rows"]
    ]
    lines += [[name, *(f"{v:.1f}" for v in values), "", "", ""] for name, values in ANCHORS]
    print("\n".join(table(header, lines)))
    print(
        f"full history: {result['history_tokens_per_query']} tokens per query; "
        f"{result['config']['questions']} questions"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    return run_and_report(lambda log: produce(args, log), show, args.out)


if __name__ == "__main__":
    sys.exit(main())
