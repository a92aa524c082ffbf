"""Federated head on ConvAI2/PersonaChat under user-level DP, and what federation costs.

Run from the repository root::

    .venv/bin/python -m bench.federated --out bench/results/federated.json [--quick]

Quality: the real device and server code (client.federated_round, server.federated_run)
over the in-process transport, one simulated device per seen PersonaChat user, at
epsilon = inf (no noise), 8, 3 and 1 with delta = 1/N^1.1; the final head is scored on
unseen users (held out of the federation) and on the devices' own later turns, with the
reranking benchmark's metric (hits@1/20, reconstructed candidates). Personalisation: the
same global head after a short local fine-tune on each device's own earlier turns.
Public start (models.public_pretraining): a head trained centrally on public data that holds
none of the 1,000 ConvAI2 users, scored alone (``public_pretrained``, it spends no privacy)
and used as the federation's starting point (``federated_from_public``) at the
``--public-epsilons``. Public data: Synthetic-Persona-Chat conversations none of whose
personas is a ConvAI2 validation persona (the validation file here has none: it re-tells
exactly those 1,000 pairs), plus generated users (simulation.population, nobody real).
Throughput: one round with 10% of N synthetic devices sampled, each measured in a fresh
process (updates per second of wall time, peak resident memory of that process).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from copy import deepcopy
from pathlib import Path
from typing import Any

import numpy as np

from bench.reporting import write_report
from client.embedding.factory import default_embedder
from client.embedding.manifest import default_cache_dir
from client.persona import fact_text
from client.training_pairs import TrainingPair
from models.data.locations import PERSONACHAT_VALID, SPC_VALID, data_dir, require
from models.data.personachat import load_personachat
from models.data.synthetic_persona_chat import load_spc
from models.embedding_cache import EmbeddingCache
from models.encoded import EmbedFn, encode
from models.public_pretraining import pretrain_head, public_spc_conversations, spc_examples
from models.ranking_metrics import hits_at_1, mean_reciprocal_rank
from models.ranking_task import RankingExample
from models.reranking_head import RerankingHead
from models.training import TrainConfig, score, train_head
from models.weights import load_checkpoint, save_checkpoint
from privacy.noise import SeededGaussian
from server.federated_run import run_federation
from server.held_out import Evaluate
from server.run_settings import RunSettings
from simulation.in_process_transport import InProcessTransport
from simulation.populations import (
    ClientData,
    PopulationData,
    load_population,
    synthetic_population,
)
from simulation.run_workspace import prepare_workspace

DEFAULT_OUT = Path("bench/results/federated.json")
EPSILONS = (math.inf, 8.0, 3.0, 1.0)
PUBLIC_EPSILONS = (8.0,)
ROUNDS = 60  # 30 left epsilon 8 about 4 points behind the central head (docs/benchmarks.md)
CLIPPING_NORM = 0.5
LOCAL_EPOCHS = 5
LEARNING_RATE = 0.01
SERVER_LEARNING_RATE = 5.0
# The published head is a moving average of the rounds' heads (bench/head_averaging.py:
# +0.4 / +0.9 points over the last head on the 3-seed mean at epsilon 8).
HEAD_AVERAGING = 0.8
PUBLIC_SEED = 4242  # the generated public users' seed (any: they are nobody)
FINE_TUNE = TrainConfig(epochs=2, batch_size=16, learning_rate=1e-3, validation_fraction=0.0)


def ranking_examples(client: ClientData, pairs: Sequence[TrainingPair]) -> list[RankingExample]:
    """A device's pairs (its earlier or its later turns) as ranking examples with its persona."""
    facts = tuple(fact_text(c, n, v) for c, n, v, _ in client.persona)
    return [
        RankingExample(client.user_id, i, p.context, facts, p.candidates)
        for i, p in enumerate(pairs)
    ]


def evaluate(
    model: RerankingHead, population: PopulationData, embed: EmbedFn
) -> dict[str, tuple[float, float, int]]:
    later = [e for c in population.clients for e in ranking_examples(c, c.evaluation)]
    result = {}
    for split, examples in (
        ("unseen_users", list(population.unseen_users)),
        ("later_turns", later),
    ):
        scores = score(model, encode(examples, embed, dimension=384))
        result[split] = (hits_at_1(scores), mean_reciprocal_rank(scores), len(examples))
    return result


def fine_tuned_later_turns(
    model: RerankingHead, population: PopulationData, embed: EmbedFn
) -> tuple[float, float, int]:
    """Each device fine-tunes the global head on its earlier turns, then ranks its later ones."""
    all_scores = []
    for client in population.clients:
        later = ranking_examples(client, client.evaluation)
        if not later:
            continue
        local = deepcopy(model)
        train_head(
            local, encode(ranking_examples(client, client.train), embed, dimension=384), FINE_TUNE
        )
        all_scores.append(score(local, encode(later, embed, dimension=384)))
    scores = np.concatenate(all_scores)
    return hits_at_1(scores), mean_reciprocal_rank(scores), len(scores)


def federate(
    settings: RunSettings,
    population: PopulationData,
    root: Path,
    start: RerankingHead | None = None,
    evaluate_with: Callable[[EmbedFn], Evaluate] | None = None,
) -> tuple[RerankingHead, EmbedFn, dict[str, Any]]:
    """Run the federation; ``start`` (a public head) replaces the untrained starting head;
    ``evaluate_with(embed)``, if given, scores the head before and after every round.

    The start is written as the run's checkpoint before the first round: the server
    resumes from a checkpoint, while the round loop and the privacy accounting follow the
    ledger, which does not exist yet, so all ``settings.rounds`` rounds run and are paid.
    """
    workspace = prepare_workspace(root, settings, population)
    if start is not None:
        if workspace.ledger_path.exists() or workspace.checkpoint_path.exists():
            raise ValueError(f"{root} already holds a run; a start head must come first")
        save_checkpoint(
            workspace.checkpoint_path,
            start,
            extra={"rounds": 0, "clipping_norm": settings.clipping_norm, "start": "public"},
        )
    noise = SeededGaussian(np.random.default_rng(settings.seed))
    transport = InProcessTransport(
        workspace, len(population.clients), noise, secure_sum=settings.secure_aggregation
    )
    started = time.perf_counter()
    outcome = run_federation(
        settings,
        workspace,
        transport,
        noise=noise,
        rng=random.Random(settings.seed),
        say=lambda line: print(f"  eps {settings.epsilon:g} {line}", file=sys.stderr),
        evaluate=None
        if evaluate_with is None
        else evaluate_with(workspace.devices.embed_function()),
    )
    model, _ = load_checkpoint(workspace.checkpoint_path)
    facts = {
        "rounds": outcome.rounds,
        "epsilon_rdp": outcome.epsilon_rdp,
        "noise_multiplier": outcome.noise_multiplier,
        "state": outcome.state,
        "seconds": round(time.perf_counter() - started, 1),
    }
    return model, workspace.devices.embed_function(), facts


def quality_rows(
    base: RunSettings,
    population: PopulationData,
    folder: Path,
    epsilons: Sequence[float] = EPSILONS,
    *,
    start: RerankingHead | None = None,
    method: str = "federated",
    fine_tune: bool = True,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for epsilon in epsilons:
        settings = base.with_values(epsilon=epsilon)
        model, embed, facts = federate(
            settings, population, folder / f"{method}-eps-{epsilon:g}", start
        )
        common = {
            "epsilon": None if math.isinf(epsilon) else epsilon,
            "delta": settings.target_delta,
            "clients_per_round": settings.clients_per_round,
            # central: the server adds the noise; secure: the devices' noise shares, summed
            "aggregation": "secure" if settings.secure_aggregation else "central",
            **facts,
        }
        for split, (hits, mrr, n) in evaluate(model, population, embed).items():
            rows.append(
                {
                    "method": method,
                    "split": split,
                    "hits@1": 100 * hits,
                    "mrr": mrr,
                    "n": n,
                    **common,
                }
            )
        if not fine_tune:
            continue
        hits, mrr, n = fine_tuned_later_turns(model, population, embed)
        rows.append(
            {
                "method": f"{method}_finetuned",
                "split": "later_turns",
                "hits@1": 100 * hits,
                "mrr": mrr,
                "n": n,
                **common,
            }
        )
    return rows


def public_examples(public_users: int, seed: int) -> tuple[list[RankingExample], dict[str, Any]]:
    """Public ranking examples: SPC conversations of no ConvAI2 persona, and generated users.

    Every one of the 1,000 ConvAI2 validation dialogues is excluded (seen and unseen users
    alike), whatever ``--clients`` is.
    """
    folder = data_dir()
    dialogues = load_personachat(require(folder, PERSONACHAT_VALID))
    public = public_spc_conversations(load_spc(require(folder, SPC_VALID)), dialogues)
    examples = spc_examples(public.kept, seed=seed) if public.kept else []
    spc_count = len(examples)
    generated = synthetic_population(public_users, seed=PUBLIC_SEED)
    for client in generated.clients:
        examples += ranking_examples(client, client.train + client.evaluation)
    examples += list(generated.unseen_users)
    return examples, {
        "excluded_dialogues": len(dialogues),
        "spc_conversations": len(public.kept) + public.dropped,
        "spc_conversations_kept": len(public.kept),
        "spc_examples": spc_count,
        "generated_users": len(generated.clients)
        + len({e.user_id for e in generated.unseen_users}),
        "generated_examples": len(examples) - spc_count,
    }


def public_rows(
    base: RunSettings, population: PopulationData, public_users: int
) -> tuple[RerankingHead, list[dict[str, Any]], dict[str, Any]]:
    """The public head and its rows: round 0 of ``federated_from_public`` (no device took
    part yet, so it spends no privacy: epsilon 0)."""
    seed = base.seed
    examples, facts = public_examples(public_users, seed)
    encoder = default_embedder(export_if_missing=True)
    embed = EmbeddingCache(
        default_cache_dir() / "embeddings" / f"{encoder.name}.npz", encoder.name, encoder.embed
    )
    started = time.perf_counter()
    model, result = pretrain_head(examples, embed, seed=seed)
    facts = {
        **facts,
        "examples": len(examples),
        "epochs_run": result.epochs_run,
        "best_epoch": result.best_epoch,
        "seconds": round(time.perf_counter() - started, 1),
    }
    rows = [
        {
            "method": "public_pretrained",
            "split": split,
            "hits@1": 100 * hits,
            "mrr": mrr,
            "n": n,
            "epsilon": 0.0,
            "clients_per_round": base.clients_per_round,
            "rounds": 0,
            "noise_multiplier": None,
            "public_data": facts,
        }
        for split, (hits, mrr, n) in evaluate(model, population, embed).items()
    ]
    return model, rows, facts


def throughput(clients: int, folder: Path) -> dict[str, Any]:
    """One round, 10% of ``clients`` synthetic devices, in this (fresh) process."""
    settings = RunSettings(
        population="synthetic",
        clients=clients,
        rounds=1,
        clients_per_round=max(1, clients // 10),
        sampling="fixed_size",
        epsilon=8.0,
        local_epochs=1,
        secure_aggregation=False,  # the devices' work and the server's arithmetic, no protocol
        secure_noise=False,
    )
    population = load_population("synthetic", clients, seed=0)
    workspace = prepare_workspace(folder, settings, population)
    noise = SeededGaussian(np.random.default_rng(0))
    transport = InProcessTransport(
        workspace, clients, noise, secure_sum=settings.secure_aggregation
    )
    started = time.perf_counter()
    run_federation(
        settings, workspace, transport, noise=noise, rng=random.Random(0), say=lambda _: None
    )
    seconds = time.perf_counter() - started
    peak_mb = peak_rss_mb()
    return {
        "clients": clients,
        "sampled": settings.clients_per_round,
        "updates_per_s": settings.clients_per_round / seconds,
        "round_seconds": seconds,
        "peak_rss_mb": peak_mb,
    }


def peak_rss_mb() -> float:
    """This process's peak resident memory. Linux's ru_maxrss survives fork and exec, so in
    a child it reports at least the parent's peak; VmHWM is the process's own."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def throughput_in_subprocess(clients: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "t.json"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.federated",
                "--throughput-only",
                str(clients),
                "--out",
                str(out),
            ],
            check=True,
        )
        return dict(json.loads(out.read_text()))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--quick", action="store_true", help="200 devices, 8 rounds")
    parser.add_argument("--clients", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--clients-per-round", type=int, default=None)
    parser.add_argument("--epsilons", type=float, nargs="*", default=list(EPSILONS))
    parser.add_argument("--learning-rate", type=float, default=None)
    parser.add_argument("--server-learning-rate", type=float, default=None)
    parser.add_argument("--local-epochs", type=int, default=None)
    parser.add_argument(
        "--server-momentum", type=float, default=0.0, help="DP-FedAvgM's beta (0: none)"
    )
    parser.add_argument(
        "--head-averaging",
        type=float,
        default=HEAD_AVERAGING,
        help="publish a moving average of the rounds' heads with this beta (0: the last head)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="the run's seed: device sampling, noise and the head's start (not the population)",
    )
    parser.add_argument("--clipping-norm", type=float, default=None)
    parser.add_argument(
        "--secure-aggregation",
        action="store_true",
        help="devices add noise shares and the server gets only sums (in-process, no crypto)",
    )
    parser.add_argument(
        "--public-epsilons",
        type=float,
        nargs="*",
        default=list(PUBLIC_EPSILONS),
        help="epsilons of the federation from the public head (none: no public rows at all)",
    )
    parser.add_argument(
        "--public-users",
        type=int,
        default=None,
        help="generated public users to pretrain on (default: half the devices, at least 20)",
    )
    parser.add_argument(
        "--throughput",
        type=int,
        nargs="*",
        default=None,
        help="device counts for the throughput rows (default 100 1000)",
    )
    parser.add_argument("--throughput-only", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.throughput_only is not None:
        with tempfile.TemporaryDirectory() as folder:
            result = throughput(args.throughput_only, Path(folder))
        args.out.write_text(json.dumps(result))
        return 0
    return _full_run(args)


def _full_run(args: argparse.Namespace) -> int:
    logging.getLogger("absl").setLevel(logging.ERROR)  # dp-accounting's per-order notices
    clients = args.clients or (200 if args.quick else 800)
    base = RunSettings(
        population="personachat",
        clients=clients,
        rounds=args.rounds or (8 if args.quick else ROUNDS),
        clients_per_round=args.clients_per_round or (40 if args.quick else 100),
        clipping_norm=args.clipping_norm or CLIPPING_NORM,
        # Set here, not taken from RunSettings' (conservative) defaults, so that the
        # command in docs/benchmarks.md keeps measuring the same configuration.
        local_epochs=args.local_epochs or LOCAL_EPOCHS,
        learning_rate=args.learning_rate or LEARNING_RATE,
        server_learning_rate=args.server_learning_rate or SERVER_LEARNING_RATE,
        server_momentum=args.server_momentum,
        head_averaging=args.head_averaging,
        seed=args.seed,
        secure_aggregation=args.secure_aggregation,
        secure_noise=False,
    )
    population = load_population("personachat", clients, seed=0)
    started = time.perf_counter()
    public_facts: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory() as folder:
        rows = quality_rows(base, population, Path(folder), args.epsilons)
        if args.public_epsilons:
            public_users = args.public_users or max(20, clients // 2)
            start, public, public_facts = public_rows(base, population, public_users)
            rows += public
            rows += quality_rows(
                base,
                population,
                Path(folder),
                args.public_epsilons,
                start=start,
                method="federated_from_public",
                fine_tune=False,
            )
    counts = (
        args.throughput if args.throughput is not None else ([100] if args.quick else [100, 1000])
    )
    result = {
        "rows": rows,
        "throughput": [throughput_in_subprocess(n) for n in counts],
        "config": {
            **base.to_json(),
            "seconds": round(time.perf_counter() - started, 1),
            "unseen_users": len(population.unseen_users),
            "metric": "hits@1/20 (reconstructed candidates)",
            "public_data": public_facts,
        },
    }
    print_table(result)
    write_report(result, args.out)
    print(f"wrote {args.out}")
    return 0


def print_table(result: dict[str, Any]) -> None:
    print(
        f"{'method':<26} {'epsilon':>7} {'split':<13} {'hits@1':>7} {'MRR':>6} "
        f"{'rounds':>6} {'z':>6}"
    )
    for row in result["rows"]:
        eps = "inf" if row["epsilon"] is None else f"{row['epsilon']:g}"
        z = "-" if row["noise_multiplier"] is None else f"{row['noise_multiplier']:.3f}"
        print(
            f"{row['method']:<26} {eps:>7} {row['split']:<13} {row['hits@1']:7.1f} "
            f"{row['mrr']:6.3f} {row['rounds']:6d} {z:>6}"
        )
    for t in result["throughput"]:
        print(
            f"throughput: {t['clients']} devices, {t['sampled']} sampled: "
            f"{t['updates_per_s']:.1f} updates/s, peak RSS {t['peak_rss_mb']:.0f} MB"
        )


if __name__ == "__main__":
    sys.exit(main())
