"""Epsilon under each accounting assumption, for the default run: what not trusting the
sampling costs.

Run from the repository root::

    .venv/bin/python -m bench.accounting_assumptions --out bench/results/accounting_assumptions.json

For a run's settings (default: `make run`'s and the deployed run's, 1,000 devices, 20
rounds, 50 a round, epsilon 8, delta 1/(10 N)), each row is one accounting: amplified by
Poisson or fixed-size sampling (true only if the server really samples at random), or
unamplified with each device joining at most k rounds (true however devices are chosen).
Columns: the noise multiplier z the run calibrates to for its budget, and the epsilon
(RDP, PLD where it applies) that the amplified Poisson run's own z is worth under that
accounting. Pure arithmetic with dp-accounting: no training, a few seconds.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.reporting import positive_int, run_and_report, table
from privacy.accounting_assumption import describe_assumption
from privacy.calibration import compute_epsilon
from server.privacy_budget import noise_multiplier_for, sampling_of
from server.run_settings import RunSettings

CAPS = (1, 2, 5)


def accountings(base: RunSettings) -> list[tuple[str, RunSettings]]:
    """(label, settings) for each accounting compared, the amplified Poisson run first."""
    rows = [
        ("amplified, Poisson", base.with_values(sampling="poisson", accounting="amplified")),
        ("amplified, fixed-size", base.with_values(sampling="fixed_size", accounting="amplified")),
    ]
    for cap in sorted({*CAPS, base.rounds}):
        if cap <= base.rounds:
            label = f"unamplified, k = {cap}" + (" (every round)" if cap == base.rounds else "")
            rows.append((label, base.with_values(accounting="unamplified", participation_cap=cap)))
    return rows


def compare(base: RunSettings, say: Any) -> dict[str, Any]:
    rows = []
    reference_z = noise_multiplier_for(accountings(base)[0][1])
    for label, settings in accountings(base):
        say(f"calibrating {label}")
        sampling = sampling_of(settings)
        at_reference = {
            kind: compute_epsilon(
                sampling, [reference_z] * base.rounds, delta=base.target_delta, accountant=kind
            )
            for kind in sampling.accountants
        }
        rows.append(
            {
                "accounting": label,
                "assumes": describe_assumption(sampling),
                "noise_multiplier": noise_multiplier_for(settings),
                "epsilon_at_reference_z": at_reference,
            }
        )
    config = {
        "clients": base.clients,
        "rounds": base.rounds,
        "clients_per_round": base.clients_per_round,
        "epsilon": base.epsilon,
        "delta": base.target_delta,
        "reference_noise_multiplier": reference_z,
    }
    return {"config": config, "rows": rows}


def show(result: dict[str, Any]) -> None:
    c = result["config"]
    print(
        f"{c['clients']} devices, {c['rounds']} rounds, {c['clients_per_round']} a round, "
        f"delta {c['delta']:.1e}; epsilon {c['epsilon']:g} budget"
    )
    header = ("accounting", f"z for epsilon {c['epsilon']:g}", "epsilon at z of Poisson run")
    body = [
        (
            r["accounting"],
            f"{r['noise_multiplier']:.3f}",
            " / ".join(f"{v:.2f} ({k.upper()})" for k, v in r["epsilon_at_reference_z"].items()),
        )
        for r in result["rows"]
    ]
    print("\n".join(table(header, body)))
    print(f"(z of the amplified Poisson run: {c['reference_noise_multiplier']:.3f})")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=positive_int, default=RunSettings().clients)
    parser.add_argument("--rounds", type=positive_int, default=RunSettings().rounds)
    parser.add_argument(
        "--clients-per-round", type=positive_int, default=RunSettings().clients_per_round
    )
    parser.add_argument("--epsilon", type=float, default=RunSettings().epsilon)
    parser.add_argument("--out", type=str, default="bench/results/accounting_assumptions.json")
    args = parser.parse_args(argv)
    logging.getLogger("absl").setLevel(logging.ERROR)  # dp-accounting's dropped RDP orders
    base = RunSettings(
        clients=args.clients,
        rounds=args.rounds,
        clients_per_round=args.clients_per_round,
        epsilon=args.epsilon,
    )
    return run_and_report(lambda say: compare(base, say), show, Path(args.out))


if __name__ == "__main__":
    sys.exit(main())
