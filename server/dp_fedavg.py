"""User-level DP-FedAvg aggregation (McMahan et al. 2018, "Learning Differentially
Private Recurrent Language Models"), as pure arithmetic on flat release vectors.

A device releases one vector (``privacy.device_release``): its clipped update followed by
its bounded statistics. Each accepted release is bounded again on the server (statistics
clamped, the whole vector clipped to C: the guarantee must not depend on every device
clipping honestly). The sum gets Gaussian noise of standard deviation z*C on every
coordinate, so the summed update and the summed statistics are one Gaussian mechanism;
the update sum is divided by a fixed denominator n (the expected number of clients per
round), never by the count of replies or by claimed example counts: every client weighs
the same and one client changes the mean by at most C/n. Releases that are not finite,
have the wrong size or an absurd norm are rejected with a reason (counted as rejected, not dropped).

Under secure aggregation the server gets only the sum (``aggregate_secure_sum``): it can
neither re-clip nor reject one release, and the devices' noise shares already carry the
noise; it range-checks the sum instead (``privacy.secure_sum_bounds``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from models.reranking_head import HeadConfig
from privacy.clipping import (
    AdaptiveClippingConfig,
    RejectedUpdate,
    next_clipping_norm,
    validate_update,
)
from privacy.device_release import (
    bound_payload,
    no_round_statistics,
    payload_size,
    round_statistics,
    split_sum,
    statistic_noise_std,
)
from privacy.noise import GaussianNoise, distributed_noise_share_std
from privacy.secure_aggregation import SecureSum, minimum_contributors, quantisation_step
from privacy.secure_sum_bounds import out_of_range, secure_sum_bounds
from protocol.round_instructions import RoundInstructions

Vector = npt.NDArray[np.float64]
SANITY_NORM = 1e6  # far above any sane update of a unit-scale head


@dataclass(frozen=True)
class ClientReport:
    """What came back from one device: its release (``payload``), or None when it failed
    (``error``) or its reply was turned away unread (``discarded``: counted as rejected)."""

    payload: Vector | None
    error: str | None = None
    discarded: str | None = None


@dataclass(frozen=True)
class RoundAggregate:
    weights: Vector
    accepted: int
    rejected: tuple[str, ...]
    failed: int
    noise_std: float
    metrics: dict[str, float | None]
    # False when nothing derived from any device's release was revealed or published (a
    # secure round halted before unmasking, a plain round without an accepted release):
    # the ledger may then withdraw the round's charge.
    released: bool = True

    @classmethod
    def nothing_released(
        cls, current: Vector, rejected: tuple[str, ...], failed: int
    ) -> RoundAggregate:
        """A round with no sum to reveal: the head as it was, no noise, no statistic."""
        return cls(current.copy(), 0, rejected, failed, 0.0, no_round_statistics(), released=False)


def aggregate_round(
    current: Vector,
    reports: Sequence[ClientReport],
    *,
    clipping_norm: float,
    noise_multiplier: float,
    denominator: float,
    noise: GaussianNoise,
    server_learning_rate: float = 1.0,
) -> RoundAggregate:
    """The new global weights and the round's noisy aggregate statistics."""
    if denominator <= 0:
        raise ValueError(f"denominator must be positive, got {denominator}")
    size = payload_size(current.size)
    total = np.zeros(size)
    accepted = 0
    rejected: list[str] = []
    for report in reports:
        if report.discarded is not None:
            rejected.append(report.discarded)
            continue
        if report.payload is None:
            continue
        try:
            payload = validate_update(report.payload, expected_size=size, max_norm=SANITY_NORM)
        except RejectedUpdate as reason:
            rejected.append(str(reason))
            continue
        total += bound_payload(payload, clipping_norm)
        accepted += 1
    failed = sum(r.payload is None and r.discarded is None for r in reports)
    if not accepted:  # nothing to release: no noise drawn, no head change, no statistic
        return RoundAggregate.nothing_released(current, tuple(rejected), failed)
    noise_std = noise_multiplier * clipping_norm
    if noise_std > 0:
        total += noise.sample(total.size, noise_std)
    update_sum, statistic_sums = split_sum(
        total, update_size=current.size, clipping_norm=clipping_norm
    )
    return RoundAggregate(
        weights=current + server_learning_rate * update_sum / denominator,
        accepted=accepted,
        rejected=tuple(rejected),
        failed=failed,
        noise_std=noise_std,
        metrics=round_statistics(
            statistic_sums,
            contributors=accepted,
            noise_std=statistic_noise_std(noise_std, clipping_norm),
        ),
    )


def aggregate_secure_sum(
    current: Vector,
    secure_sum: SecureSum,
    *,
    clipping_norm: float,
    noise_share_std: float,
    denominator: float,
    server_learning_rate: float = 1.0,
) -> RoundAggregate:
    """The new global weights from a secure-aggregation round's sum (noise already in it).

    A halted round (no sum revealed) leaves the weights as they were and releases no
    statistics. A sum that is not finite, or lies outside what ``contributors`` honest
    releases plus their noise can sum to (``privacy.secure_sum_bounds``), is refused as a
    whole: one bad device spoils the round, since the sum cannot say which.
    """
    if denominator <= 0:
        raise ValueError(f"denominator must be positive, got {denominator}")
    contributors = secure_sum.contributors
    failed = secure_sum.sampled - contributors - len(secure_sum.rejected)
    noise_std = noise_share_std * math.sqrt(contributors)  # independent shares add variances
    no_statistics = no_round_statistics()
    if not contributors or secure_sum.halted is not None:
        return RoundAggregate.nothing_released(current, secure_sum.rejected, failed)
    try:
        # Size and finiteness here; how large the sum may be is the range check's to say.
        total = validate_update(secure_sum.payload_sum, expected_size=payload_size(current.size))
    except RejectedUpdate as reason:
        rejected = (*secure_sum.rejected, f"the secure sum: {reason}")
        return RoundAggregate(current.copy(), 0, rejected, failed, noise_std, no_statistics)
    bounds = secure_sum_bounds(
        contributors=contributors,
        update_size=current.size,
        clipping_norm=clipping_norm,
        noise_std=noise_std,
        quantisation_step=quantisation_step(secure_sum.sampled),
    )
    excess = out_of_range(total, update_size=current.size, bounds=bounds)
    if excess is not None:  # a device broke the release's contract; the sum cannot say which
        rejected = (*secure_sum.rejected, f"the secure sum: {excess}")
        return RoundAggregate(current.copy(), 0, rejected, failed, noise_std, no_statistics)
    update_sum, statistic_sums = split_sum(
        total, update_size=current.size, clipping_norm=clipping_norm
    )
    return RoundAggregate(
        weights=current + server_learning_rate * update_sum / denominator,
        accepted=contributors,
        rejected=secure_sum.rejected,
        failed=failed,
        noise_std=noise_std,
        metrics=round_statistics(
            statistic_sums,
            contributors=contributors,
            noise_std=statistic_noise_std(noise_std, clipping_norm),
        ),
    )


@dataclass(frozen=True, kw_only=True)
class AdaptiveClipping:
    """Quantile tracking (Andrew et al. 2021): C moves toward ``target_quantile`` of the
    devices' update norms. The count it needs is the release's ``unclipped`` statistic,
    which arrives noised inside the round's Gaussian mechanism: no budget of its own."""

    config: AdaptiveClippingConfig
    expected_clients: float

    def next_norm(self, clipping_norm: float, unclipped_sum: float | None) -> float:
        """The next round's C (a round that released nothing leaves it as it was)."""
        if unclipped_sum is None:
            return clipping_norm
        return next_clipping_norm(clipping_norm, unclipped_sum / self.expected_clients, self.config)


@dataclass
class DpFedAvg:
    """DP-FedAvg as one wrapper, in the spirit of Flower's DP strategy wrappers: it owns the
    clipping norm (fixed, or adaptive), says how much noise each round carries and where it
    is added (by the server, or as the devices' shares under secure aggregation), and
    aggregates the round. The noise multiplier z is the ledger's; nothing here spends it."""

    noise_multiplier: float
    clipping_norm: float
    denominator: float  # the expected devices per round: a fixed denominator
    server_learning_rate: float = 1.0
    secure_aggregation: bool = False
    dropout_tolerance: float = 0.2
    adaptive: AdaptiveClipping | None = None
    # Public facts shipped to the devices for their uniqueness statistic (client.monitoring).
    reference_facts: tuple[str, ...] = ()

    def instructions(
        self, round_number: int, sampled: int, *, head: HeadConfig, local: LocalTraining
    ) -> RoundInstructions:
        """The round's instructions. Under secure aggregation each device adds a share sized
        so that any ``min_contributors`` of the sampled devices carry z*C between them
        (privacy.noise.distributed_noise_share_std)."""
        share, minimum = 0.0, 0
        if self.secure_aggregation and sampled:
            minimum = minimum_contributors(sampled, self.dropout_tolerance)
            total = self.noise_multiplier * self.clipping_norm
            share = distributed_noise_share_std(total, sampled, min_surviving=minimum)
        return RoundInstructions(
            round=round_number,
            clipping_norm=self.clipping_norm,
            local_epochs=local.epochs,
            learning_rate=local.learning_rate,
            noise_share_std=share,
            min_contributors=minimum,
            head=head,
            reference_facts=self.reference_facts,
        )

    def aggregate(
        self,
        current: Vector,
        replies: Sequence[ClientReport] | SecureSum,
        instructions: RoundInstructions,
        noise: GaussianNoise,
    ) -> RoundAggregate:
        """The round's result; then the clipping norm for the next round is updated."""
        if isinstance(replies, SecureSum) != self.secure_aggregation:
            # Devices add noise shares only under secure aggregation, the server only without.
            raise RuntimeError(
                "the transport does not match the run's secure_aggregation setting "
                f"({self.secure_aggregation})"
            )
        if isinstance(replies, SecureSum):
            result = aggregate_secure_sum(
                current,
                replies,
                clipping_norm=instructions.clipping_norm,
                noise_share_std=instructions.noise_share_std,
                denominator=self.denominator,
                server_learning_rate=self.server_learning_rate,
            )
        else:
            result = aggregate_round(
                current,
                replies,
                clipping_norm=instructions.clipping_norm,
                noise_multiplier=self.noise_multiplier,
                denominator=self.denominator,
                noise=noise,
                server_learning_rate=self.server_learning_rate,
            )
        if self.adaptive is not None:
            self.clipping_norm = self.adaptive.next_norm(
                self.clipping_norm, result.metrics["unclipped_sum"]
            )
        return result


@dataclass(frozen=True)
class LocalTraining:
    """What each device's local training does with the round's head."""

    epochs: int
    learning_rate: float
