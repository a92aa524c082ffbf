"""Does personalisation hold beyond the data it was tuned on? (issue 13)

Run from the repository root::

    .venv/bin/python -m bench.generalisation --out bench/results/generalisation.json
    .venv/bin/python -m bench.generalisation --quick   # 250 ConvAI2 users, 100 MSC pairs

Metric: hits@1 in percent (ConvAI2 and MSC: 1 gold among 20, reconstructed candidates;
PrefEval: 1 preference-following option among 4, random 25%). Sets (bench.generalisation_data):

- ``convai2``: ConvAI2 valid, the reranking benchmark's protocol (models.splits): splits
  ``unseen_users`` and ``later_turns``.
- ``msc``: Multi-Session Chat validation sessions 2-4, split ``valid_sessions_2_4``: a
  population no head here has trained on.
- ``prefeval``: PrefEval multiple choice on the 8 development topics, split
  ``mcq_dev_topics``. Heads that train on PrefEval never see the topic they are scored
  on: topics are split into two folds and each fold is scored by the head trained on the
  other (so a row estimates topics the head has not had, as the issue's judge will).

Methods: ``cosine`` (context vs candidate); ``persona_maxsim`` (cosine + lambda x best
persona-fact cosine, lambda picked on the ConvAI2 training split); ``head_previous``
(the head before issue 13: no stance features, trained on ConvAI2 only, early stopping
on a slice of the same users' examples, never the untrained head); ``head_central``
(models' default head, stance features and persona gate: stage 1 on ConvAI2's seen
users with early stopping on held-out users that may keep the untrained head, shown
alone as ``head_conversations``; stage 2, models.stance_training, teaches the stance
on the PrefEval fold it is not scored on). Parsed stance (models.stance):
``head_stance_input`` (the stage-1 head given the stance-signed persona,
models.stance_persona), ``head_stance_trained`` (trained with it, HeadConfig.stance_input),
``head_stance_untrained`` (its prior alone), and on PrefEval ``stance_parsed`` (seven
features, hand-set weights, models.stance_scorer) and ``stance_parsed_loto`` (weights
fitted on seven topics, scored on the eighth). The stance stage after the head
(models.stance_stage, bench.generalisation_stage): ``head_stance_stage`` and its variants,
with ``*_avoiding`` splits (only the rows whose persona states an avoidance). The
null heads (models.robust_head, trained once on ConvAI2): ``head_null`` (the MLP's
correction shrunk on held-out users) and ``head_null_ensemble`` (the output-space
ensemble with the untrained head, its weight chosen on the same users);
``persona_null`` is the untrained head. ``--rows reply_stage``: the baselines, ``head_null``,
``head_reply`` (the untrained null head plus a context-to-reply term trained on ConvAI2,
models.reply_match) and ``head_null_reply`` (that head after head_null's training), each
with the stance stage. Every row is the mean over 3 seeds (``--seeds``;
the data draw, the candidates and the heads change with the seed); the JSON has each seed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.generalisation_eval import ROW_SETS, SeedResult, evaluate_seed
from bench.reporting import positive_int, run_and_report, table
from bench.rerank_data import QUICK_USERS

DEFAULT_OUT = Path("bench/results/generalisation.json")
QUICK_MSC_PAIRS = 100


def mean_rows(results: Sequence[SeedResult]) -> list[dict[str, Any]]:
    """One row per (method, dataset, split): mean hits@1 over seeds, with each seed's."""
    rows = []
    for key in results[0].hits:
        if any(key not in r.hits for r in results):  # a subset empty in some seed's draw
            continue
        per_seed = [r.hits[key] for r in results]
        method, dataset, split = key
        row: dict[str, Any] = {
            "method": method,
            "dataset": dataset,
            "split": split,
            "hits@1": round(100 * statistics.mean(per_seed), 2),
            "hits@1_per_seed": [round(100 * h, 2) for h in per_seed],
            "n": results[0].sizes[(dataset, split)],
        }
        topics = [r.per_topic.get(method, {}) for r in results]
        if topics[0]:
            row["per_topic"] = {
                t: round(100 * statistics.mean(s[t] for s in topics), 2) for t in topics[0]
            }
        rows.append(row)
    return rows


def run(args: argparse.Namespace, say: Callable[[str], None]) -> dict[str, Any]:
    seeds = [args.seed + i for i in range(args.seeds)]
    results = []
    for seed in seeds:
        say(f"seed {seed} ...")
        results.append(
            evaluate_seed(
                args.data_dir,
                seed=seed,
                convai2_users=args.users or (QUICK_USERS if args.quick else None),
                msc_pairs=args.msc_pairs or (QUICK_MSC_PAIRS if args.quick else None),
                say=say,
                rows=args.rows,
            )
        )
    return {
        "rows": mean_rows(results),
        "config": {
            "seeds": seeds,
            "quick": bool(args.quick),
            "rows": args.rows,
            **results[0].config,
            "metric": "hits@1 (%): 1 of 20 (ConvAI2, MSC; reconstructed candidates), 1 of 4 "
            "(PrefEval)",
        },
    }


def print_table(result: dict[str, Any]) -> None:
    columns = sorted({(r["dataset"], r["split"]) for r in result["rows"]}, key=_column_order)
    methods = list(dict.fromkeys(r["method"] for r in result["rows"]))
    cell = {(r["method"], r["dataset"], r["split"]): r for r in result["rows"]}
    lines = []
    for method in methods:
        values = [cell.get((method, *c)) for c in columns]
        worst = [min(r["per_topic"].values()) for r in values if r and "per_topic" in r]
        lines.append(
            [method]
            + [f"{r['hits@1']:.1f}" if r else "n/a" for r in values]
            + [f"{worst[0]:.1f}" if worst else "n/a"]
        )
    header = ["method", *(f"{d} {s}" for d, s in columns), "prefeval worst topic"]
    print("\n".join(table(header, lines)))
    print(f"seeds {result['config']['seeds']}; hits@1 in %, mean over seeds")


def _column_order(column: tuple[str, str]) -> tuple[int, str]:
    return (("convai2", "msc", "prefeval").index(column[0]), column[1])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--quick", action="store_true", help="250 ConvAI2 users, 100 MSC pairs")
    parser.add_argument("--users", type=positive_int, default=None, help="first N ConvAI2 users")
    parser.add_argument("--msc-pairs", type=positive_int, default=None, help="first N MSC pairs")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--seeds", type=positive_int, default=3, help="seeds --seed, --seed + 1, ... (default 3)"
    )
    parser.add_argument(
        "--rows",
        choices=ROW_SETS,
        default="all",
        help="all rows; only the baselines, the null heads and the stage on each; or the "
        "baselines, head_null and the heads with the context-to-reply term, with the stage",
    )
    args = parser.parse_args(argv)
    np.seterr(all="ignore")
    return run_and_report(lambda say: run(args, say=say), print_table, args.out)


if __name__ == "__main__":
    sys.exit(main())
