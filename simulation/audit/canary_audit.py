"""The canary audit: many audited runs with and without the canary, one bound on epsilon.

Half the runs of each arm choose the attack's threshold (the one whose Clopper-Pearson
bound is highest on that half); the other half, untouched by the choice, give the bound
(Jagielski et al. 2020, Sec. 4; the "split" strategy of jax_privacy's auditing library).
The claimed epsilon is the privacy ledger's, for exactly the run that was audited: Poisson
sampling with q = 1 (every device, the canary included when it is in, takes part in every
round: no amplification to hide behind), ``rounds`` rounds at the ledger's noise
multiplier, calibrated for ``claimed_epsilon`` by the server's own calibration
(``server.privacy_budget.ledger_settings_for``).

The claim and the trial count are chosen so that the audit can tell: with n runs in an
evaluation half, no bound exceeds about log(n / 3.7) (zero errors at 97.5%: 4.9 for 500),
so the claim must sit well below that (2 by default) for a broken mechanism to be caught.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from privacy.audit_bounds import EpsilonInterval, epsilon_interval
from privacy.ledger import PrivacyLedger
from privacy.noise import SeededGaussian
from server.privacy_budget import ledger_settings_for
from server.run_settings import RunSettings
from simulation.audit.breaks import Break
from simulation.audit.mechanism import Mechanism, canary_direction, run_trial

Scores = npt.NDArray[np.float64]


@dataclass(frozen=True, kw_only=True)
class AuditPlan:
    """What to audit and how hard: the claim, the run's shape and the number of trials."""

    claimed_epsilon: float = 2.0
    delta: float = 1e-5
    rounds: int = 1
    trials: int = 1000  # audited runs per arm (with / without the canary)
    other_devices: int = 4
    update_size: int = 16
    clipping_norm: float = 1.0
    secure_aggregation: bool = True
    broken: Break | None = None
    alpha: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        if self.trials < 20:
            raise ValueError(f"trials should be >= 20 per arm, got {self.trials}")
        if self.rounds < 1 or self.other_devices < 2:
            raise ValueError(
                f"need rounds >= 1 and other_devices >= 2, got {self.rounds}, {self.other_devices}"
            )
        if self.seed < 0:
            raise ValueError(f"seed should be >= 0, got {self.seed}")
        if not 0.0 < self.claimed_epsilon < 50.0:
            raise ValueError(f"claimed_epsilon should be in (0, 50), got {self.claimed_epsilon}")


@dataclass(frozen=True)
class CanaryAudit:
    """The audit's outcome beside the ledger's claim."""

    plan: AuditPlan
    noise_multiplier: float
    ledger_epsilon: float
    bound: EpsilonInterval
    threshold: float

    @property
    def exceeds_ledger(self) -> bool:
        """True when the attack proves more leakage than the ledger allows."""
        return self.bound.lower > self.ledger_epsilon


def audited_settings(plan: AuditPlan) -> RunSettings:
    """The audited run as a run's settings: every device (the canary included, when it is
    in) sampled every round, Poisson with q = 1."""
    devices = plan.other_devices + 1
    return RunSettings(
        clients=devices,
        clients_per_round=devices,
        sampling="poisson",
        rounds=plan.rounds,
        epsilon=plan.claimed_epsilon,
        delta=plan.delta,
        clipping_norm=plan.clipping_norm,
        secure_aggregation=plan.secure_aggregation,
    )


def audited_ledger(plan: AuditPlan) -> PrivacyLedger:
    """The ledger a run with these settings keeps (the server's own calibration and
    settings, ``server.privacy_budget``), after the audited rounds."""
    ledger = PrivacyLedger.from_settings(ledger_settings_for(audited_settings(plan)))
    for _ in range(plan.rounds):
        ledger.record_round()
    return ledger


def attack_scores(plan: AuditPlan, noise_multiplier: float) -> tuple[Scores, Scores]:
    """(scores with the canary, scores without), ``plan.trials`` each, from fixed seeds."""
    mechanism = Mechanism(
        noise_multiplier=noise_multiplier,
        clipping_norm=plan.clipping_norm,
        rounds=plan.rounds,
        other_devices=plan.other_devices,
        update_size=plan.update_size,
        secure_aggregation=plan.secure_aggregation,
        broken=plan.broken,
    )
    rng = np.random.default_rng(plan.seed)
    noise = SeededGaussian(np.random.default_rng(plan.seed + 1))
    direction = canary_direction(plan.update_size, rng)
    scores = {
        arm: np.array(
            [
                run_trial(mechanism, direction, canary_in=arm, rng=rng, noise=noise)
                for _ in range(plan.trials)
            ]
        )
        for arm in (True, False)
    }
    return scores[True], scores[False]


def bound_at(
    threshold: float, inside: Scores, outside: Scores, *, delta: float, alpha: float
) -> EpsilonInterval:
    """The bound of the attack "in when score >= threshold"."""
    return epsilon_interval(
        false_positives=int(np.sum(outside >= threshold)),
        negatives=outside.size,
        false_negatives=int(np.sum(inside < threshold)),
        positives=inside.size,
        delta=delta,
        alpha=alpha,
    )


def best_threshold(inside: Scores, outside: Scores, *, delta: float, alpha: float) -> float:
    """The threshold among the observed scores with the highest bound on these runs."""
    candidates = np.unique(np.concatenate([inside, outside]))
    # A quantile grid keeps this linear in the trial count; the bound is flat between scores.
    grid = np.quantile(candidates, np.linspace(0.0, 1.0, 201))
    bounds = [bound_at(t, inside, outside, delta=delta, alpha=alpha).lower for t in grid]
    return float(grid[int(np.argmax(bounds))])


def run_canary_audit(plan: AuditPlan) -> CanaryAudit:
    """Run the audit of ``plan``; deterministic for a given plan (seeded noise)."""
    ledger = audited_ledger(plan)
    inside, outside = attack_scores(plan, ledger.settings.noise_multiplier)
    half = plan.trials // 2
    threshold = best_threshold(inside[:half], outside[:half], delta=plan.delta, alpha=plan.alpha)
    bound = bound_at(threshold, inside[half:], outside[half:], delta=plan.delta, alpha=plan.alpha)
    return CanaryAudit(
        plan=plan,
        noise_multiplier=ledger.settings.noise_multiplier,
        ledger_epsilon=ledger.governing_epsilon(),
        bound=bound,
        threshold=threshold if math.isfinite(threshold) else 0.0,
    )
