"""Sub-queries for multi-hop questions on LoCoMo dev: in-sample and held out.

Run from the repository root::

    .venv/bin/python -m bench.locomo_subqueries --out bench/results/locomo_subqueries.json
    .venv/bin/python -m bench.locomo_subqueries --quick   # two conversations, 6 sessions

Each question is also searched part by part (``client.memory_engine.subqueries``):
``words`` (each content word of the question without the speakers' names), ``clauses``
(each clause, when it has two or more) and ``people`` (the question once per person it
names, with only that person's speaker bonus, when it names two or more); the rankings
are fused with the whole question's by reciprocal rank, the sub-queries weighted by a
share. Every ranking is the search stage's (fused + context, no links: the score
``bench.locomo_tuning.combine`` gives, on the index ``bench.locomo_tuning`` builds).

Rows per family and share: in-sample (the engine's shares), and with each conversation's
shares as ``bench.locomo_tuning`` chose them on the other four
(``bench/results/locomo_tuning.json``); then leave-one-conversation-out: for each
conversation the share best at recall@25 on the other four (with their own fold's
shares) is scored on it. ``cost_ms``: embedding the sub-queries and fusing, per question
that has any (one process, the machine's load included).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.locomo_data import benchmark_conversations
from bench.locomo_retrieval import KS
from bench.locomo_tuning import (
    ALL_SHARES,
    Signals,
    build_index,
    combine,
    signals_of_one,
    turn_recall,
)
from bench.reporting import data_benchmark_main, table
from client.embedding import default_embedder, encoder_dir
from client.embedding.protocol import Embedder
from client.memory_engine import EngineConfig
from client.memory_engine.index import MemoryIndex, top_positions
from client.memory_engine.retrieval import nameless_message, query_vectors
from client.memory_engine.subqueries import clauses, content_words, named_people, rrf_fuse
from models.data.locations import data_dir

DEFAULT_OUT = Path("bench/results/locomo_subqueries.json")
TUNING = Path("bench/results/locomo_tuning.json")
FAMILIES = ("words", "clauses", "people")
SHARES = (0.0, 0.25, 0.5, 1.0)
DEPTH = 200  # rows ranked: enough for 25 distinct turns
Shares = dict[str, float]


@dataclass
class Question:
    main: Signals
    subs: dict[str, list[Signals]]  # family -> the sub-queries' signals
    category: int


@dataclass
class Built:
    sample_id: str
    index: MemoryIndex
    dias: list[str]
    questions: list[Question]


def sub_signals(
    index: MemoryIndex, message: str, main: Signals, embedder: Embedder
) -> dict[str, list[Signals]]:
    """Each family's sub-query signals for ``message`` (empty lists where it has none).

    A sub-query keeps the whole question's speaker and date bonuses (who and when are the
    question's), except ``people``, which is the question with one person's bonus.
    """
    people = sorted(index.speakers())
    text = nameless_message(index, message) or message
    words, parts = content_words(text, people), clauses(text)
    texts = words + parts
    searched = (
        [
            replace(signals_of_one(index, t, v), speaker=main.speaker, date=main.date)
            for t, v in zip(texts, embedder.embed(texts), strict=True)
        ]
        if texts
        else []
    )
    return {
        "words": searched[: len(words)],
        "clauses": searched[len(words) :],
        "people": [
            replace(main, speaker=index.said_by({p})) for p in named_people(message, people)
        ],
    }


def build(conversation: Any, embedder: Embedder, costs: list[float]) -> Built:
    index, dias = build_index(conversation, embedder)
    config = EngineConfig(nameless_weight=1.0)  # the name-free vector whenever a name is named
    questions = []
    for q in conversation.questions:
        query, nameless = query_vectors(embedder, index, q.question, config)
        main = replace(signals_of_one(index, q.question, query, nameless), gold=set(q.evidence))
        started = time.perf_counter()
        subs = sub_signals(index, q.question, main, embedder)
        if any(subs.values()):
            costs.append(1000 * (time.perf_counter() - started))
        questions.append(Question(main, subs, q.category))
    return Built(conversation.sample_id, index, dias, questions)


def recall_rows(built: Built, family: str, share: float, shares: Shares) -> npt.NDArray[np.float64]:
    """(questions, len(KS)) evidence recall with ``family``'s sub-queries fused at ``share``."""
    rows = []
    for question in built.questions:
        main = combine(built.index, question.main, shares)
        subs = [combine(built.index, s, shares) for s in question.subs[family]] if share else []
        order = top_positions(rrf_fuse(main, subs, share), DEPTH)
        rows.append(turn_recall(built.dias, order, question.main.gold))
    return np.array(rows)


def fold_shares(sample_ids: list[str]) -> list[Shares]:
    """Each conversation's shares as ``bench.locomo_tuning`` chose them on the others; the
    engine's for every conversation when that result does not cover these conversations."""
    engine = {name: float(getattr(EngineConfig(), name)) for name in ALL_SHARES}
    if TUNING.exists():
        folds = {f["held_out"]: f["chosen"] for f in json.loads(TUNING.read_text())["folds"]}
        if set(sample_ids) == set(folds):
            return [folds[s] for s in sample_ids]
    return [engine] * len(sample_ids)


def produce(args: argparse.Namespace, log: Callable[[str], None]) -> dict[str, Any]:
    conversations = benchmark_conversations(data_dir(args.data_dir), quick=args.quick)
    embedder = default_embedder(encoder_dir(args.cache_dir), export_if_missing=True)
    costs: list[float] = []
    built = []
    for conversation in conversations:
        built.append(build(conversation, embedder, costs))
        log(f"{conversation.sample_id}: {len(built[-1].index)} rows")
    engine = {name: float(getattr(EngineConfig(), name)) for name in ALL_SHARES}
    folds = fold_shares([b.sample_id for b in built])
    rows, held_out = [], []
    for family in FAMILIES:
        inside = {s: [recall_rows(b, family, s, engine) for b in built] for s in SHARES}
        fold = {
            s: [recall_rows(b, family, s, f) for b, f in zip(built, folds, strict=True)]
            for s in SHARES
        }
        rows += [_row(family, s, inside[s], fold[s]) for s in SHARES]
        held_out.append(_held_out(family, fold, [b.sample_id for b in built]))
    counts = {f: sum(bool(q.subs[f]) for b in built for q in b.questions) for f in FAMILIES}
    return {
        "benchmark": "locomo_subqueries",
        "config": {
            "quick": args.quick,
            "conversations": [b.sample_id for b in built],
            "questions": sum(len(b.questions) for b in built),
            "questions_with_subqueries": counts,
            "shares": SHARES,
            "engine_shares": engine,
            "fold_shares_from": str(TUNING) if folds[0] != engine else "engine",
        },
        "rows": rows,
        "leave_one_out": held_out,
        "cost_ms_p50": round(float(np.percentile(costs, 50)), 2) if costs else 0.0,
        "cost_ms_p95": round(float(np.percentile(costs, 95)), 2) if costs else 0.0,
    }


def _mean(parts: list[npt.NDArray[np.float64]]) -> list[float]:
    return [round(100 * float(v), 1) for v in np.concatenate(parts).mean(axis=0)]


def _row(family: str, share: float, inside: list[Any], fold: list[Any]) -> dict[str, Any]:
    return {
        "family": family,
        "share": share,
        "in_sample": _mean(inside),
        "in_sample_r25_by_conversation": [round(100 * float(p[:, 2].mean()), 1) for p in inside],
        "fold_shares": _mean(fold),
    }


def _held_out(family: str, fold: dict[float, list[Any]], ids: list[str]) -> dict[str, Any]:
    """Each conversation scored with the share best at recall@25 on the other four."""
    column = KS.index(25)
    picks, parts = [], []
    for out in range(len(ids)):
        others = [i for i in range(len(ids)) if i != out] or [out]
        best = max(
            SHARES,
            key=lambda s: float(np.concatenate([fold[s][i] for i in others])[:, column].mean()),
        )
        picks.append(best)
        parts.append(fold[best][out])
    return {"family": family, "picks": dict(zip(ids, picks, strict=True)), "recall": _mean(parts)}


def show(result: dict[str, Any]) -> None:
    lines = [
        [
            r["family"],
            f"{r['share']:.2f}",
            *(f"{v:.1f}" for v in r["in_sample"]),
            *(f"{v:.1f}" for v in r["fold_shares"]),
        ]
        for r in result["rows"]
    ]
    lines += [
        [h["family"], "held out", "", "", "", *(f"{v:.1f}" for v in h["recall"])]
        for h in result["leave_one_out"]
    ]
    header = ["family", "share", "R@5", "R@10", "R@25", "fold R@5", "fold R@10", "fold R@25"]
    print("\n".join(table(header, lines)))
    print(
        f"cost per question with sub-queries: p50 {result['cost_ms_p50']} ms, "
        f"p95 {result['cost_ms_p95']} ms"
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
