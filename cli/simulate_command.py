"""`fedpersona simulate`: a simulated federated run with user-level differential privacy.

Its flags, their help and their defaults come from the fields of RunSettings
(cli.settings_arguments): a setting is declared once. Every setting is checked, and the run
folder found usable, before any set-up work: a bad setting is one line on stderr and exit
code 2 (cli.failures), never a traceback after "setting up...".
"""

from __future__ import annotations

import argparse
import logging
import math
from pathlib import Path

from cli.failures import UsageError
from cli.settings_arguments import add_run_settings_arguments, run_settings_from
from privacy.ledger import explain_delta, governing_epsilon
from server.metrics_store import RoundRow
from server.run_settings import RunSettings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = commands.add_parser(
        "simulate",
        help="run simulated federated rounds with differential privacy",
        description="Simulated devices train the reranking head on their own encrypted data; "
        "the server aggregates clipped, noised updates and stops before the "
        "privacy budget is spent.",
    )
    add_run_settings_arguments(sim)
    sim.add_argument(
        "--data-dir", type=Path, default=None, help="data sets (default: ../shared/data)"
    )
    sim.add_argument(
        "--out",
        type=Path,
        default=Path("runs/simulation"),
        help="run folder; an existing run there is resumed (default: runs/simulation)",
    )
    sim.set_defaults(handler=_simulate)


def _simulate(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    check_run_folder(args.out, settings)
    from simulation.simulate import simulate  # Flower and Ray load only for a run that starts

    summary = simulate(settings, args.out, data_dir=args.data_dir)
    print()
    print(f"run {summary.state}: {summary.detail}")
    if summary.rounds:
        _print_privacy(summary.rounds[-1], settings)
    if summary.heldout_before is not None and summary.heldout_after is not None:
        ci = summary.heldout_ci95 or 0.0
        gain = summary.heldout_after - summary.heldout_before
        verdict = "a gain larger than" if gain > ci else "within" if gain > -ci else "a loss beyond"
        print(
            f"quality: hits@1/20 on {summary.heldout_examples} turns of users who never took "
            f"part: {summary.heldout_before:.1f} before -> {summary.heldout_after:.1f} after "
            f"(95% interval +-{ci:.1f}: {verdict} the interval)"
        )
    print(f"metrics store: {summary.metrics_path}")
    return 0 if summary.state != "failed" else 1


def _print_privacy(last: RoundRow, settings: RunSettings) -> None:
    spent = governing_epsilon(last.epsilon_rdp, last.epsilon_pld)
    budget = (
        "no budget (no noise: no privacy guarantee)"
        if not settings.private
        else f"of a budget of {settings.epsilon:g}"
    )
    shown = f"{spent:.2f}" if math.isfinite(spent) else "inf"
    print(
        f"privacy: epsilon {shown} spent {budget}, delta {last.delta:.2e}, "
        f"noise multiplier {last.noise_multiplier:.3f}, clipping norm {last.clipping_norm:g}"
    )
    print(f"         {explain_delta(last.delta, settings.clients)}")
    if last.eval_hits_at_1 is not None:
        spread = 100 * (last.statistic_noise_std or 0.0) / max(last.clients_completed, 1)
        print(
            f"         the devices' own later turns: hits@1/20 {100 * last.eval_hits_at_1:.1f} "
            f"(a noised statistic, +-{spread:.0f}; last round)"
        )


def settings_from(args: argparse.Namespace) -> RunSettings:
    """The run's settings, checked by everything that can refuse them, before any set-up.

    RunSettings validates itself; the privacy ledger's settings (calibrated noise, delta
    against the population) are built once here for their checks.
    """
    from server.privacy_budget import ledger_settings_for

    # dp-accounting logs each RDP order it drops as numerically unstable; the orders left
    # still bound epsilon, so the warnings tell a person nothing.
    logging.getLogger("absl").setLevel(logging.ERROR)
    try:
        settings = run_settings_from(args)
        ledger_settings_for(settings)
    except ValueError as error:
        raise UsageError(f"simulate: {error}") from error
    return settings


def check_run_folder(out: Path, settings: RunSettings) -> None:
    """A folder this run can resume, or set itself up in (OSErrors keep their own codes)."""
    from simulation.run_workspace import WorkspaceMismatchError, check_out_folder

    try:
        check_out_folder(out, settings)
    except WorkspaceMismatchError as error:
        raise UsageError(f"simulate: {error}") from error
