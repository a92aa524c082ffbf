"""The personalisation metrics' estimates with their noise: per round, and pooled over rounds.

Each round's value is a noisy sum over a count (server.metrics_store.RoundRow): the sum
carried Gaussian noise of std ``statistic_noise_std`` (the statistic's own units), so the
mean's noise has std ``statistic_noise_std / n`` for n devices averaged over (ignoring the
count's own noise and the clamp to [0, 1], both small when n is large). Rounds draw
independent noise, so the mean of k rounds' values has noise std sqrt(sum of the k
variances) / k: about 1/sqrt(k) of one round's. That pooled value is a moving average: it
trails a metric that changes, and is honest only while the fleet changes slowly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# column -> (label, the column counting the devices its mean is over)
METRICS = {
    "persona_coverage": ("Attribute coverage", "clients_completed"),
    "persona_depth": ("Evidence depth", "clients_completed"),
    "prompt_justification": ("Justified prompt items", "prompted_sum"),
    "correction_rate": ("Correction rate", "prompted_sum"),
    "persona_uniqueness": ("Uniqueness", "clients_completed"),
}
WINDOW = 5


@dataclass(frozen=True)
class Estimate:
    value: float
    noise_std: float  # of ``value``, from the Gaussian noise the sums carried
    rounds: int  # how many rounds it pools


def round_noise(row: dict[str, Any], column: str) -> float | None:
    """The noise std of one round's mean in ``column``; None where it was not released."""
    noise, count = row.get("statistic_noise_std"), row.get(METRICS[column][1])
    if row.get(column) is None or noise is None or count is None:
        return None
    return float(noise) / max(float(count), 1.0)


def pooled(rows: Sequence[dict[str, Any]], column: str, window: int = WINDOW) -> Estimate | None:
    """The mean of the last ``window`` released values of ``column``, with its noise std."""
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    shown = [r for r in rows if round_noise(r, column) is not None][-window:]
    if not shown:
        return None
    values = [float(r[column]) for r in shown]
    variance = sum((round_noise(r, column) or 0.0) ** 2 for r in shown)
    return Estimate(sum(values) / len(values), math.sqrt(variance) / len(values), len(values))


def with_moving_average(
    rows: Sequence[dict[str, Any]], column: str, window: int = WINDOW
) -> list[dict[str, Any]]:
    """Copies of ``rows`` with ``<column>_avg``: each round's pooled value up to it."""
    out = []
    for index, row in enumerate(rows):
        estimate = pooled(rows[: index + 1], column, window)
        average = estimate.value if estimate is not None and row.get(column) is not None else None
        out.append({**row, f"{column}_avg": average})
    return out
