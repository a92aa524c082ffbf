"""The one-run audit (Steinke, Nasr, Jagielski 2023): many canaries, a single run.

``canaries`` canary devices, each with its own secret random direction, each join the run
independently with probability 1/2, alongside the ordinary devices; the run is the same
real round code as the canary audit's (``simulation.audit.mechanism``). The attacker
projects the head's unexplained change on every canary's direction, guesses "in" for the
``guesses / 2`` highest scores and "out" for the ``guesses / 2`` lowest (a rule fixed before
the run, so the p-value needs no correction), and the number right gives the bound
(``privacy.audit_bounds.one_run_epsilon_lower_bound``).

Directions in ``DIMENSION_PER_CANARY * canaries`` dimensions are nearly orthogonal: the
other canaries add variance of about C^2 / (2 * 8) to each score, against the noise's
z^2 C^2. The bound is weaker than the many-run audit's for the same claim (a known property
of one-run auditing for the Gaussian mechanism), but it costs one run instead of thousands.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.reranking_head import HeadConfig
from privacy.audit_bounds import one_run_epsilon_lower_bound
from privacy.noise import SeededGaussian
from server.dp_fedavg import LocalTraining
from simulation.audit.canary_audit import AuditPlan, audited_ledger
from simulation.audit.mechanism import Mechanism, canary_release, other_release, transport

DIMENSION_PER_CANARY = 8


@dataclass(frozen=True)
class OneRunAudit:
    canaries: int
    guesses: int
    correct: int
    lower: float
    ledger_epsilon: float

    @property
    def exceeds_ledger(self) -> bool:
        return self.lower > self.ledger_epsilon


def run_one_run_audit(plan: AuditPlan, *, canaries: int = 1000, guesses: int = 200) -> OneRunAudit:
    """One round (``plan.rounds`` is not used: the one-run audit is of a single round)."""
    if not 2 <= guesses <= canaries or guesses % 2:
        raise ValueError(f"guesses should be even and in [2, {canaries}], got {guesses}")
    ledger = audited_ledger(AuditPlan(**{**plan.__dict__, "rounds": 1}))
    size = DIMENSION_PER_CANARY * canaries
    mechanism = Mechanism(
        noise_multiplier=ledger.settings.noise_multiplier,
        clipping_norm=plan.clipping_norm,
        rounds=1,
        other_devices=plan.other_devices,
        update_size=size,
        secure_aggregation=plan.secure_aggregation,
        broken=plan.broken,
    )
    rng = np.random.default_rng(plan.seed)
    noise = SeededGaussian(np.random.default_rng(plan.seed + 1))
    directions = rng.normal(size=(canaries, size))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    included = rng.random(canaries) < 0.5
    others = [other_release(mechanism, rng) for _ in range(plan.other_devices)]
    payloads = others + [canary_release(mechanism, d) for d in directions[included]]
    strategy = mechanism.strategy()
    instructions = strategy.instructions(
        1, len(payloads), head=HeadConfig(), local=LocalTraining(1, 0.01)
    )
    replies = transport(payloads, instructions, noise, secure=plan.secure_aggregation)
    weights = strategy.aggregate(np.zeros(size), replies, instructions, noise).weights
    change = weights * strategy.denominator / strategy.server_learning_rate
    unexplained = change - sum(p[:size] for p in others)
    scores = directions @ unexplained
    order = np.argsort(scores)
    half = guesses // 2
    correct = int(included[order[-half:]].sum() + (~included[order[:half]]).sum())
    lower = one_run_epsilon_lower_bound(
        canaries=canaries, guesses=guesses, correct=correct, delta=plan.delta, alpha=plan.alpha
    )
    return OneRunAudit(canaries, guesses, correct, lower, ledger.governing_epsilon())
