"""User-level DP-FedAvg aggregation (McMahan et al. 2018, "Learning Differentially
Private Recurrent Language Models"), as pure arithmetic on flat update vectors.

Each accepted update is clipped to L2 norm C (again, on the server: the guarantee must
not depend on every device clipping honestly). The sum gets Gaussian noise of standard
deviation z*C and is divided by a fixed denominator n (the expected number of clients
per round), never by the count of replies or by claimed example counts: every client
weighs the same and one client changes the mean by at most C/n.
Updates that are not finite, have the wrong size or an absurd norm are rejected with a
reason and count as dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from privacy.clipping import RejectedUpdate, clip_update, validate_update
from privacy.noise import GaussianNoise

Vector = npt.NDArray[np.float64]
SANITY_NORM = 1e6  # far above any sane update of a unit-scale head


@dataclass(frozen=True)
class ClientReport:
    """What came back from one device (``update`` None when it failed)."""

    update: Vector | None
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class RoundAggregate:
    weights: Vector
    accepted: int
    rejected: tuple[str, ...]
    failed: int
    noise_std: float
    metrics: dict[str, float | None]


def aggregate_round(
    current: Vector,
    reports: Sequence[ClientReport],
    *,
    clipping_norm: float,
    noise_multiplier: float,
    denominator: float,
    noise: GaussianNoise,
    server_learning_rate: float = 1.0,
    server_adds_noise: bool = True,
) -> RoundAggregate:
    """The new global weights and the round's aggregate metrics."""
    if denominator <= 0:
        raise ValueError(f"denominator must be positive, got {denominator}")
    total = np.zeros_like(current)
    accepted: list[ClientReport] = []
    rejected: list[str] = []
    for report in reports:
        if report.update is None:
            continue
        try:
            validate_update(report.update, expected_size=current.size, max_norm=SANITY_NORM)
        except RejectedUpdate as reason:
            rejected.append(str(reason))
            continue
        total += clip_update(report.update, clipping_norm).update
        accepted.append(report)
    noise_std = noise_multiplier * clipping_norm if server_adds_noise else 0.0
    if noise_std > 0:
        total += noise.sample(total.size, noise_std)
    weights = current + server_learning_rate * total / denominator
    return RoundAggregate(
        weights=weights,
        accepted=len(accepted),
        rejected=tuple(rejected),
        failed=sum(r.update is None for r in reports),
        noise_std=noise_std,
        metrics=aggregate_metrics([r.metrics for r in accepted]),
    )


def aggregate_metrics(metrics: Sequence[dict[str, float]]) -> dict[str, float | None]:
    """Only aggregates: means, sums and quantiles, never one client's value."""

    def values(key: str) -> list[float]:
        return [m[key] for m in metrics if key in m and np.isfinite(m[key])]

    losses, norms, clipped = values("train_loss"), values("update_norm"), values("clipped")
    hits, examples = sum(values("eval_hits")), sum(values("eval_examples"))
    quantiles = np.quantile(norms, [0.1, 0.5, 0.9]).tolist() if norms else [None] * 3
    return {
        "train_loss": float(np.mean(losses)) if losses else None,
        "eval_hits_at_1": hits / examples if examples else None,
        "eval_examples": float(examples),
        "fraction_clipped": float(np.mean(clipped)) if clipped else None,
        "update_norm_p10": quantiles[0],
        "update_norm_p50": quantiles[1],
        "update_norm_p90": quantiles[2],
    }
