"""Build the public start head (models.public_head) and say how it ranks.

Run from the repository root::

    .venv/bin/python -m bench.public_head --out bench/results/public_head.json

It trains ``REPLY_HEAD``'s context-to-reply term alone (models.robust_head.fit_reply_term,
the recipe of bench/generalisation.py's ``head_reply``) on the ConvAI2 training split of
seed 0, gives the term its shared-words weight at zero (``with_shared_words``: the same
scores; each federation learns the weight for its own people), writes the checkpoint the
federation and the devices start from (``models/checkpoints/public_reply_head.json``;
``--quick`` writes beside the report instead, ``--checkpoint`` anywhere), and prints its
hits@1 on that split's unseen users and later turns against plain cosine and the untrained
head. Deterministic: the same data and seed give the same weights.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.reporting import data_benchmark_main, table
from bench.rerank_data import load_bench_data
from bench.rerank_personachat import Scores, cosine, rows_for
from models.encoded import EncodedExamples, encode
from models.public_head import PUBLIC_HEAD_PATH, write_public_head
from models.reranking_head import EMBEDDING_DIM
from models.robust_head import REPLY_HEAD, fit_reply_term, with_shared_words
from models.training import TrainConfig, new_head, score

DEFAULT_OUT = Path("bench/results/public_head.json")
SEED = 0  # the generalisation benchmark's seed 0: its split's test users stay unseen
QUICK_USERS = 40  # correctness only (tests): a few seconds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help=f"where the head goes (default {PUBLIC_HEAD_PATH}; with --quick, beside --out)",
    )


def produce(args: argparse.Namespace, say: Callable[[str], None]) -> dict[str, Any]:
    users = QUICK_USERS if args.quick else None
    data = load_bench_data(args.data_dir, users=users, seed=SEED, with_spc=False, say=say)
    train = encode(data.train_examples, data.embed, dimension=EMBEDDING_DIM)
    model = new_head(REPLY_HEAD, seed=SEED)
    untrained = new_head(REPLY_HEAD, seed=SEED)
    fitted = fit_reply_term(
        model, train, [e.user_id for e in data.train_examples], TrainConfig(seed=SEED)
    )
    say(f"term: best epoch {fitted.training.best_epoch}, weight {fitted.scale}")
    # ConvAI2 and Synthetic-Persona-Chat rank the same with or without shared words
    # (docs/benchmarks.md, "Shared words"): the weight starts at zero, for each
    # federation to learn on its own people.
    model = with_shared_words(model)
    tests = {
        "unseen_users": encode(data.unseen_examples, data.embed, dimension=EMBEDDING_DIM),
        "later_turns": encode(data.later_examples, data.embed, dimension=EMBEDDING_DIM),
    }
    scorers: dict[str, Callable[[EncodedExamples], Scores]] = {
        "cosine": cosine,
        "untrained": lambda test: score(untrained, test),
        "public_head": lambda test: score(model, test),
    }
    # The reranking benchmark's rows (ConvAI2's reconstructed candidates put the gold first).
    rows = [
        row.to_json()
        for method, scorer in scorers.items()
        for row in rows_for(method, {split: scorer(test) for split, test in tests.items()})
    ]
    checkpoint = args.checkpoint or (
        args.out.with_name(f"{args.out.stem}_head.json") if args.quick else PUBLIC_HEAD_PATH
    )
    provenance = {
        "data": "ConvAI2 valid (ParlAI), the training split of bench.rerank_data at seed 0",
        "data_licence": "none stated for the data; released through ParlAI (MIT-licensed "
        "repository); Zhang et al. 2018, Dinan et al. 2019",
        "training_examples": len(train),
        "recipe": "models.robust_head.fit_reply_term on REPLY_HEAD, TrainConfig(seed=0); "
        "then with_shared_words (the shared-words weight at 0)",
        "best_epoch": fitted.training.best_epoch,
        "term_weight": fitted.scale,
        "built_by": "python -m bench.public_head",
    }
    write_public_head(checkpoint, model, provenance)
    say(f"wrote {checkpoint}")
    return {
        "rows": rows,
        "config": {**provenance, "checkpoint": _shown(checkpoint), "quick": args.quick},
    }


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when inside it (the JSON is committed)."""
    resolved = path.resolve()
    return (
        str(resolved.relative_to(Path.cwd())) if resolved.is_relative_to(Path.cwd()) else str(path)
    )


def show(result: dict[str, Any]) -> None:
    header = ["method", "split", "hits@1"]  # the rows' mrr and n are in the JSON
    lines = [[r["method"], r["split"], f"{r['hits@1']:.1f}"] for r in result["rows"]]
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
