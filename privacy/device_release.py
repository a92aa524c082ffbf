"""What a device releases in a round: one vector, its update and its statistics, clipped as one.

Every value a device sends is inside one Gaussian mechanism that the ledger accounts for.
The release is ``[update ; statistics * s]``:

* the update is clipped to ``C * sqrt(1 - STATISTICS_SHARE)``;
* each of the ``len(STATISTICS)`` statistics is a value in [0, 1] (``device_statistics``
  for training, ``MONITORING`` for personalisation quality, client.monitoring) scaled by
  ``s = C * sqrt(STATISTICS_SHARE / len(STATISTICS))``, so the statistics together
  have L2 norm at most ``C * sqrt(STATISTICS_SHARE)``;
* so the whole vector has L2 norm at most C, and adding or removing one device changes the
  round's sum by at most C: the same sensitivity the ledger's noise multiplier z is
  calibrated for. Gaussian noise of std z*C on *every* coordinate of the sum (added by the
  server in plain rounds, by the devices' shares under secure aggregation) makes the sum
  of updates and the sums of statistics one Gaussian mechanism with multiplier z (the
  argument of Andrew et al. 2021, "Differentially Private Learning with Adaptive Clipping",
  for their count of unclipped clients, applied to every statistic).

Costs, stated plainly: the update's own noise multiplier is ``z / sqrt(1 - STATISTICS_SHARE)``
(5.4% more noise with a share of 0.1), and each statistic's sum carries noise of std
``z * C / s = z * sqrt(len(STATISTICS) / STATISTICS_SHARE)`` in its own units (about 10.5 z
with the 11 statistics): with 50 devices a round and z = 0.9 a fleet mean is known to about
+-0.19 (one std) per round, and averaging R rounds divides that by sqrt(R) (docs/privacy.md,
"Personalisation monitoring"). That noise is what stops a server from solving for one
device's values across rounds (issue: "per-device values recoverable under SecAgg+").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from privacy.clipping import ClipResult, clip_update

Vector = npt.NDArray[np.float64]

# The order in which the statistics follow the update. Each is in [0, 1]:
# trained / evaluated: 1 when the device had examples to train on / later turns to evaluate;
# train_loss: the last local epoch's loss divided by LOSS_CAP (capped at 1);
# hit_rate: the share of the device's later turns the received head ranked first;
# unclipped: 1 when the update was within its clipping bound (adaptive clipping's count).
TRAINING_STATISTICS = ("trained", "train_loss", "evaluated", "hit_rate", "unclipped")
# Personalisation monitoring (client.monitoring computes them on the device's own store):
# persona_coverage: share of the schema's categories holding an attribute;
# persona_depth: evidence per attribute, capped and normalised;
# prompted: 1 when the device has recorded prompts that used personal items;
# justification: share of those items that were backed by stored evidence;
# correction: share of those prompts whose remembered facts the user then corrected;
# uniqueness: share of the persona's facts outside the round's public reference facts.
MONITORING = (
    "persona_coverage",
    "persona_depth",
    "prompted",
    "justification",
    "correction",
    "uniqueness",
)
STATISTICS = TRAINING_STATISTICS + MONITORING
# Share of the squared clipping norm C^2 given to the statistics (the update keeps the rest).
STATISTICS_SHARE = 0.1
# A listwise loss over 20 candidates starts near ln 20 = 3.0; losses above 5 are capped.
LOSS_CAP = 5.0


@dataclass(frozen=True)
class DeviceRelease:
    """A device's release before noise, and what it learned locally (never sent)."""

    payload: Vector  # [clipped update ; scaled statistics], L2 norm <= C
    update_norm: float  # before clipping; stays on the device
    clipped: bool


def update_bound(clipping_norm: float) -> float:
    """The L2 bound of the update part: C * sqrt(1 - STATISTICS_SHARE)."""
    return clipping_norm * math.sqrt(1.0 - STATISTICS_SHARE)


def statistic_scale(clipping_norm: float) -> float:
    """s: what one unit of a statistic weighs in the payload."""
    return clipping_norm * math.sqrt(STATISTICS_SHARE / len(STATISTICS))


def statistic_noise_std(noise_std: float, clipping_norm: float) -> float:
    """The std, in the statistic's own units, of noise ``noise_std`` on the payload sum."""
    return noise_std / statistic_scale(clipping_norm)


def device_statistics(
    *, train_loss: float, hits: float, evaluated: int, unclipped: bool
) -> dict[str, float]:
    """The device's statistics, each in [0, 1] (``train_loss`` NaN: nothing was trained)."""
    trained = math.isfinite(train_loss)
    return {
        "trained": 1.0 if trained else 0.0,
        "train_loss": min(max(train_loss, 0.0), LOSS_CAP) / LOSS_CAP if trained else 0.0,
        "evaluated": 1.0 if evaluated > 0 else 0.0,
        "hit_rate": min(max(hits / evaluated, 0.0), 1.0) if evaluated > 0 else 0.0,
        "unclipped": 1.0 if unclipped else 0.0,
    }


def release(
    change: Vector,
    clipping_norm: float,
    *,
    train_loss: float,
    hits: float,
    evaluated: int,
    monitoring: Mapping[str, float] | None = None,
) -> DeviceRelease:
    """The payload of a device whose head changed by ``change`` (flat, shape (d,)).

    ``monitoring`` holds the ``MONITORING`` statistics (a missing one counts as 0).
    """
    clipped: ClipResult = clip_update(change, update_bound(clipping_norm))
    statistics = device_statistics(
        train_loss=train_loss, hits=hits, evaluated=evaluated, unclipped=not clipped.clipped
    )
    unknown = set(monitoring or {}) - set(MONITORING)
    if unknown:
        raise ValueError(f"unknown monitoring statistics {sorted(unknown)}; use {MONITORING}")
    statistics |= {name: float((monitoring or {}).get(name, 0.0)) for name in MONITORING}
    # A NaN would pass np.clip; it counts as nothing rather than poisoning the sum.
    values = np.clip(np.nan_to_num([statistics[name] for name in STATISTICS]), 0.0, 1.0)
    payload = np.concatenate([clipped.update, values * statistic_scale(clipping_norm)])
    # Within C by construction; clipping again makes the bound exact in floating point.
    return DeviceRelease(clip_update(payload, clipping_norm).update, clipped.norm, clipped.clipped)


def bound_payload(payload: Vector, clipping_norm: float) -> Vector:
    """What the server makes of a payload it can see (plain rounds): the statistics clamped
    to [0, s] and the whole vector clipped to C, whatever the device did."""
    bounded = np.asarray(payload, np.float64).copy()
    tail = bounded[-len(STATISTICS) :]
    bounded[-len(STATISTICS) :] = np.clip(tail, 0.0, statistic_scale(clipping_norm))
    return clip_update(bounded, clipping_norm).update


def payload_size(update_size: int) -> int:
    return update_size + len(STATISTICS)


def split_sum(total: Vector, *, update_size: int, clipping_norm: float) -> tuple[Vector, Vector]:
    """(summed update, summed statistics in their own units) from a sum of payloads."""
    if total.shape != (payload_size(update_size),):
        raise ValueError(
            f"a sum of shape {total.shape} does not fit an update of {update_size} values "
            f"and {len(STATISTICS)} statistics"
        )
    return total[:update_size].copy(), total[update_size:] / statistic_scale(clipping_norm)


def round_statistics(
    sums: Vector, *, contributors: int, noise_std: float
) -> dict[str, float | None]:
    """The round's released aggregates from its noisy statistic sums (shape (k,)).

    Means are noisy sums over noisy counts (a ratio of two DP releases, itself DP by
    post-processing); a count whose noisy value is below one device gives no mean. Nothing
    here is one device's value: the noise was added before the server saw the sums.
    """
    named = dict(zip(STATISTICS, (float(v) for v in sums), strict=True))

    def mean(total: str, count: float) -> float | None:
        return min(max(named[total] / count, 0.0), 1.0) if count >= 1.0 else None

    loss = mean("train_loss", named["trained"])
    unclipped = mean("unclipped", float(contributors))
    return {
        "train_loss": None if loss is None else loss * LOSS_CAP,
        "eval_hits_at_1": mean("hit_rate", named["evaluated"]),
        "fraction_clipped": None if unclipped is None else 1.0 - unclipped,
        "unclipped_sum": named["unclipped"],
        "statistic_noise_std": noise_std,
        # Persona-wide metrics average over every contributor; the prompt metrics over the
        # (noisy) count of devices that recorded prompts.
        "persona_coverage": mean("persona_coverage", float(contributors)),
        "persona_depth": mean("persona_depth", float(contributors)),
        "persona_uniqueness": mean("uniqueness", float(contributors)),
        "prompt_justification": mean("justification", named["prompted"]),
        "correction_rate": mean("correction", named["prompted"]),
        "prompted_sum": named["prompted"],
    }


def no_round_statistics() -> dict[str, float | None]:
    """``round_statistics``'s keys, every value None: a round that released nothing."""
    keys = round_statistics(np.zeros(len(STATISTICS)), contributors=0, noise_std=0.0)
    return dict.fromkeys(keys)
