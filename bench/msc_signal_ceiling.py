"""How far hand-weighted word counts take the public head on Multi-Session Chat (issue 13).

Target (b) asks for the head after federated rounds on Multi-Session Chat devices at
cosine + 5. Every head trained on the frozen MiniLM embeddings stops below it
(docs/benchmarks.md, "The ceiling for target (b)"), so this benchmark asks what the cheap
signals that embedding drops could add at best, with no training and no noise: the public
head's scores plus w x two counts,

- shared words: content words a candidate shares with the turn (``models.lexical_overlap``,
  the head's fifth input, whose weight the federation learns);
- shared persona words: content words a candidate shares with the speaker's earlier facts
  (the names, pets and places they mentioned before),

over a grid of weights, chosen two ways per seed: the best on the devices' own exchanges
(what a deployment could pick) and the best on the held-out rows themselves (an oracle no
deployment has: an upper bound, not a result). The pairs, split and draws are those of
``bench.generalisation_federated --quick``.

    OMP_NUM_THREADS=1 .venv/bin/python -m bench.msc_signal_ceiling
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.generalisation_data import msc_sessions
from bench.generalisation_federated import QUICK_PAIRS, device_examples, held_out_rows, split_pairs
from bench.population_realism import cached_embedder
from bench.reporting import data_benchmark_main, table
from bench.rerank_personachat import cosine
from models.data.msc import MscSession
from models.encoded import EmbedFn, EncodedExamples, encode
from models.lexical_overlap import shared_word_counts
from models.public_head import load_public_head
from models.ranking_metrics import hits_at_1
from models.ranking_task import RankingExample
from models.reranking_head import EMBEDDING_DIM, RerankingHead
from models.training import score

DEFAULT_OUT = Path("bench/results/msc_signal_ceiling.json")
QUICK_TEST_PAIRS = 10  # --quick: a slice for tests
SHARED_WEIGHTS = (0.0, 0.0125, 0.025, 0.05, 0.1)
PERSONA_WEIGHTS = (0.0, 0.01, 0.025, 0.05)
# The shared-words weight the first probe favoured on these pairs (docs/benchmarks.md,
# "Shared words"), and about where hits@1 on the devices' rows peaks.
FIXED_SHARED_WEIGHT = 0.05
Counts = npt.NDArray[np.float32]


def persona_word_counts(examples: Sequence[RankingExample], width: int) -> Counts:
    """(N, ``width``): each candidate's content words in common with its row's persona facts
    (zero for padding)."""
    counts = np.zeros((len(examples), width), np.float32)
    known: dict[str, frozenset[str]] = {}
    for row, example in enumerate(examples):
        facts = " ".join(example.persona)
        shared = shared_word_counts(facts, example.candidates, known)
        counts[row, : len(shared)] = shared
    return counts


def _grid_hits(
    base: Counts, data: EncodedExamples, persona: Counts
) -> dict[tuple[float, float], float]:
    """hits@1 (percent) of ``base`` + a x shared words + b x persona words, for every (a, b)."""
    return {
        (a, b): 100 * hits_at_1(base + a * data.shared_words + b * persona, data.labels)
        for a, b in itertools.product(SHARED_WEIGHTS, PERSONA_WEIGHTS)
    }


def evaluate_seed(
    sessions: Sequence[MscSession], embed: EmbedFn, head: RerankingHead, *, seed: int, pairs: int
) -> dict[str, Any]:
    """Held-out hits@1 of each row for one seed, and the weights each choice picked."""
    chosen = sorted({s.pair_id for s in sessions})[:pairs]
    device_pairs, held = split_pairs(chosen, seed)
    own = device_examples(sessions, device_pairs, seed + 20)
    rows = {
        "devices": [e for speaker in sorted(own) for e in own[speaker]],
        "held_out": held_out_rows(sessions, chosen, held, seed),
    }
    encoded = {name: encode(e, embed, dimension=EMBEDDING_DIM) for name, e in rows.items()}
    grids = {}
    for name, data in encoded.items():
        persona = persona_word_counts(rows[name], data.shared_words.shape[1])
        grids[name] = _grid_hits(score(head, data), data, persona)
    held_out = encoded["held_out"]
    on_devices = max(grids["devices"], key=lambda w: grids["devices"][w])
    oracle = max(grids["held_out"], key=lambda w: grids["held_out"][w])
    test = grids["held_out"]
    return {
        "hits": {
            "cosine": 100 * hits_at_1(cosine(held_out), held_out.labels),
            "public_head": test[(0.0, 0.0)],
            "public_head_shared_words": test[(FIXED_SHARED_WEIGHT, 0.0)],
            "chosen_on_devices": test[on_devices],
            "oracle_chosen_on_held_out": test[oracle],
        },
        "weights": {"chosen_on_devices": on_devices, "oracle_chosen_on_held_out": oracle},
        "sizes": {name: len(examples) for name, examples in rows.items()},
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--msc-pairs", type=int, default=None, help=f"default {QUICK_PAIRS}")
    parser.add_argument("--seeds", type=int, default=None, help="default 3 (--quick: 1)")
    parser.add_argument("--seed", type=int, default=0, help="the first seed")


def produce(args: argparse.Namespace, say: Callable[[str], None]) -> dict[str, Any]:
    pairs = args.msc_pairs or (QUICK_TEST_PAIRS if args.quick else QUICK_PAIRS)
    seeds = [args.seed + i for i in range(args.seeds or (1 if args.quick else 3))]
    sessions = msc_sessions(args.data_dir)
    embed, _ = cached_embedder()
    head = load_public_head()
    per_seed = []
    for seed in seeds:
        say(f"seed {seed}: {pairs} MSC pairs")
        per_seed.append(evaluate_seed(sessions, embed, head, seed=seed, pairs=pairs))
    cosine_mean = statistics.mean(r["hits"]["cosine"] for r in per_seed)
    rows = []
    for method in per_seed[0]["hits"]:
        values = [r["hits"][method] for r in per_seed]
        mean = statistics.mean(values)
        rows.append(
            {
                "method": method,
                "dataset": "msc",
                "split": "held_out_pairs",
                "hits@1": round(mean, 2),
                "hits@1_per_seed": [round(v, 2) for v in values],
                "over_cosine": round(mean - cosine_mean, 2),
            }
        )
    return {
        "rows": rows,
        "config": {
            "seeds": seeds,
            "msc_pairs": pairs,
            "shared_weights": SHARED_WEIGHTS,
            "persona_weights": PERSONA_WEIGHTS,
            "fixed_shared_weight": FIXED_SHARED_WEIGHT,
            "chosen_weights_per_seed": [r["weights"] for r in per_seed],
            "rows_per_seed": [r["sizes"] for r in per_seed],
        },
    }


def show(result: dict[str, Any]) -> None:
    header = ["held-out MSC pairs", "hits@1", "over cosine", "per seed"]
    lines = [
        [
            r["method"],
            f"{r['hits@1']:.1f}",
            f"{r['over_cosine']:+.1f}",
            " / ".join(f"{v:.1f}" for v in r["hits@1_per_seed"]),
        ]
        for r in result["rows"]
    ]
    print("\n".join(table(header, lines)))


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
