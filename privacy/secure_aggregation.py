"""What one secure-aggregation round reveals to the server, and the protocol's arithmetic.

Under secure aggregation a device masks its release (``privacy.device_release``: the
clipped update and its bounded statistics in one vector of norm at most C) plus its share
of the noise, and the server learns only the sum over the round's devices.

SecAgg+ works on integers: each coordinate is clipped to [-R, R] and quantised before
masking (Bonawitz et al. 2017; Bell et al. 2020). ``PAYLOAD_RANGE`` is that R. A release
has norm at most C (about 1) plus noise, far inside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float64]

PAYLOAD_RANGE = 1024.0
# Flower's SecAgg+ needs more than 2 shares; with 2 devices the sum would tell each one
# the other's update anyway.
MIN_SECURE_ROUND = 3
MODULUS_BITS = 32  # SecAgg+'s arithmetic is modulo 2**32 (Flower's limit)


@dataclass(frozen=True)
class SecureSum:
    """What one secure-aggregation round reveals to the server."""

    payload_sum: Vector  # sum over contributing devices of their noised releases
    contributors: int  # devices whose masked vector is in the sum (0: the round was halted)
    sampled: int
    halted: str | None = None  # why no sum was revealed, when it was not
    # Devices whose masked vector was malformed and left out (SecAgg+ then treats them as
    # dropped out and removes their masks), each with the reason.
    rejected: tuple[str, ...] = ()


def quantization_range(devices: int) -> int:
    """The largest power of two Q such that ``devices`` values below Q sum below 2**32.

    Flower's SecAgg+ appends a weight factor of Q per device and sums quantised values in
    [0, Q) modulo 2**32; a sum that wraps around is silently wrong, so Q shrinks as the
    round grows (Q = 2**22 up to 1,023 devices; precision is 2R/Q per coordinate).
    """
    if devices < 1:
        raise ValueError(f"devices must be >= 1, got {devices}")
    bits = MODULUS_BITS - math.ceil(math.log2(devices + 1))
    if bits < 8:
        raise ValueError(f"{devices} devices are too many for one 32-bit secure sum")
    return int(2 ** min(bits, 22))


def quantisation_step(devices: int) -> float:
    """2R/Q: the width of one quantisation level of a round of ``devices`` (SecAgg+'s stochastic
    rounding moves each device's coordinate by less than this)."""
    return 2 * PAYLOAD_RANGE / quantization_range(devices)


def minimum_contributors(sampled: int, dropout_tolerance: float) -> int:
    """How many of ``sampled`` devices must contribute for the round's sum to be revealed.

    Under distributed DP each device carries 1/m of the noise variance, sized for
    m = this minimum; fewer contributors would reveal a sum with less noise than the
    ledger accounts for, so such a round is halted before unmasking.
    """
    if not 0 <= dropout_tolerance < 0.5:
        raise ValueError(f"dropout_tolerance must be in [0, 0.5), got {dropout_tolerance}")
    return max(1, math.ceil(sampled * (1 - dropout_tolerance)))


def halted_round(payload_size: int, sampled: int, reason: str) -> SecureSum:
    """A round whose sum was never revealed."""
    return SecureSum(np.zeros(payload_size), 0, sampled, halted=reason)


def too_few_sampled(sampled: int) -> str:
    return f"{sampled} device(s) sampled; a secure round needs {MIN_SECURE_ROUND}"
