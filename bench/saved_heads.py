"""Saved heads (a run's ``head.npz``, the public head) on the generalisation benchmark's sets.

Run from the repository root::

    .venv/bin/python -m bench.saved_heads --head make_run=runs/simulation/head.npz \
        --out bench/results/saved_heads.json

What a federation's head is worth beyond the population it trained on: each saved head is
scored, as it is, on bench/generalisation.py's sets for one seed's draw (ConvAI2 unseen
users and later turns, Multi-Session Chat validation sessions 2-4, PrefEval multiple
choice), beside plain cosine, the two untrained heads and the shipped public head
(models.public_head). hits@1 in percent. No stance stage: the heads alone.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from bench.generalisation import mean_rows
from bench.generalisation_eval import SeedResult, load_sets, record
from bench.reporting import data_benchmark_main, table
from bench.rerank_personachat import cosine
from models.public_head import load_public_head
from models.reranking_head import HeadConfig, RerankingHead
from models.robust_head import REPLY_HEAD
from models.training import new_head, score
from models.weights import load_checkpoint

DEFAULT_OUT = Path("bench/results/saved_heads.json")
# --quick: a slice for tests (the generalisation benchmark's test uses the same one)
QUICK_USERS, QUICK_MSC_PAIRS = 20, 6
BUILT_IN = ("cosine", "untrained_default", "untrained_reply", "public_head")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--head",
        action="append",
        default=[],
        type=head_spec,
        metavar="NAME=PATH",
        help="a saved head checkpoint to score (a run folder's head.npz); repeatable",
    )
    parser.add_argument("--seed", type=int, default=0, help="the sets' draw (default 0)")


def head_spec(text: str) -> tuple[str, Path]:
    """``NAME=PATH`` of an existing file, for ``--head``."""
    name, separator, path = text.partition("=")
    if not separator or not name or not path:
        raise argparse.ArgumentTypeError(f"takes NAME=PATH, got {text!r}")
    if name in BUILT_IN:
        raise argparse.ArgumentTypeError(f"{name!r} is already a row")
    if not Path(path).is_file():
        raise argparse.ArgumentTypeError(f"no head file at {path}")
    return name, Path(path)


def named_heads(specs: list[tuple[str, Path]]) -> dict[str, RerankingHead]:
    heads = {
        "untrained_default": new_head(HeadConfig(), seed=0),
        "untrained_reply": new_head(REPLY_HEAD, seed=0),
        "public_head": load_public_head(),
    }
    return heads | {name: load_checkpoint(path)[0] for name, path in specs}


def produce(args: argparse.Namespace, say: Callable[[str], None]) -> dict[str, Any]:
    heads = named_heads(args.head)
    sets = load_sets(
        args.data_dir,
        seed=args.seed,
        convai2_users=QUICK_USERS if args.quick else None,
        msc_pairs=QUICK_MSC_PAIRS if args.quick else None,
        say=say,
    )
    result = SeedResult()  # the generalisation benchmark's record, one seed
    record(result, "cosine", sets, cosine)
    for name, model in heads.items():
        record(result, name, sets, partial(score, model))
    saved = {name: str(path) for name, path in args.head}
    return {
        "rows": mean_rows([result]),
        "config": {"seed": args.seed, "quick": args.quick, "heads": saved},
    }


def show(result: dict[str, Any]) -> None:
    columns = list(dict.fromkeys((r["dataset"], r["split"]) for r in result["rows"]))
    methods = list(dict.fromkeys(r["method"] for r in result["rows"]))
    value = {(r["method"], r["dataset"], r["split"]): r["hits@1"] for r in result["rows"]}
    header = ["method", *(f"{d} {s}" for d, s in columns)]
    lines = [[m, *(f"{value[(m, d, s)]:.1f}" for d, s in columns)] for m in methods]
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
