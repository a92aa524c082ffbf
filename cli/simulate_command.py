"""`fedpersona simulate`: a simulated federated run with user-level differential privacy."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from privacy.ledger import explain_delta, governing_epsilon
from server.run_settings import POPULATIONS, SAMPLING, RunSettings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    defaults = RunSettings()
    sim = commands.add_parser(
        "simulate",
        help="run simulated federated rounds with differential privacy",
        description="Simulated devices train the reranking head on their own encrypted data; "
        "the server aggregates clipped, noised updates and stops before the "
        "privacy budget is spent.",
    )
    sim.add_argument("--population", choices=POPULATIONS, default=defaults.population)
    sim.add_argument("--clients", type=int, default=defaults.clients)
    sim.add_argument("--rounds", type=int, default=defaults.rounds)
    sim.add_argument(
        "--clients-per-round",
        type=int,
        default=defaults.clients_per_round,
        help="expected clients per round (Poisson) or exact (fixed-size)",
    )
    sim.add_argument("--sampling", choices=SAMPLING, default=defaults.sampling)
    sim.add_argument(
        "--epsilon",
        type=float,
        default=defaults.epsilon,
        help="privacy budget; 'inf' trains without noise (no privacy)",
    )
    sim.add_argument(
        "--delta", type=float, default=None, help="default 1/(10*clients); must be below 1/clients"
    )
    sim.add_argument(
        "--noise-multiplier",
        type=float,
        default=None,
        help="default: the smallest that fits --rounds in the budget",
    )
    sim.add_argument(
        "--clipping-norm",
        type=float,
        default=defaults.clipping_norm,
        help="clipping norm (the starting one with --adaptive-clipping)",
    )
    sim.add_argument(
        "--adaptive-clipping",
        action="store_true",
        help="track a quantile of update norms (Andrew et al. 2021)",
    )
    sim.add_argument("--target-quantile", type=float, default=defaults.target_quantile)
    sim.add_argument("--local-epochs", type=int, default=defaults.local_epochs)
    sim.add_argument(
        "--learning-rate",
        type=float,
        default=defaults.learning_rate,
        help="devices' local learning rate",
    )
    sim.add_argument(
        "--server-learning-rate",
        type=float,
        default=defaults.server_learning_rate,
        help="server step as a multiple of the mean update",
    )
    sim.add_argument(
        "--secure-aggregation",
        action=argparse.BooleanOptionalAction,
        default=defaults.secure_aggregation,
        help="SecAgg+: the server sees only each round's sum, devices add the noise (default "
        "on; --no-secure-aggregation: the server sees each clipped update and adds the noise)",
    )
    sim.add_argument(
        "--dropout-tolerance",
        type=float,
        default=defaults.dropout_tolerance,
        help="with --secure-aggregation: share of a round's devices that may drop out",
    )
    sim.add_argument("--seed", type=int, default=defaults.seed)
    sim.add_argument(
        "--seeded-noise",
        action="store_true",
        help="reproducible noise from --seed (experiments; not for production)",
    )
    sim.add_argument("--data-dir", type=Path, default=None)
    sim.add_argument("--out", type=Path, default=Path("runs/simulation"))
    sim.set_defaults(handler=_simulate)


def _simulate(args: argparse.Namespace) -> int:
    from simulation.simulate import simulate  # Flower and Ray load only for this command

    try:
        settings = RunSettings(
            population=args.population,
            clients=args.clients,
            rounds=args.rounds,
            clients_per_round=min(args.clients_per_round, args.clients),
            sampling=args.sampling,
            epsilon=args.epsilon,
            delta=args.delta,
            noise_multiplier=args.noise_multiplier,
            clipping_norm=args.clipping_norm,
            adaptive_clipping=args.adaptive_clipping,
            target_quantile=args.target_quantile,
            local_epochs=args.local_epochs,
            learning_rate=args.learning_rate,
            server_learning_rate=args.server_learning_rate,
            secure_aggregation=args.secure_aggregation,
            dropout_tolerance=args.dropout_tolerance,
            seed=args.seed,
            secure_noise=not args.seeded_noise,
        )
    except ValueError as error:
        raise SystemExit(f"fedpersona simulate: {error}") from None
    summary = simulate(settings, args.out, data_dir=args.data_dir)
    print()
    print(f"run {summary.state}: {summary.detail}")
    if summary.rounds:
        last = summary.rounds[-1]
        spent = governing_epsilon(last["epsilon_rdp"], last["epsilon_pld"])
        budget = (
            "no budget (no noise: no privacy guarantee)"
            if not settings.private
            else (f"of a budget of {settings.epsilon:g}")
        )
        shown = f"{spent:.2f}" if math.isfinite(spent) else "inf"
        print(
            f"privacy: epsilon {shown} spent {budget}, "
            f"delta {last['delta']:.2e}, noise multiplier {last['noise_multiplier']:.3f}, "
            f"clipping norm {last['clipping_norm']:g}"
        )
        print(f"         {explain_delta(last['delta'], settings.clients)}")
        if last["eval_hits_at_1"] is not None:
            noise = last["statistic_noise_std"] or 0.0
            spread = 100 * noise / max(last["clients_completed"], 1)
            print(
                f"quality: hits@1/20 {100 * last['eval_hits_at_1']:.1f} (noisy, +-{spread:.0f}) "
                f"on the sampled devices' own later turns (last round)"
            )
    if summary.unseen_hits_at_1 is not None:
        print(
            f"quality: hits@1/20 {100 * summary.unseen_hits_at_1:.1f} on "
            f"{summary.unseen_examples} turns of users who never took part"
        )
    print(f"metrics store: {summary.metrics_path}")
    return 0
