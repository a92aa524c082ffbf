"""Session summaries on LoCoMo: the engine's summarisers against the sessions' gold summaries.

Run from the repository root::

    .venv/bin/python -m bench.session_summary --out bench/results/session_summary.json
    .venv/bin/python -m bench.session_summary --quick   # two conversations, 4 sessions each
    .venv/bin/python -m bench.session_summary --llm-url http://127.0.0.1:8080/v1

Data: ``locomo/locomo10-dev.json``: every session of every conversation has a written
summary (``session_summary``). Each method summarises the session's lines as the engine
does at a session's end (``client.memory_engine.writer``: the turns' text, in order,
within ``EngineConfig.summary_budget`` tokens). Score: each gold summary sentence's best
MiniLM cosine to a sentence of the method's summary; ``coverage@t`` is the share of gold
sentences at or above ``t``, ``mean best cosine`` their mean (no threshold). Methods:
``lead`` (the session's first sentences within the budget: the baseline), ``extractive``
(the engine's offline ``ExtractiveSummariser``) and, with ``--llm-url``, ``llm`` (the
engine's ``LlmSummariser`` exactly as ``fedpersona chat --backend`` builds it, the
extractive one behind it; the JSON says how many sessions the model's answer was used for).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.locomo_data import DEV_FILE, raw_conversations, session_numbers
from bench.reporting import (
    FallbackTally,
    add_llm_server_arguments,
    data_benchmark_main,
    llm_server_config,
    table,
)
from client.embedding import default_embedder, encoder_dir
from client.embedding.protocol import Embedder, Vectors
from client.llm.server_config import ServerConfig
from client.memory_engine.config import EngineConfig
from client.memory_engine.disclosure import split_sentences
from client.memory_engine.llm_parts import llm_memory_parts
from client.memory_engine.llm_summary import LlmSummariser
from client.memory_engine.summary import ExtractiveSummariser, Summariser
from client.memory_engine.tokens import TokenCounter, WordPieceCounter
from models.data.locations import DataFormatError, data_dir

DEFAULT_OUT = Path("bench/results/session_summary.json")
THRESHOLDS = (0.5, 0.6, 0.7)
QUICK_CONVERSATIONS, QUICK_SESSIONS = 2, 4


@dataclass(frozen=True)
class Session:
    """One session's lines (what the engine summarises) and its gold summary's sentences."""

    name: str
    lines: list[str]
    gold: list[str]


def load_sessions(root: Path, conversations: int | None, sessions: int | None) -> list[Session]:
    """Every session with lines and a gold summary, in file order, capped as asked."""
    found: list[Session] = []
    for raw in raw_conversations(root)[:conversations]:
        conv, summaries = raw["conversation"], raw.get("session_summary") or {}
        kept = 0
        for number in session_numbers(conv):
            gold = split_sentences(str(summaries.get(f"session_{number}_summary") or ""))
            lines = [str(turn["text"]) for turn in conv[f"session_{number}"]]
            if gold and lines and (sessions is None or kept < sessions):
                found.append(Session(f"{raw['sample_id']}:{number}", lines, gold))
                kept += 1
    return found


class LeadSummariser:
    """The session's first sentences, in order, while they fit the budget."""

    def __init__(self, counter: TokenCounter) -> None:
        self._counter = counter

    def summarise(self, lines: Sequence[str], budget: int) -> str:
        kept: list[str] = []
        used = 0
        for sentence in (s for line in lines for s in split_sentences(line)):
            cost = self._counter.count(sentence) + 1
            if used + cost > budget:
                break
            kept.append(sentence)
            used += cost
        return " ".join(kept)


def score(embedder: Embedder, gold: list[Vectors], summaries: list[str]) -> dict[str, Any]:
    """Coverage of the gold sentences (``gold``: each session's, embedded once for every
    method) by the summaries' sentences, pooled over sessions."""
    best: list[float] = []
    for gold_vectors, summary in zip(gold, summaries, strict=True):
        produced = split_sentences(summary)
        if not produced:
            best.extend(0.0 for _ in gold_vectors)
            continue
        produced_vectors = embedder.embed(produced)
        best.extend(float(v) for v in (gold_vectors @ produced_vectors.T).max(axis=1))
    values = np.asarray(best, dtype=np.float64)
    return {
        "gold_sentences": len(best),
        "mean_best_cosine": round(float(values.mean()), 3) if len(best) else 0.0,
        "coverage": {f"{t:.1f}": round(100 * float((values >= t).mean()), 1) for t in THRESHOLDS},
    }


def summarise_all(
    summariser: Summariser, sessions: list[Session], budget: int, counter: TokenCounter
) -> tuple[list[str], dict[str, Any]]:
    started = time.perf_counter()
    summaries = [summariser.summarise(s.lines, budget) for s in sessions]
    seconds = time.perf_counter() - started
    tokens = [counter.count(s) for s in summaries]
    return summaries, {
        "mean_tokens": round(float(np.mean(tokens)), 1),
        "max_tokens": max(tokens),
        "seconds_per_session": round(seconds / len(sessions), 3),
    }


def produce(args: argparse.Namespace, log: Callable[[str], None]) -> dict[str, Any]:
    sessions = load_sessions(
        data_dir(args.data_dir),
        QUICK_CONVERSATIONS if args.quick else None,
        args.sessions if args.sessions is not None else QUICK_SESSIONS if args.quick else None,
    )
    if not sessions:
        raise DataFormatError(f"{DEV_FILE}: no session with both lines and a summary")
    log(f"{len(sessions)} sessions")
    budget = EngineConfig().summary_budget
    embedder = default_embedder(encoder_dir(args.cache_dir), export_if_missing=True)
    counter = WordPieceCounter()
    gold = [embedder.embed(s.gold) for s in sessions]
    methods: dict[str, Summariser] = {
        "lead": LeadSummariser(counter),
        "extractive": ExtractiveSummariser(embedder, counter),
    }
    rows = []
    for method, summariser in methods.items():
        summaries, cost = summarise_all(summariser, sessions, budget, counter)
        rows.append({"method": method, **cost, **score(embedder, gold, summaries)})
        log(f"{method} done")
    if args.llm_url:
        parts = llm_memory_parts(
            ServerConfig(base_url=args.llm_url, model=args.llm_model), embedder, counter=counter
        )
        counted = CountedOutcomes(parts.summariser)
        try:
            summaries, cost = summarise_all(counted, sessions, budget, counter)
        finally:
            parts.close()
        use = {
            "answer_used": counted.tally.sources["llm"],
            "fell_back_to_extractive": counted.tally.sources["extractive"],
            "fallback_reasons": counted.tally.fallback_reasons(),
        }
        rows.append({"method": "llm", **cost, **score(embedder, gold, summaries), "model_use": use})
    return {
        "benchmark": "session_summary",
        "config": {
            "quick": args.quick,
            "sessions": len(sessions),
            "summary_budget_tokens": budget,
            "thresholds": list(THRESHOLDS),
            "llm": llm_server_config(args),
        },
        "rows": rows,
    }


class CountedOutcomes:
    """An LLM summariser that counts who wrote each summary, and why the model did not."""

    def __init__(self, summariser: LlmSummariser) -> None:
        self._summariser = summariser
        self.tally = FallbackTally()

    def summarise(self, lines: Sequence[str], budget: int) -> str:
        text = self._summariser.summarise(lines, budget)
        outcome = self._summariser.last
        assert outcome is not None  # set by every summarise()
        self.tally.add(outcome.source, outcome.reason)
        return text


def show(result: dict[str, Any]) -> None:
    header = [
        "method",
        *(f"coverage@{t:.1f} %" for t in THRESHOLDS),
        "mean best cos",
        "tokens",
        "s/session",
    ]
    lines = [
        [
            row["method"],
            *(f"{row['coverage'][f'{t:.1f}']:.1f}" for t in THRESHOLDS),
            f"{row['mean_best_cosine']:.3f}",
            f"{row['mean_tokens']:.0f}",
            f"{row['seconds_per_session']:.2f}",
        ]
        for row in result["rows"]
    ]
    print("\n".join(table(header, lines)))
    for row in result["rows"]:
        if "model_use" in row:
            print(f"llm: {row['model_use']}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sessions",
        type=int,
        default=None,
        help="sessions per conversation (default: all; --quick 4)",
    )
    add_llm_server_arguments(parser)


def main(argv: list[str] | None = None) -> int:
    return data_benchmark_main(
        description=__doc__.splitlines()[0],
        default_out=DEFAULT_OUT,
        produce=produce,
        show=show,
        argv=argv,
        extra_arguments=add_arguments,
    )


if __name__ == "__main__":
    sys.exit(main())
