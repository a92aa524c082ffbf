"""Next-utterance selection on ConvAI2/PersonaChat: baselines, the head, and its latency.

Run from the repository root::

    .venv/bin/python -m bench.rerank_personachat --out bench/results/rerank_personachat.json
    .venv/bin/python -m bench.rerank_personachat --quick   # 250 users, 1 seed, < 2 minutes

Metric: hits@1/20 (reconstructed candidates) and MRR. The official ConvAI2 candidates are
not available, so each exchange gets 19 distractors drawn with a fixed seed from other
users' replies (models.ranking_task). Protocol and leakage rules: models.splits.
Rows: ``cosine`` (context vs candidate), ``cosine_persona`` (persona prepended to the
context), ``persona_maxsim`` (cosine + lambda * max cosine to one persona fact, lambda
picked on the training split), ``head_central`` (trained on every seen user's earlier
turns; the non-private upper bound), ``head_central_no_handcrafted`` (the same head
without the three hand-made similarity features), ``head_central_spc`` (plus the
admissible Synthetic-Persona-Chat conversations of seen users), ``head_local`` (one head
per seen user trained only on that user's earlier turns; no row for unseen users, who
have no local data). Head rows are the mean over seeds; the JSON has each seed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.reporting import run_and_report
from bench.rerank_data import QUICK_USERS, BenchData, load_bench_data
from models.encoded import EmbedFn, EncodedExamples, encode
from models.onnx_export import export_head_onnx
from models.onnx_scorer import OnnxHeadScorer
from models.ranking_metrics import hits_at_1, mean_reciprocal_rank
from models.ranking_task import RankingExample
from models.reranking_head import HeadConfig, RerankingHead, parameter_count
from models.training import TrainConfig, new_head, score, train_head

DEFAULT_OUT = Path("bench/results/rerank_personachat.json")
SPLITS = ("unseen_users", "later_turns")
LAMBDAS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0)
LOCAL_CONFIG = TrainConfig(epochs=10, batch_size=16, validation_fraction=0.0)
ANCHORS = (
    ("Starspace (Zhang et al. 2018, official candidates)", 49.1),
    ("Profile Memory (Zhang et al. 2018, official candidates)", 50.9),
    ("KV Profile Memory (Zhang et al. 2018, official candidates)", 51.1),
    ("KV Profile Memory, ConvAI2 validation baseline", 55.1),
)
Scores = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Row:
    method: str
    split: str
    hits: float
    mrr: float
    n: int
    per_seed: tuple[float, ...] = ()

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "method": self.method,
            "split": self.split,
            "hits@1": round(100 * self.hits, 2),
            "mrr": round(self.mrr, 4),
            "n": self.n,
        }
        if self.per_seed:
            row["hits@1_per_seed"] = [round(100 * h, 2) for h in self.per_seed]
        return row


def cosine(data: EncodedExamples) -> Scores:
    scores: Scores = np.einsum("nd,nkd->nk", data.context, data.candidates)
    return scores


def persona_maxsim(data: EncodedExamples) -> Scores:
    facts = np.einsum("nkd,npd->nkp", data.candidates, data.persona)
    facts = np.where(data.persona_mask[:, None, :] > 0, facts, -np.inf)
    best: Scores = np.max(facts, axis=-1)
    return np.where(np.isfinite(best), best, 0.0).astype(np.float32)


def choose_lambda(train: EncodedExamples) -> float:
    """The lambda of cosine + lambda * maxsim with the best hits@1 on the training split."""
    base, extra = cosine(train), persona_maxsim(train)
    return max(LAMBDAS, key=lambda lam: (hits_at_1(base + lam * extra), -lam))


def rows_for(method: str, scores: dict[str, Scores]) -> list[Row]:
    return [
        Row(method, split, hits_at_1(s), mean_reciprocal_rank(s), len(s))
        for split, s in scores.items()
    ]


def mean_rows(method: str, per_seed: Sequence[dict[str, Scores]]) -> list[Row]:
    rows = []
    for split in per_seed[0]:
        hits = [hits_at_1(s[split]) for s in per_seed]
        mrrs = [mean_reciprocal_rank(s[split]) for s in per_seed]
        rows.append(
            Row(
                method,
                split,
                statistics.mean(hits),
                statistics.mean(mrrs),
                len(per_seed[0][split]),
                tuple(hits),
            )
        )
    return rows


def central_heads(
    train: EncodedExamples,
    tests: dict[str, EncodedExamples],
    seeds: Sequence[int],
    config: HeadConfig,
) -> tuple[list[dict[str, Scores]], RerankingHead]:
    results, model = [], new_head(config, seed=seeds[0])
    for seed in seeds:
        model = new_head(config, seed=seed)
        train_head(model, train, TrainConfig(seed=seed))
        results.append({split: score(model, data) for split, data in tests.items()})
    return results, model


def local_heads(data: BenchData, embed: EmbedFn, seed: int) -> Scores:
    """One head per seen user, trained on that user's earlier turns only."""
    by_user: dict[str, list[int]] = defaultdict(list)
    for row, example in enumerate(data.later_examples):
        by_user[example.user_id].append(row)
    train_by_user: dict[str, list[RankingExample]] = defaultdict(list)
    for example in data.train_examples:
        train_by_user[example.user_id].append(example)
    scores = np.zeros((len(data.later_examples), 20), np.float32)
    for user_id, rows in sorted(by_user.items()):
        model = new_head(HeadConfig(), seed=seed)
        train_head(model, encode(train_by_user[user_id], embed, dimension=384), LOCAL_CONFIG)
        scores[rows] = score(
            model, encode([data.later_examples[r] for r in rows], embed, dimension=384)
        )
    return scores


def latency(model: RerankingHead, train: EncodedExamples, seed: int) -> dict[str, float]:
    """onnxruntime scoring of 50 candidates (p50/p95 ms) and local training time on 100 pairs."""
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as folder:
        scorer = OnnxHeadScorer(export_head_onnx(model, Path(folder) / "head.onnx"))
        context = train.context[:1]
        candidates = np.concatenate([train.candidates[:3].reshape(1, -1, 384)[:, :50]], axis=1)
        persona, mask = train.persona[:1], train.persona_mask[:1]
        for _ in range(50):  # warm-up
            scorer.scores(context, candidates, persona, mask)
        timings = []
        for _ in range(2000):
            started = time.perf_counter()
            scorer.scores(context, candidates, persona, mask)
            timings.append((time.perf_counter() - started) * 1000)
    hundred = train.subset(rng.choice(len(train), size=min(100, len(train)), replace=False))
    one_pass = TrainConfig(epochs=1, batch_size=16, validation_fraction=0.0, seed=seed)
    started = time.perf_counter()
    train_head(new_head(HeadConfig(), seed=seed), hundred, one_pass)
    pass_seconds = time.perf_counter() - started
    started = time.perf_counter()
    train_head(new_head(HeadConfig(), seed=seed), hundred, LOCAL_CONFIG)
    return {
        "score_50_candidates_p50_ms": float(np.percentile(timings, 50)),
        "score_50_candidates_p95_ms": float(np.percentile(timings, 95)),
        "train_one_pass_100_pairs_s": pass_seconds,
        "train_local_step_100_pairs_s": time.perf_counter() - started,
        "local_step_epochs": LOCAL_CONFIG.epochs,
    }


def run(args: argparse.Namespace, say: Callable[[str], None]) -> dict[str, Any]:
    seeds = [args.seed] if args.quick else [args.seed + i for i in range(3)]
    users = args.users or (QUICK_USERS if args.quick else None)
    data = load_bench_data(
        args.data_dir, users=users, seed=args.seed, with_spc=not args.quick, say=say
    )
    embed = data.embed
    say("encoding ...")
    train, later, unseen = (
        encode(e, embed, dimension=384)
        for e in (data.train_examples, data.later_examples, data.unseen_examples)
    )
    tests = {"unseen_users": unseen, "later_turns": later}
    lam = choose_lambda(train)
    rows = rows_for("cosine", {s: cosine(d) for s, d in tests.items()})
    prefixed = {s: encode(data.persona_prefixed(s), embed, dimension=384) for s in tests}
    rows += rows_for("cosine_persona", {s: cosine(d) for s, d in prefixed.items()})
    rows += rows_for(
        "persona_maxsim", {s: cosine(d) + lam * persona_maxsim(d) for s, d in tests.items()}
    )
    say("training central heads ...")
    central, model = central_heads(train, tests, seeds, HeadConfig())
    rows += mean_rows("head_central", central)
    plain, _ = central_heads(train, tests, seeds, HeadConfig(use_handcrafted=False))
    rows += mean_rows("head_central_no_handcrafted", plain)
    if data.spc_examples:
        with_spc = encode(data.train_examples + data.spc_examples, embed, dimension=384)
        spc_scores, _ = central_heads(with_spc, tests, seeds, HeadConfig())
        rows += mean_rows("head_central_spc", spc_scores)
    say("training one local head per seen user ...")
    rows += mean_rows("head_local", [{"later_turns": local_heads(data, embed, s)} for s in seeds])
    return {
        "rows": [r.to_json() for r in rows],
        "config": {
            **data.describe(),
            "seeds": seeds,
            "persona_maxsim_lambda": lam,
            "lambda_grid": list(LAMBDAS),
            "head": HeadConfig().to_json(),
            "head_parameters": parameter_count(model),
            "train": TrainConfig().__dict__,
            "local_train": LOCAL_CONFIG.__dict__,
            "metric": "hits@1/20 (reconstructed candidates)",
        },
        "anchors": [{"method": name, "hits@1": value} for name, value in ANCHORS],
        "latency": latency(model, train, args.seed),
    }


def print_table(result: dict[str, Any]) -> None:
    by_method: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for row in result["rows"]:
        by_method[row["method"]][row["split"]] = row
    print(f"{'method':<30} {'unseen hits@1':>13} {'MRR':>6} {'later hits@1':>13} {'MRR':>6}")
    for method, splits in by_method.items():
        cells = []
        for split in SPLITS:
            row = splits.get(split)
            cells += (
                [f"{row['hits@1']:13.1f}", f"{row['mrr']:6.3f}"]
                if row
                else [f"{'n/a':>13}", f"{'':>6}"]
            )
        print(f"{method:<30} {' '.join(cells)}")
    print("anchors (official candidates, not directly comparable):")
    for anchor in result["anchors"]:
        print(f"  {anchor['method']:<60} {anchor['hits@1']:5.1f}")
    lat = result["latency"]
    print(
        f"onnxruntime, 50 candidates: p50 {lat['score_50_candidates_p50_ms']:.3f} ms, "
        f"p95 {lat['score_50_candidates_p95_ms']:.3f} ms; one training pass over 100 pairs "
        f"{lat['train_one_pass_100_pairs_s']:.3f} s ({lat['local_step_epochs']}-epoch local "
        f"step {lat['train_local_step_100_pairs_s']:.2f} s)"
    )
    config = result["config"]
    print(
        f"n: {config['users']} users ({config['unseen_users']} unseen); persona_maxsim lambda "
        f"{config['persona_maxsim_lambda']}; head {config['head_parameters']} parameters; "
        f"seeds {config['seeds']}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--quick", action="store_true", help="250 users, one seed, no SPC")
    parser.add_argument("--users", type=int, default=None, help="use the first N users only")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    return run_and_report(lambda say: run(args, say=say), print_table, args.out)


if __name__ == "__main__":
    sys.exit(main())
