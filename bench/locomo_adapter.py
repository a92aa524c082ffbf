"""A learned question-to-memory adapter on LoCoMo dev: in-sample and held out.

Run from the repository root::

    .venv/bin/python -m bench.locomo_adapter --out bench/results/locomo_adapter.json
    .venv/bin/python -m bench.locomo_adapter --quick   # 2 conversations, 60 MSC dialogues

The dense score of every row gains ``weight`` x (U q) . (V m) (``models.memory_adapter``:
a low-rank bilinear term on the frozen MiniLM vectors, zero before training), on both of
the engine's query vectors (the question, and the question without the speakers' names).
Every ranking is the search stage's (fused + context, no links: ``bench.locomo_tuning.combine``
on the index ``bench.locomo_tuning`` builds).

Two sources of training pairs:

- ``msc``: from Multi-Session Chat sessions 1-3 (``bench.msc_adapter_pairs``), two
  sources: each persona statement -> the utterance that revealed it, and each session's
  follow-up question -> the utterance of its nearest statement; no LoCoMo text, so
  nothing is tuned on the conversations it is scored on except the (rank, weight) pair,
  chosen leave-one-conversation-out: for each conversation, the pair best at recall@25 on the
  other four (each with the retrieval shares ``bench.locomo_tuning`` chose for it,
  ``bench/results/locomo_tuning.json``) is scored on it.
- ``locomo``: for each conversation, an adapter trained on the other four conversations'
  questions -> their evidence turns; its weight chosen by an inner leave-one-out among
  those four (trained on three, scored on the fourth), so the held-out conversation is
  never seen by the adapter or its weight.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.locomo_data import Conversation, benchmark_conversations
from bench.locomo_retrieval import KS
from bench.locomo_subqueries import fold_shares
from bench.locomo_tuning import ALL_SHARES, Built, build_index, combine, signals_of_one, turn_recall
from bench.msc_adapter_pairs import pair_groups
from bench.reporting import data_benchmark_main, table
from client.embedding import default_cache_dir, default_embedder, encoder_dir
from client.embedding.protocol import Embedder, Vectors
from client.memory_engine import EngineConfig
from client.memory_engine.index import top_positions
from client.memory_engine.retrieval import nameless_message, query_vectors
from models.data.locations import data_dir
from models.embedding_cache import EmbeddingCache
from models.memory_adapter import AdapterSettings, PairGroup, adapted_queries, train_adapter

DEFAULT_OUT = Path("bench/results/locomo_adapter.json")
RANKS = (16, 64)
WEIGHTS = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0)
MSC_SOURCES = ("statements", "followups")
MSC_SETTINGS = AdapterSettings(epochs=10)
LOCOMO_SETTINGS = AdapterSettings(rank=16, epochs=150, groups_per_batch=4)
DEPTH = 100  # rows ranked: enough for 25 distinct turns
Array = npt.NDArray[np.float32]
Shares = dict[str, float]
Adapter = tuple[Array, Array]  # (U, V)


class CachedEmbedder:
    """An embedder whose vectors of public data-set texts are kept on disk between runs."""

    def __init__(self, inner: Embedder, path: Path) -> None:
        self._inner = inner
        self._cache = EmbeddingCache(path, inner.name, lambda texts: inner.embed(texts))
        self.dimension, self.name = inner.dimension, inner.name

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return self._inner.embed([])
        return self._cache(list(texts))


@dataclass
class Prepared:
    """One conversation's index and questions, with the vectors the adapter acts on."""

    built: Built
    rows: Array  # (N, D) every row's vector
    queries: Array  # (Q, D) the question as written
    nameless: Array  # (Q, D) the question without the names; its ``queries`` row if none
    named: npt.NDArray[np.bool_]  # (Q,) whether the question names a speaker


def prepare(conversation: Conversation, embedder: Embedder) -> Prepared:
    index, dias = build_index(conversation, embedder)
    config = EngineConfig(nameless_weight=1.0)  # the name-free vector whenever a name is named
    texts = [q.question for q in conversation.questions]
    embedder.embed([*texts, *(nameless_message(index, t) or t for t in texts)])  # one batch
    signals, queries, nameless, named = [], [], [], []
    for question in conversation.questions:
        query, free = query_vectors(embedder, index, question.question, config)
        signals.append(
            replace(
                signals_of_one(index, question.question, query, free), gold=set(question.evidence)
            )
        )
        queries.append(query)
        nameless.append(query if free is None else free)
        named.append(free is not None)
    built = Built(conversation, index, dias, signals)
    rows = index.rows(list(range(len(index))))
    return Prepared(built, rows, np.stack(queries), np.stack(nameless), np.array(named))


def adapter_terms(prepared: Prepared, adapter: Adapter) -> tuple[Array, Array]:
    """(Q, N) each: the adapter's term (weight 1) for the question and its name-free form."""
    u, v = adapter
    on_query = (adapted_queries(prepared.queries, u, v, 1.0) - prepared.queries) @ prepared.rows.T
    on_free = (adapted_queries(prepared.nameless, u, v, 1.0) - prepared.nameless) @ prepared.rows.T
    return np.asarray(on_query, np.float32), np.asarray(on_free, np.float32)


def recall_rows(
    prepared: Prepared, terms: tuple[Array, Array], weight: float, shares: Shares
) -> npt.NDArray[np.float64]:
    """(questions, len(KS)) evidence recall with the adapter's term at ``weight``."""
    built, (on_query, on_free) = prepared.built, terms
    rows = []
    for i, signals in enumerate(built.questions):
        if weight:
            free = on_free[i] if prepared.named[i] else on_query[i]
            signals = replace(
                signals,
                dense=signals.dense + weight * on_query[i],
                nameless=signals.nameless + weight * free,
            )
        order = top_positions(combine(built.index, signals, shares), DEPTH)
        rows.append(turn_recall(built.dia_of_row, order, signals.gold))
    return np.array(rows)


def locomo_group(prepared: Prepared) -> PairGroup:
    """The conversation's questions (both query vectors) -> the rows of their evidence turns."""
    dias = np.array(prepared.built.dia_of_row)
    positive = np.stack([np.isin(dias, sorted(s.gold)) for s in prepared.built.questions])
    keep = positive.any(axis=1)
    both = np.concatenate([prepared.queries[keep], prepared.nameless[keep]])
    return PairGroup(both, prepared.rows, np.concatenate([positive[keep], positive[keep]]))


def _mean(parts: Sequence[npt.NDArray[np.float64]]) -> list[float]:
    return [round(100 * float(v), 1) for v in np.concatenate(list(parts)).mean(axis=0)]


def _at25(parts: Sequence[npt.NDArray[np.float64]]) -> float:
    return float(np.concatenate(list(parts))[:, KS.index(25)].mean())


def _r25_by_conversation(parts: Sequence[npt.NDArray[np.float64]]) -> list[float]:
    return [round(100 * _at25([p]), 1) for p in parts]


def msc_direction(
    prepared: list[Prepared],
    folds: list[Shares],
    engine: Shares,
    groups: list[PairGroup],
    source: str,
) -> dict[str, Any]:
    """Adapters trained on MSC pairs of ``source`` per rank; every (rank, weight) in-sample
    and with fold shares, then (rank, weight) chosen leave-one-conversation-out at R@25."""
    scores: dict[tuple[int, float], list[npt.NDArray[np.float64]]] = {}
    rows = []
    for rank in RANKS:
        started = time.perf_counter()
        adapter = train_adapter(groups, replace(MSC_SETTINGS, rank=rank))
        seconds = time.perf_counter() - started
        terms = [adapter_terms(p, adapter) for p in prepared]
        for weight in WEIGHTS:
            inside = [
                recall_rows(p, t, weight, engine) for p, t in zip(prepared, terms, strict=True)
            ]
            fold = [
                recall_rows(p, t, weight, f) for p, t, f in zip(prepared, terms, folds, strict=True)
            ]
            scores[rank, weight] = fold
            rows.append(_row(f"msc {source} rank {rank}", weight, inside, fold, seconds))
    ids = [p.built.conversation.sample_id for p in prepared]
    picks, parts = [], []
    for out in range(len(prepared)):
        others = [i for i in range(len(prepared)) if i != out] or [out]
        best = max(scores, key=lambda key: _at25([scores[key][i] for i in others]))
        picks.append({"held_out": ids[out], "rank": best[0], "weight": best[1]})
        parts.append(scores[best][out])
    return {"rows": rows, "held_out": {"picks": picks, "recall": _mean(parts),
            "r25_by_conversation": _r25_by_conversation(parts)}}  # fmt: skip


def locomo_direction(prepared: list[Prepared], folds: list[Shares]) -> dict[str, Any]:
    """Per conversation: an adapter trained on the other four, its weight chosen by an inner
    leave-one-out among them; also every weight's pooled recall (the weight fixed a priori)."""
    everyone = list(range(len(prepared)))
    groups = [locomo_group(p) for p in prepared]
    by_weight: dict[float, list[npt.NDArray[np.float64]]] = {w: [] for w in WEIGHTS}
    picks, parts = [], []
    for out in everyone:
        others = [i for i in everyone if i != out]
        inner: dict[float, list[npt.NDArray[np.float64]]] = {w: [] for w in WEIGHTS}
        for inner_out in others if len(others) > 1 else []:
            train = [groups[i] for i in others if i != inner_out]
            terms = adapter_terms(prepared[inner_out], train_adapter(train, LOCOMO_SETTINGS))
            for weight in WEIGHTS:
                inner[weight].append(
                    recall_rows(prepared[inner_out], terms, weight, folds[inner_out])
                )
        weight = max(WEIGHTS, key=lambda w: _at25(inner[w])) if inner[WEIGHTS[0]] else 0.0
        terms = adapter_terms(
            prepared[out], train_adapter([groups[i] for i in others], LOCOMO_SETTINGS)
        )
        for w in WEIGHTS:
            by_weight[w].append(recall_rows(prepared[out], terms, w, folds[out]))
        picks.append({"held_out": prepared[out].built.conversation.sample_id, "weight": weight})
        parts.append(by_weight[weight][-1])
    return {
        "rank": LOCOMO_SETTINGS.rank,
        "by_weight": [{"weight": w, "recall": _mean(by_weight[w])} for w in WEIGHTS],
        "held_out": {"picks": picks, "recall": _mean(parts),
                     "r25_by_conversation": _r25_by_conversation(parts)},
    }  # fmt: skip


def _row(
    name: str, weight: float, inside: list[Any], fold: list[Any], seconds: float
) -> dict[str, Any]:
    return {
        "adapter": name,
        "weight": weight,
        "in_sample": _mean(inside),
        "fold_shares": _mean(fold),
        "fold_r25_by_conversation": _r25_by_conversation(fold),
        "training_seconds": round(seconds, 1),
    }


def produce(args: argparse.Namespace, log: Callable[[str], None]) -> dict[str, Any]:
    root = data_dir(args.data_dir)
    conversations = benchmark_conversations(root, quick=args.quick)
    inner = default_embedder(encoder_dir(args.cache_dir), export_if_missing=True)
    cache_root = args.cache_dir if args.cache_dir is not None else default_cache_dir()
    embedder = CachedEmbedder(inner, cache_root / "embeddings" / "locomo_adapter.npz")
    prepared = []
    for conversation in conversations:
        prepared.append(prepare(conversation, embedder))
        log(f"{conversation.sample_id}: {len(prepared[-1].rows)} rows")
    limit = 60 if args.quick else None
    groups = {s: pair_groups(root, embedder.embed, limit, source=s) for s in MSC_SOURCES}
    for source, made in groups.items():
        log(f"MSC {source}: {len(made)} dialogues, {sum(len(g.queries) for g in made)} queries")
    engine = {name: float(getattr(EngineConfig(), name)) for name in ALL_SHARES}
    folds = fold_shares([p.built.conversation.sample_id for p in prepared])
    result: dict[str, Any] = {
        "benchmark": "locomo_adapter",
        "config": {
            "quick": args.quick,
            "conversations": [p.built.conversation.sample_id for p in prepared],
            "questions": sum(len(p.built.questions) for p in prepared),
            "msc_dialogues": {s: len(g) for s, g in groups.items()},
            "msc_queries": {s: sum(len(q.queries) for q in g) for s, g in groups.items()},
            "ranks": RANKS,
            "weights": WEIGHTS,
            "msc_settings": asdict(MSC_SETTINGS),
            "locomo_settings": asdict(LOCOMO_SETTINGS),
            "fold_shares_from": "bench/results/locomo_tuning.json"
            if folds[0] != engine
            else "engine",
        },
    }
    if args.direction in ("msc", "both"):
        result["msc"] = {
            s: msc_direction(prepared, folds, engine, groups[s], s) for s in MSC_SOURCES
        }
    if args.direction in ("locomo", "both"):
        result["locomo"] = locomo_direction(prepared, folds)
    return result


def show(result: dict[str, Any]) -> None:
    lines = []
    for source, found in result.get("msc", {}).items():
        for row in found["rows"]:
            lines.append(
                [
                    row["adapter"],
                    f"{row['weight']:.2f}",
                    *map(str, row["in_sample"]),
                    *map(str, row["fold_shares"]),
                ]
            )
        lines.append([f"msc {source}, held out", "", "", "", "", *_held(found)])
    for row in result.get("locomo", {}).get("by_weight", []):
        lines.append(["locomo-trained, per fold", f"{row['weight']:.2f}", "", "", "", *_held(row)])
    if "locomo" in result:
        lines.append(["locomo-trained, held out", "", "", "", "", *_held(result["locomo"])])
    header = ["adapter", "weight", "R@5", "R@10", "R@25", "fold R@5", "fold R@10", "fold R@25"]
    print("\n".join(table(header, lines)))


def _held(found: dict[str, Any]) -> list[str]:
    recall = found["held_out"]["recall"] if "held_out" in found else found["recall"]
    return [str(v) for v in recall]


def main(argv: list[str] | None = None) -> int:
    return data_benchmark_main(
        description=__doc__.splitlines()[0],
        default_out=DEFAULT_OUT,
        produce=produce,
        show=show,
        argv=argv,
        extra_arguments=lambda p: p.add_argument(
            "--direction", choices=("msc", "locomo", "both"), default="both"
        ),
    )


if __name__ == "__main__":
    sys.exit(main())
