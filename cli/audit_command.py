"""`fedpersona audit`: the empirical privacy audit (a canary attack on the real round code).

Exit codes: 0 when the audit did its job (an honest run shows no contradiction with its
ledger, or a ``--break`` run is caught, and every privacy-holes check holds); 1 when it
did not (a bound above the ledger's epsilon on an honest run, a broken run missed, a check
failed); 2 for bad arguments. A caught break is a success: it is what the audit is for.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from cli.failures import EXIT_FAILED, EXIT_OK, UsageError
from server.metrics_store import FILE_NAME, AuditRow, MetricsStore
from simulation.audit.breaks import BREAKS

if TYPE_CHECKING:  # the round code imports torch: only when an audit runs (cli.main stays light)
    from simulation.audit.canary_audit import AuditPlan

QUICK_TRIALS, FULL_TRIALS = 600, 4000


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = commands.add_parser(
        "audit",
        help="empirical privacy audit: a lower bound on epsilon beside the ledger's",
        description="Runs short simulations of the real device release and DP-FedAvg "
        "aggregation with and without a canary device, turns the attack's error rates into "
        "a lower bound on epsilon (Clopper-Pearson), compares it with the privacy ledger's "
        "epsilon, and runs the privacy-holes attacks. A lower bound: passing does not prove "
        "privacy.",
    )
    audit.add_argument(
        "--break",
        dest="broken",
        choices=BREAKS,
        default=None,
        help="audit a deliberately broken mechanism (it must be caught)",
    )
    audit.add_argument(
        "--plain",
        action="store_true",
        help="plain rounds (the server adds the noise) instead of SecAgg+ "
        "(default: SecAgg+, or the mode of the --run folder's run)",
    )
    audit.add_argument(
        "--quick", action="store_true", help=f"{QUICK_TRIALS} runs per arm and the fast checks only"
    )
    audit.add_argument(
        "--trials",
        type=int,
        default=None,
        help=f"runs per arm (default {FULL_TRIALS}, --quick {QUICK_TRIALS})",
    )
    audit.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="rounds per run; the attacker sees only the final head",
    )
    audit.add_argument(
        "--epsilon",
        type=float,
        default=2.0,
        help="the claimed epsilon the audited mechanism is calibrated for",
    )
    audit.add_argument("--seed", type=int, default=0)
    audit.add_argument("--out", type=Path, default=None, help="write the result as JSON here")
    audit.add_argument(
        "--run",
        type=Path,
        default=None,
        help="a run folder: record the result in its metrics store (dashboard)",
    )
    audit.set_defaults(handler=_audit)


def _plan(args: argparse.Namespace) -> AuditPlan:
    from simulation.audit.canary_audit import AuditPlan

    trials = args.trials if args.trials is not None else QUICK_TRIALS if args.quick else FULL_TRIALS
    try:
        return AuditPlan(
            claimed_epsilon=args.epsilon,
            rounds=args.rounds,
            trials=trials,
            secure_aggregation=_secure(args),
            broken=args.broken,
            seed=args.seed,
        )
    except ValueError as error:
        raise UsageError(str(error)) from error


def _secure(args: argparse.Namespace) -> bool:
    """SecAgg+ unless --plain, or unless the --run folder's run had plain rounds."""
    if args.plain:
        return False
    if args.run is None:
        return True
    store = MetricsStore(args.run / FILE_NAME)
    try:
        info = store.run_info()
    finally:
        store.close()
    return bool((info or {}).get("settings", {}).get("secure_aggregation", True))


def _audit(args: argparse.Namespace) -> int:
    from simulation.audit.canary_audit import run_canary_audit
    from simulation.audit.one_run import run_one_run_audit
    from simulation.audit.privacy_holes import run_checks
    from simulation.audit.report import audit_json, audit_row, failure

    if args.run is not None and not (args.run / FILE_NAME).is_file():
        raise UsageError(f"{args.run} is not a run folder: it has no {FILE_NAME}")
    plan = _plan(args)
    started = time.perf_counter()
    audit = run_canary_audit(plan)
    one_run = run_one_run_audit(plan)
    checks = run_checks(full=not args.quick)
    result = audit_json(audit, one_run, checks, time.perf_counter() - started)
    for line in summary_lines(result):
        print(line)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    if args.run is not None:
        _record(args.run / FILE_NAME, audit_row(audit, checks))
        print(f"recorded in {args.run / FILE_NAME}")
    reason = failure(audit, checks)
    if reason is not None:
        print(f"fedpersona: audit failed: {reason}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def summary_lines(result: dict[str, object]) -> list[str]:
    """The audit as a short table a person reads."""
    ci = result["ci"]
    assert isinstance(ci, dict)
    high = "inf" if ci["high"] is None else f"{ci['high']:.2f}"
    mode = "SecAgg+" if result["secure_aggregation"] else "plain"
    one_run = result["one_run"]
    assert isinstance(one_run, dict)
    lines = [
        f"audited: {result['broken'] or 'honest'} mechanism, {mode}, {result['rounds']} round(s), "
        f"{result['trials_per_arm']} runs with and {result['trials_per_arm']} without the canary",
        f"  ledger epsilon            {result['ledger_epsilon']:.3f}  (delta {result['delta']:g})",
        f"  empirical epsilon lower   {result['empirical_epsilon_lower']:.3f}  "
        f"({ci['confidence']:.0%} CI {ci['low']:.2f} .. {high})",
        f"  one-run lower bound       {one_run['empirical_epsilon_lower']:.3f}  "
        f"({one_run['correct']} of {one_run['guesses']} guesses right, "
        f"{one_run['canaries']} canaries, one run)",
        f"  broken                    {result['broken'] or '-'}",
        f"  verdict                   {result['verdict']}",
    ]
    checks = result["checks"]
    assert isinstance(checks, list)
    lines += [
        f"  check {c['name']:<30} {'pass' if c['passed'] else 'FAIL'}: {c['detail']}"
        for c in checks
    ]
    return lines


def _record(path: Path, row: AuditRow) -> None:
    store = MetricsStore(path)
    try:
        store.record_audit(row)
    finally:
        store.close()
