"""`fedpersona simulate`: a simulated federated run with user-level differential privacy.

Every setting is checked, and the run folder found usable, before any set-up work: a bad
setting is one line on stderr and exit code 2 (client.cli.failures), never a traceback
after "setting up...".
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from client.cli.failures import UsageError
from privacy.ledger import governing_epsilon
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
    sim.add_argument("--delta", type=finite_float, default=None, help="default 1/clients^1.1")
    sim.add_argument(
        "--noise-multiplier",
        type=finite_float,
        default=None,
        help="default: the smallest that fits --rounds in the budget",
    )
    sim.add_argument(
        "--clipping-norm",
        type=finite_float,
        default=defaults.clipping_norm,
        help="clipping norm (the starting one with --adaptive-clipping)",
    )
    sim.add_argument(
        "--adaptive-clipping",
        action="store_true",
        help="track a quantile of update norms (Andrew et al. 2021)",
    )
    sim.add_argument("--target-quantile", type=finite_float, default=defaults.target_quantile)
    sim.add_argument("--local-epochs", type=positive_int, default=defaults.local_epochs)
    sim.add_argument(
        "--learning-rate",
        type=positive_float,
        default=defaults.learning_rate,
        help="devices' local learning rate",
    )
    sim.add_argument(
        "--server-learning-rate",
        type=positive_float,
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
        type=finite_float,
        default=defaults.dropout_tolerance,
        help="with --secure-aggregation: share of a round's devices that may drop out",
    )
    sim.add_argument("--seed", type=natural_int, default=defaults.seed)
    sim.add_argument(
        "--seeded-noise",
        action="store_true",
        help="reproducible noise from --seed (experiments; not for production)",
    )
    sim.add_argument("--data-dir", type=Path, default=None)
    sim.add_argument("--out", type=Path, default=Path("runs/simulation"))
    sim.set_defaults(handler=_simulate)


def finite_float(text: str) -> float:
    """A float argument that is a real number (argparse turns the ValueError into exit 2)."""
    value = float(text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def positive_float(text: str) -> float:
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def natural_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative")
    return value


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return value


def _simulate(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    check_run_folder(args.out, settings)
    from server.simulation import simulate  # Flower and Ray load only for a run that starts

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
        if last["eval_hits_at_1"] is not None:
            print(
                f"quality: hits@1/20 {100 * last['eval_hits_at_1']:.1f} on the sampled "
                f"devices' own later turns (last round)"
            )
    if summary.unseen_hits_at_1 is not None:
        print(
            f"quality: hits@1/20 {100 * summary.unseen_hits_at_1:.1f} on "
            f"{summary.unseen_examples} turns of users who never took part"
        )
    print(f"metrics store: {summary.metrics_path}")
    return 0


def settings_from(args: argparse.Namespace) -> RunSettings:
    """The run's settings, checked by everything that can refuse them, before any set-up.

    RunSettings validates itself; the privacy ledger's settings (calibrated noise, delta
    against the population for fixed-size sampling) are built once here for their checks.
    """
    from server.privacy_budget import ledger_settings_for

    try:
        settings = RunSettings(
            population=args.population,
            clients=args.clients,
            rounds=args.rounds,
            clients_per_round=args.clients_per_round,  # more than --clients is refused
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
        ledger_settings_for(settings)
    except ValueError as error:
        raise UsageError(f"simulate: {error}") from error
    return settings


def check_run_folder(out: Path, settings: RunSettings) -> None:
    """A folder this run can resume, or set itself up in (OSErrors keep their own codes)."""
    from server.run_workspace import WorkspaceMismatchError, check_out_folder

    try:
        check_out_folder(out, settings)
    except WorkspaceMismatchError as error:
        raise UsageError(f"simulate: {error}") from error
