"""Realism check: the reranking benchmark's rows on synthetic users beside ConvAI2 users.

Run from the repository root::

    .venv/bin/python -m bench.population_realism --out bench/results/population_realism.json
    .venv/bin/python -m bench.population_realism --quick   # 150 users, one seed

Synthetic column (computed here): ``--users`` generated users (simulation.population, 6
sessions each), split as the federated runs split them
(simulation.populations.synthetic_population): a fifth of the users are held out
(``unseen_users``); the others' first four sessions train and their last two are the
``later_turns``. Each request has 20 candidates (the gold reply, up to 7 "topical"
distractors answering the same request for other values of the same attribute, and
replies to other requests); the persona is the user's session-0 attributes written as
"name: value" facts (client.persona.fact_text). Rows and metrics are those of
bench.rerank_personachat, computed with its functions: ``cosine``, ``cosine_persona``,
``persona_maxsim`` (lambda chosen on the training split), ``head_central`` (mean over
seeds), plus ``head_untrained`` (a fresh head, which ranks as cosine + 1.0 x maxsim) and
``head_central_100_clients`` (trained on the first 100 seen users' items only: the users and
the data of the default federated run). Chance: hits@1 5.0, MRR 0.180.

ConvAI2 column (not recomputed): read from ``--convai2``, by default
bench/results/rerank_personachat.json, the committed full run of that benchmark.

Diagnostics (synthetic only) say where the synthetic task is hard: how often a scorer's
top candidate answers the right request (is on topic), and hits@1 among the topical
candidates only, including an oracle that scores with the one fact the request is about,
and hits@1 on the items whose labelled value the session-0 persona holds and on the others.
Results and what they mean: docs/population.md, "Realism check".
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.reporting import run_and_report
from bench.rerank_personachat import (
    SPLITS,
    Row,
    Scores,
    central_heads,
    choose_lambda,
    cosine,
    mean_rows,
    persona_maxsim,
    rows_for,
)
from client.embedding.factory import default_embedder
from client.embedding.manifest import default_cache_dir
from client.persona import fact_text
from client.training_pairs import TrainingPair
from models.embedding_cache import EmbeddingCache
from models.encoded import EmbedFn, EncodedExamples, encode
from models.ranking_metrics import hits_at_1
from models.ranking_task import RankingExample
from models.reranking_head import HeadConfig
from models.splits import HOLDOUT_FRACTION
from models.training import TrainConfig, new_head, score
from simulation.population import RankingTurn, generate_population, iter_rankings
from simulation.populations import ClientData, synthetic_population

DEFAULT_OUT = Path("bench/results/population_realism.json")
CONVAI2_RESULTS = Path("bench/results/rerank_personachat.json")
DEFAULT_USERS = 400
QUICK_USERS = 150
SESSIONS = 6  # per user; the last two are the later turns (simulation.populations)
DIMENSION = 384
CANDIDATES = 20
FEDERATED_CLIENTS = 100  # a small federation: the size below which no setting learned
SMALL_HEAD = f"head_central_{FEDERATED_CLIENTS}_clients"
METHODS = (
    "cosine",
    "cosine_persona",
    "persona_maxsim",
    "head_untrained",
    "head_central",
    SMALL_HEAD,
)
Key = tuple[str, int]  # (user id, position): one ranking item
Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class SyntheticTask:
    """The generated users as the ConvAI2 benchmark's three splits, plus each item's truth."""

    train: list[RankingExample]
    later: list[RankingExample]
    unseen: list[RankingExample]
    client_ids: tuple[str, ...]
    unseen_users: int
    items: dict[Key, RankingTurn]

    def tests(self) -> dict[str, list[RankingExample]]:
        return {"unseen_users": self.unseen, "later_turns": self.later}

    def train_of_first(self, clients: int) -> list[RankingExample]:
        """The training items of the first ``clients`` seen users (the users a federated
        run with that many clients and the same seed has)."""
        chosen = set(self.client_ids[:clients])
        return [e for e in self.train if e.user_id in chosen]

    def describe(self) -> dict[str, Any]:
        return {
            "users": len(self.client_ids) + self.unseen_users,
            "unseen_users": self.unseen_users,
            "sessions_per_user": SESSIONS,
            "train_examples": len(self.train),
            f"{SMALL_HEAD}_train_examples": len(self.train_of_first(FEDERATED_CLIENTS)),
            "later_turn_examples": len(self.later),
            "unseen_user_examples": len(self.unseen),
            "persona_facts_mean": round(float(np.mean([len(e.persona) for e in self.train])), 2),
            "candidates": "gold + up to 7 topical (same attribute, other values) + other requests",
        }


def _examples(client: ClientData, pairs: Sequence[TrainingPair]) -> list[RankingExample]:
    facts = tuple(fact_text(category, name, value) for category, name, value, _ in client.persona)
    # A pair's id is f"{user_id}-{position}" (simulation.populations); the gold is first.
    return [
        RankingExample(
            client.user_id,
            int(p.id.rsplit("-", 1)[1]),
            p.context,
            facts,
            p.candidates,
            "synthetic",
        )
        for p in pairs
    ]


def build_task(users: int, *, seed: int) -> SyntheticTask:
    """``users`` generated users (a fifth of them held out), as the federated runs see them."""
    clients = round(users * (1 - HOLDOUT_FRACTION))
    population = synthetic_population(clients, seed=seed, sessions=SESSIONS)
    train = [e for c in population.clients for e in _examples(c, c.train)]
    later = [e for c in population.clients for e in _examples(c, c.evaluation)]
    unseen_ids = {e.user_id for e in population.unseen_users}
    # A user depends only on the seed and its index, so regenerating gives the same items.
    generated = generate_population(
        len(population.clients) + len(unseen_ids), seed=seed, sessions_per_user=SESSIONS
    )
    items = {
        (item.user.user_id, item.turn.index + 100 * item.session.index): item
        for item in iter_rankings(generated)
    }
    ids = tuple(c.user_id for c in population.clients)
    return SyntheticTask(train, later, list(population.unseen_users), ids, len(unseen_ids), items)


def cached_embedder() -> tuple[EmbedFn, str]:
    """The device encoder (ONNX MiniLM) behind the benchmarks' embedding cache."""
    encoder = default_embedder(export_if_missing=True)
    path = default_cache_dir() / "embeddings" / f"{encoder.name}.npz"
    return EmbeddingCache(path, encoder.name, encoder.embed), encoder.name


def persona_prefixed(examples: Sequence[RankingExample]) -> list[RankingExample]:
    """The examples with the persona facts written before the context (as for ConvAI2)."""
    return [replace(e, context=" ".join(e.persona) + " " + e.context) for e in examples]


def score_all(
    train: EncodedExamples,
    small_train: EncodedExamples,
    tests: Mapping[str, EncodedExamples],
    prefixed: Mapping[str, EncodedExamples],
    seeds: Sequence[int],
) -> tuple[dict[str, list[dict[str, Scores]]], float]:
    """Per method, one {split: scores} per seed (one for the methods without a seed)."""
    lam = choose_lambda(train)
    fresh = new_head(HeadConfig(), seed=seeds[0])
    central, _ = central_heads(train, dict(tests), seeds, HeadConfig())
    small, _ = central_heads(small_train, dict(tests), seeds, HeadConfig())
    scores = {
        "cosine": [{s: cosine(d) for s, d in tests.items()}],
        "cosine_persona": [{s: cosine(d) for s, d in prefixed.items()}],
        "persona_maxsim": [{s: cosine(d) + lam * persona_maxsim(d) for s, d in tests.items()}],
        "head_untrained": [{s: score(fresh, d) for s, d in tests.items()}],
        "head_central": central,
        SMALL_HEAD: small,
    }
    return scores, lam


def table_rows(scores: Mapping[str, list[dict[str, Scores]]]) -> list[Row]:
    rows: list[Row] = []
    for method in METHODS:
        per_seed = scores[method]
        rows += mean_rows(method, per_seed) if len(per_seed) > 1 else rows_for(method, per_seed[0])
    return rows


def topical_mask(examples: Sequence[RankingExample], items: Mapping[Key, RankingTurn]) -> Mask:
    """(N, 20): which candidates answer the request itself (the gold and its topical rivals)."""
    mask = np.zeros((len(examples), CANDIDATES), np.bool_)
    for row, example in enumerate(examples):
        ranking = items[(example.user_id, example.position)].ranking
        topical = {ranking.candidates[i] for i in ranking.topical}
        mask[row] = [text in topical for text in example.candidates]
    return mask


def label_fact_scores(
    examples: Sequence[RankingExample],
    data: EncodedExamples,
    items: Mapping[Key, RankingTurn],
    embed: EmbedFn,
) -> tuple[Scores, Mask]:
    """Cosine of each candidate to the fact the request is about (an oracle's choice of
    fact), and which items' labelled value is the one the given persona holds (the persona
    is session 0's, so a value changed or an interest added later is not in it)."""
    labels = [items[(e.user_id, e.position)].label for e in examples]
    facts = [fact_text(label.category, label.name, label.value) for label in labels]
    scores: Scores = np.einsum("nkd,nd->nk", data.candidates, embed(facts))
    held = np.array([fact in e.persona for fact, e in zip(facts, examples, strict=True)])
    return scores, held


def split_diagnostics(
    scores: Mapping[str, Scores], topical: Mask, oracle: Scores, held: Mask
) -> dict[str, Any]:
    """Percentages: on-topic top-1 share, hits@1 among topical candidates only, and hits@1
    on the items whose labelled value the persona holds and on the others."""
    rows = np.arange(len(topical))
    within = {**scores, "label_fact_oracle": oracle}
    return {
        "topical_candidates_mean": round(float(topical.sum(axis=1).mean()), 2),
        "topic_only_hits@1": round(100 * float(np.mean(1 / topical.sum(axis=1))), 2),
        "label_value_in_persona": round(100 * float(held.mean()), 2),
        "top1_on_topic": {
            m: round(100 * float(topical[rows, s.argmax(axis=1)].mean()), 2)
            for m, s in scores.items()
        },
        "within_topic_hits@1": {
            m: round(100 * hits_at_1(np.where(topical, s, -np.inf)), 2) for m, s in within.items()
        },
        "hits@1_value_in_persona": {m: _percent(s[held]) for m, s in scores.items()},
        "hits@1_value_not_in_persona": {m: _percent(s[~held]) for m, s in scores.items()},
    }


def _percent(scores: Scores) -> float | None:
    return round(100 * hits_at_1(scores), 2) if len(scores) else None


def diagnostics(
    task: SyntheticTask,
    tests: Mapping[str, EncodedExamples],
    scores: Mapping[str, list[dict[str, Scores]]],
    embed: EmbedFn,
) -> dict[str, Any]:
    """Per test split; seeded methods use their first seed."""
    result = {}
    for split, examples in task.tests().items():
        topical = topical_mask(examples, task.items)
        oracle, held = label_fact_scores(examples, tests[split], task.items, embed)
        by_method = {m: scores[m][0][split] for m in METHODS}
        result[split] = split_diagnostics(by_method, topical, oracle, held)
    return result


def convai2_column(path: Path) -> dict[str, Any] | None:
    """The committed ConvAI2 run's rows for the methods compared here (None if missing)."""
    if not path.is_file():
        return None
    report = json.loads(path.read_text(encoding="utf-8"))
    config = report["config"]
    return {
        "source": str(path),
        "note": "committed full run of bench.rerank_personachat, not recomputed",
        "rows": [r for r in report["rows"] if r["method"] in METHODS],
        "users": config["users"],
        "unseen_users": config["unseen_users"],
        "train_examples": config["train_examples"],
        "seeds": config["seeds"],
        "persona_maxsim_lambda": config["persona_maxsim_lambda"],
        "candidates": config["candidates"],
    }


def chance() -> dict[str, float]:
    """A random order of 20 candidates: hits@1 1/20, MRR the mean of 1/r over r = 1..20."""
    return {
        "hits@1": round(100 / CANDIDATES, 2),
        "mrr": round(float(np.mean(1 / np.arange(1, CANDIDATES + 1))), 4),
    }


def run(args: argparse.Namespace, say: Callable[[str], None]) -> dict[str, Any]:
    seeds = [args.seed] if args.quick else [args.seed + i for i in range(3)]
    users = args.users or (QUICK_USERS if args.quick else DEFAULT_USERS)
    say(f"generating {users} synthetic users ...")
    task = build_task(users, seed=args.seed)
    embed, encoder = cached_embedder()
    say("encoding ...")
    train = encode(task.train, embed, dimension=DIMENSION)
    tests = {s: encode(e, embed, dimension=DIMENSION) for s, e in task.tests().items()}
    prefixed = {
        s: encode(persona_prefixed(e), embed, dimension=DIMENSION) for s, e in task.tests().items()
    }
    small = encode(task.train_of_first(FEDERATED_CLIENTS), embed, dimension=DIMENSION)
    say("scoring and training central heads ...")
    scores, lam = score_all(train, small, tests, prefixed, seeds)
    return {
        "rows": [r.to_json() for r in table_rows(scores)],
        "convai2": convai2_column(args.convai2),
        "chance": chance(),
        "diagnostics": diagnostics(task, tests, scores, embed),
        "config": {
            **task.describe(),
            "population_seed": args.seed,
            "encoder": encoder,
            "seeds": seeds,
            "persona_maxsim_lambda": lam,
            "head": HeadConfig().to_json(),
            "train": TrainConfig().__dict__,
        },
    }


NAME = 26  # width of the method column


def _by_method(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Mapping[str, Any]]]:
    found: dict[str, dict[str, Mapping[str, Any]]] = defaultdict(dict)
    for row in rows:
        found[row["method"]][row["split"]] = row
    return found


def _cells(splits: Mapping[str, Mapping[str, Any]]) -> str:
    cells = []
    for split in SPLITS:
        row = splits.get(split)
        cells.append(f"{row['hits@1']:6.1f} {row['mrr']:6.3f}" if row else f"{'n/a':>6} {'':>6}")
    return "  ".join(cells)


def print_table(result: Mapping[str, Any]) -> None:
    ours = _by_method(result["rows"])
    theirs = _by_method((result["convai2"] or {}).get("rows", []))
    print(f"{'':<{NAME}} {'synthetic (computed here)':^28}  {'ConvAI2 (committed run)':^28}")
    print(f"{'':<{NAME}} " + "  ".join([f"{'unseen users':^13}  {'later turns':^13}"] * 2))
    print(f"{'method':<{NAME}} " + "  ".join([f"{'hits@1':>6} {'MRR':>6}"] * 4))
    for method in METHODS:
        print(f"{method:<{NAME}} {_cells(ours[method])}  {_cells(theirs.get(method, {}))}")
    odds = result["chance"]
    print(f"{'chance':<{NAME}} " + "  ".join([f"{odds['hits@1']:6.1f} {odds['mrr']:6.3f}"] * 4))
    _print_sources(result)
    _print_diagnostics(result["diagnostics"])


def _print_sources(result: Mapping[str, Any]) -> None:
    config, convai2 = result["config"], result["convai2"]
    print(
        f"synthetic: computed now, {config['users']} users ({config['unseen_users']} unseen), "
        f"seed {config['population_seed']}, {config['persona_facts_mean']} facts per persona, "
        f"lambda {config['persona_maxsim_lambda']}, head seeds {config['seeds']}; candidates: "
        f"{config['candidates']}"
    )
    if convai2 is None:
        print("ConvAI2: no committed results found; run bench.rerank_personachat first")
        return
    print(
        f"ConvAI2: {convai2['source']} ({convai2['note']}), {convai2['users']} users "
        f"({convai2['unseen_users']} unseen), lambda {convai2['persona_maxsim_lambda']}, "
        f"seeds {convai2['seeds']}; candidates: {convai2['candidates']}"
    )


def _print_diagnostics(diagnostics: Mapping[str, Mapping[str, Any]]) -> None:
    for split, found in diagnostics.items():
        print(
            f"synthetic {split}: {found['topical_candidates_mean']} topical candidates "
            f"(knowing only the topic: {found['topic_only_hits@1']:.1f} hits@1); labelled value "
            f"in the session-0 persona: {found['label_value_in_persona']:.1f}%"
        )
        on_topic = ", ".join(f"{m} {v:.1f}" for m, v in found["top1_on_topic"].items())
        within = ", ".join(f"{m} {v:.1f}" for m, v in found["within_topic_hits@1"].items())
        print(f"  top-1 on topic (%): {on_topic}")
        print(f"  hits@1 among topical candidates only: {within}")
        for subset in ("value_in_persona", "value_not_in_persona"):
            hits = ", ".join(
                f"{m} {v:.1f}" for m, v in found[f"hits@1_{subset}"].items() if v is not None
            )
            print(f"  hits@1, {subset.replace('_', ' ')}: {hits}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--users", type=int, default=None, help="synthetic users, held-out included"
    )
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_USERS} users, one seed")
    parser.add_argument("--convai2", type=Path, default=CONVAI2_RESULTS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    return run_and_report(lambda say: run(args, say=say), print_table, args.out)


if __name__ == "__main__":
    sys.exit(main())
