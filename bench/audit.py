"""The empirical privacy audit at full size: the honest mechanism and each break, as rows.

Run from the repository root::

    .venv/bin/python -m bench.audit --out bench/results/audit.json

For each mode (SecAgg+: devices add noise shares, the server sees the sum; plain: the
server re-bounds each release and adds the noise) and each round count, the canary audit
(``simulation.audit.canary_audit``: trials with and without a canary device through the
real release and DP-FedAvg code, a Clopper-Pearson lower bound on epsilon at 95%) and the
one-run audit (``simulation.audit.one_run``: 1,000 canaries in a single run) of the honest
mechanism and of each deliberately broken one, beside the ledger's epsilon for exactly what
ran. Then the privacy-holes checks (the full suite, SIGKILL-and-resume included).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.reporting import positive_int, run_and_report, table
from simulation.audit.breaks import BREAKS, Break
from simulation.audit.canary_audit import AuditPlan, run_canary_audit
from simulation.audit.one_run import run_one_run_audit
from simulation.audit.privacy_holes import run_checks
from simulation.audit.report import finite_or_none, verdict

DEFAULT_OUT = Path("bench/results/audit.json")


def audit_row(plan: AuditPlan) -> dict[str, Any]:
    audit, one_run = run_canary_audit(plan), run_one_run_audit(plan)
    return {
        "mode": "secagg+" if plan.secure_aggregation else "plain",
        "rounds": plan.rounds,
        "broken": plan.broken,
        "trials_per_arm": plan.trials,
        "noise_multiplier": audit.noise_multiplier,
        "ledger_epsilon": audit.ledger_epsilon,
        "empirical_epsilon_lower": audit.bound.lower,
        "ci_point": finite_or_none(audit.bound.point),  # null: unbounded
        "ci_high": finite_or_none(audit.bound.upper),
        "one_run_epsilon_lower": one_run.lower,
        "one_run_correct": f"{one_run.correct}/{one_run.guesses}",
        "verdict": verdict(audit),
    }


def produce(
    trials: int, rounds: Sequence[int], checks: bool
) -> Callable[[Callable[[str], None]], dict[str, Any]]:
    def run(say: Callable[[str], None]) -> dict[str, Any]:
        rows = []
        breaks: tuple[Break | None, ...] = (None, *BREAKS)
        for secure in (True, False):
            for count in rounds:
                for broken in breaks:
                    say(f"{'secagg+' if secure else 'plain'}, {count} round(s), {broken} ...")
                    plan = AuditPlan(
                        trials=trials, rounds=count, secure_aggregation=secure, broken=broken
                    )
                    rows.append(audit_row(plan))
        suite = []
        if checks:
            say("privacy-holes checks ...")
            suite = [vars(c) for c in run_checks(full=True)]
        config = {"trials_per_arm": trials, "claimed_epsilon": 2.0, "delta": 1e-5}
        return {"rows": rows, "checks": suite, "config": config}

    return run


def _number(value: float | None) -> str:
    return "inf" if value is None else f"{value:.2f}"


def show(result: dict[str, Any]) -> None:
    lines = table(
        ("mode", "rounds", "broken", "ledger eps", "lower (95%)", "point", "one-run", "verdict"),
        [
            (
                r["mode"],
                str(r["rounds"]),
                r["broken"] or "-",
                f"{r['ledger_epsilon']:.2f}",
                f"{r['empirical_epsilon_lower']:.2f}",
                _number(r["ci_point"]),
                f"{r['one_run_epsilon_lower']:.2f}",
                r["verdict"],
            )
            for r in result["rows"]
        ],
    )
    print("\n".join(lines))
    for check in result["checks"]:
        print(f"check {check['name']}: {'pass' if check['passed'] else 'FAIL'} ({check['detail']})")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--trials", type=positive_int, default=10_000, help="runs per arm")
    parser.add_argument("--rounds", type=positive_int, nargs="+", default=[1])
    parser.add_argument("--no-checks", action="store_true", help="skip the privacy-holes checks")
    args = parser.parse_args(argv)
    return run_and_report(produce(args.trials, args.rounds, not args.no_checks), show, args.out)


if __name__ == "__main__":
    sys.exit(main())
