"""The generalisation benchmark's federated row: Multi-Session Chat devices at epsilon 8.

Issue 13 asks for the head after federated rounds on Multi-Session Chat devices, scored on
speakers who never took part. The MSC validation pairs are split by seed: a fifth are held
out, every speaker of the other pairs is one simulated device. A device holds its own
exchanges of sessions 2-4 (context = the partner's turn, 19 distractors from other device
pairs) and, as persona, the facts annotated for it in the sessions before its last one.
The federation is bench.federated's (the real device code and server loop over the
in-process transport, DP-FedAvg with the privacy budget calibrated over all rounds,
bench.federated's clipping norm, local schedule and server step); the rounds and devices
a round are this module's. The score is the benchmark's MSC protocol on the held-out
pairs' exchanges only (the same rows and candidates as the other methods' MSC column,
restricted to those speakers).

Run from the repository root::

    OMP_NUM_THREADS=1 .venv/bin/python -m bench.generalisation_federated --quick
"""

from __future__ import annotations

import argparse
import copy
import logging
import statistics
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.federated import (
    CLIPPING_NORM,
    LEARNING_RATE,
    LOCAL_EPOCHS,
    SERVER_LEARNING_RATE,
    federate,
)
from bench.generalisation_data import msc_examples, msc_sessions, msc_utterances
from bench.reporting import positive_int, run_and_report, table
from bench.rerank_data import load_bench_data
from bench.rerank_personachat import cosine
from models.data.msc import MscSession
from models.encoded import EmbedFn, encode
from models.ranking_metrics import hits_at_1
from models.ranking_task import RankingExample
from models.reranking_head import EMBEDDING_DIM, RerankingHead
from models.robust_head import (
    NULL_HEAD,
    OVERLAP_HEAD,
    REPLY_HEAD,
    fit_reply_term,
    train_reply_heads,
    train_robust_head,
    with_shared_words,
)
from models.training import TrainConfig, new_head, score
from server.run_settings import RunSettings
from simulation.populations import ClientData, PopulationData, _pair, _statements

EPSILON = 8.0
HELD_OUT_PAIRS = 0.2
POOLED_VALIDATION = 0.2  # of the devices, for the pooled bound's stopping and term weight
QUICK_PAIRS = 100
DEFAULT_OUT = Path("bench/results/generalisation_federated.json")
Say = Callable[[str], None]


@dataclass(frozen=True)
class FederatedPlan:
    rounds: int
    clients_per_round: int
    epsilon: float = EPSILON
    local_epochs: int = LOCAL_EPOCHS
    learning_rate: float = LEARNING_RATE
    server_learning_rate: float = SERVER_LEARNING_RATE


QUICK_PLAN = FederatedPlan(rounds=8, clients_per_round=40)
FULL_PLAN = FederatedPlan(rounds=30, clients_per_round=100)


def split_pairs(pairs: Sequence[str], seed: int) -> tuple[set[str], set[str]]:
    """(device pairs, held-out pairs): a seeded fifth of the pairs never takes part."""
    ordered = sorted(set(pairs))
    order = np.random.default_rng(seed).permutation(len(ordered))
    held = round(HELD_OUT_PAIRS * len(ordered))
    return {ordered[i] for i in order[held:]}, {ordered[i] for i in order[:held]}


def device_examples(
    sessions: Sequence[MscSession], pairs: set[str], seed: int
) -> dict[str, list[RankingExample]]:
    """Each speaker of ``pairs``' exchanges in order, every one with the persona its device
    holds: the facts of its latest exchange."""
    examples = msc_examples(msc_utterances(sessions, pairs=pairs), seed=seed)
    by_speaker: dict[str, list[RankingExample]] = defaultdict(list)
    for example in examples:
        by_speaker[example.user_id].append(example)
    held = {}
    for speaker in sorted(by_speaker):
        own = sorted(by_speaker[speaker], key=lambda e: e.position)
        facts = max((e.persona for e in own), key=len)
        held[speaker] = [replace(e, persona=facts) for e in own]
    return held


def device_population(sessions: Sequence[MscSession], pairs: set[str], seed: int) -> PopulationData:
    """One device per speaker of ``pairs``, holding its ``device_examples``."""
    clients = [
        ClientData(speaker, _statements(own[0].persona), tuple(_pair(e, None) for e in own), ())
        for speaker, own in device_examples(sessions, pairs, seed).items()
    ]
    return PopulationData("msc", tuple(clients), ())


def pooled_reply_term(
    sessions: Sequence[MscSession],
    pairs: set[str],
    start: RerankingHead,
    embed: EmbedFn,
    seed: int,
) -> RerankingHead:
    """The bound a federation of these devices could reach with the term: their exchanges
    pooled centrally, no noise, the term trained as ``train_reply_heads`` trains it from
    ``start`` (stopped and weighted on a fifth of the devices; the held-out pairs unseen)."""
    held = device_examples(sessions, pairs, seed)
    examples = [e for own in held.values() for e in own]
    model = copy.deepcopy(start)
    data = encode(examples, embed, dimension=start.config.embedding_dim)
    config = TrainConfig(seed=seed, validation_fraction=POOLED_VALIDATION)
    fit_reply_term(model, data, [e.user_id for e in examples], config)
    return model


def federated_msc_head(
    population: PopulationData, start: RerankingHead, plan: FederatedPlan, seed: int
) -> tuple[RerankingHead, dict[str, object]]:
    """The published head after ``plan.rounds`` rounds at epsilon 8, from ``start``."""
    settings = RunSettings(
        population="msc",
        clients=len(population.clients),
        rounds=plan.rounds,
        clients_per_round=min(plan.clients_per_round, len(population.clients)),
        clipping_norm=CLIPPING_NORM,
        local_epochs=plan.local_epochs,
        learning_rate=plan.learning_rate,
        server_learning_rate=plan.server_learning_rate,
        epsilon=plan.epsilon,
        seed=seed,
        secure_noise=False,
    )
    with tempfile.TemporaryDirectory() as folder:
        model, _, facts = federate(settings, population, Path(folder) / "msc", start)
    return model, {**facts, "devices": settings.clients, "per_round": settings.clients_per_round}


def held_out_rows(
    sessions: Sequence[MscSession], pairs: Sequence[str], held: set[str], seed: int
) -> list[RankingExample]:
    """The benchmark's MSC rows (bench.generalisation_eval: distractors drawn with seed + 10
    over ``pairs``) of the held-out pairs' speakers."""
    examples = msc_examples(msc_utterances(sessions, pairs=set(pairs)), seed=seed + 10)
    return [e for e in examples if e.user_id.rsplit("-", 1)[0] in held]


def evaluate_seed(
    root: Path | None,
    *,
    seed: int,
    pairs: int | None,
    plan: FederatedPlan,
    say: Say,
    users: int | None = None,
    reply: bool = False,
    pooled: bool = False,
    overlap: bool = False,
) -> dict[tuple[str, str], float]:
    """hits@1 by (method, split) for one seed: cosine, the untrained null head, the central
    ConvAI2 head, and the federated heads (from the untrained and from the central head).
    With ``reply`` the federations start from the heads with the context-to-reply term
    (models.reply_match): untrained (it scores as ``persona_null``) and ``head_reply``; with
    ``pooled`` too, the same starts' term trained centrally on the devices' pooled exchanges
    (``pooled_reply_term``), the bound for those federations. With ``overlap`` too, both
    starts' terms also weigh the words a candidate shares with the context
    (models.lexical_overlap), that weight at zero: they score as without it, and the
    federation learns the weight."""
    data = load_bench_data(root, users=users, seed=seed, with_spc=False, say=say)
    sessions = msc_sessions(root)
    chosen = sorted({s.pair_id for s in sessions})[:pairs]
    device_pairs, held = split_pairs(chosen, seed)
    population = device_population(sessions, device_pairs, seed=seed + 20)
    test = encode(held_out_rows(sessions, chosen, held, seed), data.embed, dimension=EMBEDDING_DIM)
    train = encode(data.train_examples, data.embed, dimension=EMBEDDING_DIM)
    users_of = [e.user_id for e in data.train_examples]
    central, _ = train_robust_head(train, users_of, TrainConfig(seed=seed))
    heads = {"persona_null": new_head(NULL_HEAD, seed=seed), "head_null": central}
    starts = (("federated_msc", heads["persona_null"]), ("federated_msc_from_central", central))
    if reply:
        heads["head_reply"] = train_reply_heads(train, users_of, TrainConfig(seed=seed))["reply"][0]
        if overlap:  # the same heads, scoring the same, with the shared-words weight at 0
            heads["head_reply"] = with_shared_words(heads["head_reply"])
        starts = (
            ("federated_msc_reply", new_head(OVERLAP_HEAD if overlap else REPLY_HEAD, seed=seed)),
            ("federated_msc_from_head_reply", heads["head_reply"]),
        )
    say(f"{len(population.clients)} devices, {len(test)} held-out exchanges")
    for name, start in starts:
        heads[name], facts = federated_msc_head(population, start, plan, seed)
        say(f"{name}: {facts}")
        if reply and pooled:
            pooled_name = name.replace("federated", "pooled")
            heads[pooled_name] = pooled_reply_term(
                sessions, device_pairs, start, data.embed, seed + 20
            )
    hits = {("cosine", "held_out_pairs"): hits_at_1(cosine(test), test.labels)}
    for name, model in heads.items():
        hits[(name, "held_out_pairs")] = hits_at_1(score(model, test), test.labels)
    return {k: 100 * v for k, v in hits.items()}


def run(args: argparse.Namespace, say: Say) -> dict[str, Any]:
    plan = QUICK_PLAN if args.quick else FULL_PLAN
    plan = replace(
        plan,
        rounds=args.rounds or plan.rounds,
        epsilon=args.epsilon,
        local_epochs=args.local_epochs or plan.local_epochs,
        learning_rate=args.learning_rate or plan.learning_rate,
        server_learning_rate=args.server_learning_rate or plan.server_learning_rate,
    )
    seeds = [args.seed + i for i in range(args.seeds)]
    pairs = args.msc_pairs or (QUICK_PAIRS if args.quick else None)
    per_seed = [
        evaluate_seed(
            args.data_dir,
            seed=s,
            pairs=pairs,
            plan=plan,
            say=say,
            users=args.users,
            reply=args.reply_match,
            pooled=args.pooled,
            overlap=args.overlap,
        )
        for s in seeds
    ]
    rows = [
        {
            "method": method,
            "dataset": "msc",
            "split": split,
            "hits@1": round(statistics.mean(r[(method, split)] for r in per_seed), 2),
            "hits@1_per_seed": [round(r[(method, split)], 2) for r in per_seed],
        }
        for method, split in per_seed[0]
    ]
    return {
        "rows": rows,
        "config": {
            "seeds": seeds,
            "msc_pairs": pairs,
            "reply_match": args.reply_match,
            "pooled": args.pooled,
            "overlap": args.overlap,
            **plan.__dict__,
        },
    }


def print_table(result: dict[str, Any]) -> None:
    lines = [[r["method"], f"{r['hits@1']:.1f}", str(r["hits@1_per_seed"])] for r in result["rows"]]
    print("\n".join(table(["method", "MSC held-out pairs", "per seed"], lines)))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_PAIRS} MSC pairs, 8 rounds")
    parser.add_argument("--msc-pairs", type=positive_int, default=None)
    parser.add_argument("--rounds", type=positive_int, default=None)
    parser.add_argument("--epsilon", type=float, default=EPSILON, help="inf: no noise")
    parser.add_argument("--local-epochs", type=positive_int, default=None)
    parser.add_argument("--learning-rate", type=float, default=None)
    parser.add_argument("--server-learning-rate", type=float, default=None)
    parser.add_argument("--users", type=positive_int, default=None, help="first N ConvAI2 users")
    parser.add_argument(
        "--reply-match",
        action="store_true",
        help="federate from the heads with the context-to-reply term (models.reply_match)",
    )
    parser.add_argument(
        "--pooled",
        action="store_true",
        help="with --reply-match: also the term trained on the devices' pooled exchanges",
    )
    parser.add_argument(
        "--overlap",
        action="store_true",
        help="with --reply-match: the term also weighs shared words (OVERLAP_HEAD)",
    )
    parser.add_argument("--seeds", type=positive_int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.getLogger("absl").setLevel(logging.ERROR)
    return run_and_report(lambda say: run(args, say), print_table, args.out)


if __name__ == "__main__":
    sys.exit(main())
