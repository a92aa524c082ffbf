"""The audit's verdict and its JSON form (what `fedpersona audit --out` writes).

Verdicts, one per outcome:

* ``consistent``: honest run, bound <= ledger epsilon. No contradiction was found; this is
  not a proof of privacy (the bound is a lower bound from one attack).
* ``violation``: honest run, bound > ledger epsilon: the accounting or the mechanism is
  wrong (or, with probability at most alpha, the audit was unlucky).
* ``caught``: a deliberately broken run whose bound exceeds the ledger's claim: the audit
  works.
* ``missed``: a broken run the audit did not catch: the audit is too weak for that break
  (or, for ``no-clipping`` in plain rounds, the server's re-clip repaired it).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from server.metrics_store import AuditRow
from simulation.audit.canary_audit import CanaryAudit
from simulation.audit.one_run import OneRunAudit


@dataclass(frozen=True)
class CheckResult:
    """One attack of the privacy-holes suite: did the defence hold?"""

    name: str
    passed: bool
    detail: str


def verdict(audit: CanaryAudit) -> str:
    if audit.plan.broken is None:
        return "violation" if audit.exceeds_ledger else "consistent"
    return "caught" if audit.exceeds_ledger else "missed"


def succeeded(audit: CanaryAudit, checks: list[CheckResult]) -> bool:
    """The audit did its job: an honest run holds, a broken one is caught, checks pass."""
    return failure(audit, checks) is None


def failure(audit: CanaryAudit, checks: list[CheckResult]) -> str | None:
    """Why the audit failed, in one line; None when it did its job."""
    bound, claim = audit.bound.lower, audit.ledger_epsilon
    failed = [c.name for c in checks if not c.passed]
    if verdict(audit) == "violation":
        return f"violation: the attack proves epsilon >= {bound:.2f}, the ledger claims {claim:.2f}"
    if verdict(audit) == "missed":
        return (
            f"the broken mechanism ({audit.plan.broken}) was missed: bound {bound:.2f} "
            f"<= ledger epsilon {claim:.2f}"
        )
    if failed:
        return f"privacy-holes checks failed: {', '.join(failed)}"
    return None


def finite_or_none(value: float) -> float | None:
    """JSON has no infinity: an unbounded value is written as null."""
    return value if math.isfinite(value) else None


def audit_json(
    audit: CanaryAudit, one_run: OneRunAudit, checks: list[CheckResult], seconds: float
) -> dict[str, Any]:
    """The audit's result as JSON-ready data (null: unbounded). The verdict is the many-run
    audit's; the one-run audit is reported beside it, with its own comparison."""
    plan, bound = audit.plan, audit.bound
    return {
        "ledger_epsilon": audit.ledger_epsilon,
        "empirical_epsilon_lower": bound.lower,
        "ci": {
            "low": bound.lower,
            "point": finite_or_none(bound.point),
            "high": finite_or_none(bound.upper),
            "confidence": bound.confidence,
        },
        "broken": plan.broken,
        "verdict": verdict(audit),
        "succeeded": succeeded(audit, checks),
        "delta": plan.delta,
        "noise_multiplier": audit.noise_multiplier,
        "secure_aggregation": plan.secure_aggregation,
        "rounds": plan.rounds,
        "trials_per_arm": plan.trials,
        "other_devices": plan.other_devices,
        "clipping_norm": plan.clipping_norm,
        "seed": plan.seed,
        "threshold": audit.threshold,
        "one_run": {
            "canaries": one_run.canaries,
            "guesses": one_run.guesses,
            "correct": one_run.correct,
            "empirical_epsilon_lower": one_run.lower,
            "exceeds_ledger": one_run.exceeds_ledger,
        },
        "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in checks],
        "seconds": round(seconds, 2),
    }


def audit_row(audit: CanaryAudit, checks: list[CheckResult]) -> AuditRow:
    """The audit as a row of the run's metrics store (the dashboard's Audit page)."""
    return AuditRow(
        recorded_at=time.time(),
        broken=audit.plan.broken or "",
        secure_aggregation=int(audit.plan.secure_aggregation),
        rounds=audit.plan.rounds,
        trials_per_arm=audit.plan.trials,
        ledger_epsilon=audit.ledger_epsilon,
        empirical_epsilon_lower=audit.bound.lower,
        ci_high=finite_or_none(audit.bound.upper),
        confidence=audit.bound.confidence,
        verdict=verdict(audit),
        checks_passed=sum(c.passed for c in checks),
        checks_total=len(checks),
    )
