"""Evidence recall on LoCoMo: what each retrieval stage of the memory engine adds.

Run from the repository root::

    .venv/bin/python -m bench.locomo_retrieval --out bench/results/locomo_retrieval.json
    .venv/bin/python -m bench.locomo_retrieval --quick   # two conversations, 6 sessions each
    .venv/bin/python -m bench.locomo_retrieval --stores DIR  # keep the ingested stores in DIR

``--stores DIR``: each conversation is ingested into ``DIR/<sample id>.fpstore`` (with its
turn-to-dialogue-id map beside it) on the first run and reopened on later ones, so a change
to the reading side is measured in minutes instead of the ingest's twenty; a change to
the writing side needs a fresh DIR.

Each conversation of ``locomo/locomo10-dev.json`` is ingested session by session through
the engine into its own encrypted store (bench.locomo_data). Then, for every question of
categories 1-4, each row ranks the stored items, maps them to the dialogue turns they came
from (distinct, in rank order) and scores recall@5/10/25 of the question's ``evidence``
ids: the share of evidence turns among the first k, averaged over questions (the LoCoMo
paper's retrieval metric). Rows: ``dense`` (MiniLM cosine), ``lexical`` (BM25, bm25s),
``fused`` (cosine + 0.4 x normalised BM25), ``fused+context`` (plus the turns said around
an item, a question asked just before it, the speaker and the date the question names,
the best match in the item's session),
``fused+links`` (plus similarity links), ``fused+rerank`` (the feature head, trained
leave-one-conversation-out: only on the other conversations' questions, on the
candidates of the fused stage), and ``engine`` (every stage, a head trained the same way
on the engine's candidates, and the validator). ``tokens_per_query``: the memory
section assembled from the first 10 memories; ``history_tokens``: the whole
conversation, which a full-context prompt would carry. Latency: embedding the question
plus the row's stages, one process.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.locomo_data import Conversation, benchmark_conversations, dia_ids_of, ingest
from bench.reporting import data_benchmark_main, table
from client.embedding import default_embedder, encoder_dir
from client.memory_engine import EngineConfig, FeatureHead, MemoryEngine, Stages
from client.memory_engine.retrieval import (
    ALL_STAGES,
    FEATURES,
    Candidate,
    query_vectors,
    search,
)
from client.profile import Profile, ProfileSettings
from models.data.locations import data_dir
from privacy.kdf import MIN_ITERATIONS, MIN_MEMORY_KIB, KdfParams

DEFAULT_OUT = Path("bench/results/locomo_retrieval.json")
PASSPHRASE = "benchmark passphrase"
KS = (5, 10, 25)
PROMPT_MEMORIES = 10
# Enough candidates that every row can fill recall@25 with distinct turns; the engine
# keeps as many memories as search proposes (with top_k=60 some questions' 60 items,
# turns and the facts written from them, held only 23 distinct turns).
CONFIG = EngineConfig(candidates=100, top_k=200)
SIGNAL_DEPTH = CONFIG.rerank_depth  # the head learns on the window it reorders
ANCHORS = (
    ("DRAGON, dialog turns (LoCoMo paper, Table 3)", (56.7, 66.2, 76.7)),
    ("MiniLM dense over turns (issue 15)", (40.0, 49.0, 63.0)),
    ("MiniLM dense, speaker name in text (issue 15)", (44.5, 53.8, 68.0)),
)
Query = tuple[np.ndarray, np.ndarray | None]  # the message's vector, its name-free one
Ranker = Callable[["Ingested", str, Query], list[str]]


def _searcher(stages: Stages, rerank: bool) -> Ranker:
    def rank(done: Ingested, message: str, query: Query) -> list[str]:
        config = done.engine.config
        found = search(done.engine.index, message, query[0], config, stages, nameless=query[1])
        if rerank:
            found = done.plain_head.rerank(found, depth=config.rerank_depth)
        return [c.id for c in found]

    return rank


def _engine(done: Ingested, message: str, query: Query) -> list[str]:
    return [c.id for c in done.engine.retrieve(message).memories]


PLAIN = Stages(context=False, links=False)
ROWS: tuple[tuple[str, Ranker], ...] = (
    ("dense", _searcher(replace(PLAIN, lexical=False), False)),
    ("lexical", _searcher(replace(PLAIN, dense=False), False)),
    ("fused", _searcher(PLAIN, False)),
    ("fused+context", _searcher(replace(PLAIN, context=True), False)),
    ("fused+links", _searcher(replace(PLAIN, links=True), False)),
    ("fused+rerank", _searcher(PLAIN, True)),
    ("engine", _engine),
)


@dataclass
class Tally:
    hits: dict[int, list[float]]
    latency_ms: list[float]
    tokens: list[int]
    categories: list[int] = field(default_factory=list)  # each question's LoCoMo category

    @classmethod
    def empty(cls) -> Tally:
        return cls({k: [] for k in KS}, [], [])

    def by_category(self, k: int) -> dict[str, float]:
        """Mean recall@k per question category, in percent."""
        split: dict[int, list[float]] = {}
        for category, hit in zip(self.categories, self.hits[k], strict=True):
            split.setdefault(category, []).append(hit)
        return {str(c): round(100 * statistics.fmean(v), 1) for c, v in sorted(split.items())}


@dataclass
class Ingested:
    conversation: Conversation
    engine: MemoryEngine
    dia_of: dict[str, str]
    plain_head: FeatureHead = field(default_factory=FeatureHead.prior)


def evaluate_conversation(done: Ingested, tallies: dict[str, Tally]) -> None:
    engine = done.engine
    for question in done.conversation.questions:
        started = time.perf_counter()
        query = query_vectors(engine.embedder, engine.index, question.question, engine.config)
        embed_ms = 1000 * (time.perf_counter() - started)
        for method, ranker in ROWS:
            started = time.perf_counter()
            ranked = ranker(done, question.question, query)
            elapsed = 1000 * (time.perf_counter() - started)
            tally = tallies[method]
            tally.latency_ms.append(elapsed + (embed_ms if method != "engine" else 0.0))
            dias = dia_ids_of(engine, ranked, done.dia_of)
            gold = set(question.evidence)
            for k in KS:
                tally.hits[k].append(len(gold & set(dias[:k])) / len(gold))
            tally.categories.append(question.category)
            tally.tokens.append(_memory_tokens(engine, ranked[:PROMPT_MEMORIES]))


def _memory_tokens(engine: MemoryEngine, item_ids: list[str]) -> int:
    lines = [engine.memory_line(Candidate(id=i, text="", score=0.0)) for i in item_ids]
    return sum(engine.counter.count(line) for line in lines)


def usage_signals(done: Ingested, stages: Stages) -> list[tuple[list[Candidate], set[str]]]:
    """Each question's first candidates, the evidence turns as positives (what a user confirms).

    Only the first ``SIGNAL_DEPTH`` candidates: a user sees and confirms what reached the
    prompt, so the head learns to reorder the top, not the tail.
    """
    engine = done.engine
    lists = []
    for question in done.conversation.questions:
        query, nameless = query_vectors(
            engine.embedder, engine.index, question.question, engine.config
        )
        found = search(
            engine.index, question.question, query, engine.config, stages, nameless=nameless
        )
        found = found[:SIGNAL_DEPTH]
        gold = set(question.evidence)
        positives = {
            c.id for c in found if done.dia_of.get(engine.index.entry(c.id).turn_id) in gold
        }
        lists.append((found, positives))
    return lists


def train_heads(
    ingested: list[Ingested], stages: Stages, log: Callable[[str], None]
) -> list[FeatureHead]:
    """One head per conversation, trained only on the other conversations' signals.

    Leave-one-conversation-out: the head a new person's device would get from a
    federation of other people, never from the person's own questions. Trained on the
    candidates of the same ``stages`` it will rerank.
    """
    signals = [usage_signals(done, stages) for done in ingested]
    heads = []
    for held_out in range(len(ingested)):
        head = FeatureHead.prior()
        training = [s for i, lists in enumerate(signals) if i != held_out for s in lists]
        loss = head.train(training) if training else 0.0
        log(f"head for {ingested[held_out].conversation.sample_id}: loss {loss:.3f}")
        heads.append(head)
    return heads


def produce(args: argparse.Namespace, log: Callable[[str], None]) -> dict[str, Any]:
    conversations = benchmark_conversations(data_dir(args.data_dir), quick=args.quick)
    embedder = default_embedder(encoder_dir(args.cache_dir), export_if_missing=True)
    tallies = {method: Tally.empty() for method, _ in ROWS}
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(args.stores) if args.stores else Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        ingested = [_ingest(folder, c, embedder, log) for c in conversations]
        ingest_seconds = time.perf_counter() - started
        heads = train_heads(ingested, ALL_STAGES, log)
        plain_heads = train_heads(ingested, PLAIN, log)
        history_tokens: list[int] = []
        for done, head, plain_head in zip(ingested, heads, plain_heads, strict=True):
            done.engine.head = head
            done.plain_head = plain_head
            evaluate_conversation(done, tallies)
            full = sum(
                done.engine.counter.count(f"{t.speaker}: {t.text}")
                for t in done.conversation.turns()
            )
            history_tokens.extend([full] * len(done.conversation.questions))
            done.engine.profile.close()
    return _report(args, conversations, tallies, history_tokens, ingest_seconds, heads)


def _ingest(
    folder: Path, conversation: Conversation, embedder: Any, log: Callable[[str], None]
) -> Ingested:
    """The conversation ingested into ``folder``, or reopened if an earlier run did."""
    path = folder / f"{conversation.sample_id}.fpstore"
    ids = path.with_suffix(".json")  # written last: a store without it is incomplete
    settings = ProfileSettings(turn_capacity=200)
    if ids.exists():
        profile = Profile.open(path, PASSPHRASE, settings=settings)
        engine = MemoryEngine(profile, embedder, config=CONFIG)
        dia_of = json.loads(ids.read_text(encoding="utf-8"))
    else:
        for stale in folder.glob(f"{path.name}*"):
            stale.unlink()
        kdf = KdfParams(memory_kib=MIN_MEMORY_KIB, iterations=MIN_ITERATIONS)
        profile = Profile.create(path, PASSPHRASE, kdf=kdf, settings=settings)
        engine = MemoryEngine(profile, embedder, config=CONFIG)
        dia_of = ingest(engine, conversation)
        ids.write_text(json.dumps(dia_of), encoding="utf-8")
    count = len(conversation.questions)
    log(f"{conversation.sample_id}: {len(engine.index)} items, {count} questions")
    return Ingested(conversation, engine, dia_of)


def _report(
    args: argparse.Namespace,
    conversations: list[Conversation],
    tallies: dict[str, Tally],
    history_tokens: list[int],
    ingest_seconds: float,
    heads: list[FeatureHead],
) -> dict[str, Any]:
    rows = []
    for method, tally in tallies.items():
        row: dict[str, Any] = {"method": method}
        for k in KS:
            row[f"recall@{k}"] = round(100 * statistics.fmean(tally.hits[k]), 1)
        row["recall@25_by_category"] = tally.by_category(25)
        row["tokens_per_query"] = round(statistics.fmean(tally.tokens))
        row["latency_ms_p50"] = round(float(np.percentile(tally.latency_ms, 50)), 2)
        row["latency_ms_p95"] = round(float(np.percentile(tally.latency_ms, 95)), 2)
        rows.append(row)
    return {
        "benchmark": "locomo_retrieval",
        "config": {
            "quick": args.quick,
            "stores_reused": bool(args.stores),
            "conversations": [c.sample_id for c in conversations],
            "questions": sum(len(c.questions) for c in conversations),
            "categories": [1, 2, 3, 4],
            "engine_config": dict(vars(CONFIG)),
            "prompt_memories": PROMPT_MEMORIES,
            "ingest_seconds": round(ingest_seconds, 1),
            "head_features": list(FEATURES),
            "head_weights": [[round(float(w), 3) for w in h.weights] for h in heads],
            "signal_depth": SIGNAL_DEPTH,
        },
        "rows": rows,
        "history_tokens_per_query": round(statistics.fmean(history_tokens)),
        "anchors": [{"method": name, "recall@5,10,25": list(values)} for name, values in ANCHORS],
    }


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
    return data_benchmark_main(
        description=__doc__.splitlines()[0],
        default_out=DEFAULT_OUT,
        produce=produce,
        show=show,
        argv=argv,
        extra_arguments=lambda parser: parser.add_argument("--stores", type=Path, default=None),
    )


if __name__ == "__main__":
    sys.exit(main())
