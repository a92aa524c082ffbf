"""Gaussian noise sources and the noise scales of the (central or distributed) Gaussian mechanism.

Randomness is explicit: every function that adds noise takes a ``GaussianNoise``. Production
uses ``SecureGaussian`` (OS entropy); tests and simulations use ``SeededGaussian``.

Noise scale conventions (one meaning of "noise multiplier" z across the project): the noise
added to the *sum* of n clipped updates has standard deviation z * C, so the equal-weight mean
carries z * C / n (McMahan et al. 2018, "Learning Differentially Private Recurrent Language
Models", Alg. 1). The privacy ledger translates z into the accountant's terms for the run's
neighbouring relation (see ``privacy.ledger``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Protocol

import numpy as np
import numpy.typing as npt

FloatVector = npt.NDArray[np.float64]

# 53 random bits make one double in [0, 1) exactly (the mantissa width of IEEE 754 binary64).
_MANTISSA_BITS = 53
_TWO_TO_MINUS_53 = 2.0**-_MANTISSA_BITS


class GaussianNoise(Protocol):
    """A source of i.i.d. N(0, std^2) samples.

    Contract: ``sample(size, std)`` returns a new float64 array of shape ``(size,)``; ``std``
    is finite and >= 0 (``std == 0`` gives zeros); implementations raise ``ValueError``
    naming a bad ``size`` or ``std``.
    """

    def sample(self, size: int, std: float) -> FloatVector: ...


def _check_request(size: int, std: float) -> None:
    if size < 0:
        raise ValueError(f"The sample size should be >= 0, got {size!r}.")
    if not math.isfinite(std) or std < 0.0:
        raise ValueError(f"The noise std should be finite and >= 0, got {std!r}.")


class SecureGaussian:
    """Gaussian noise from OS entropy (``os.urandom``), for production aggregation.

    Each pair of samples takes 128 bits from the OS CSPRNG: two 64-bit words, of which the top
    53 bits each make uniforms u1 in (0, 1] and u2 in [0, 1). The Box-Muller transform
    (Box and Muller 1958, "A Note on the Generation of Random Normal Deviates")
    ``r = sqrt(-2 ln u1)``, ``(r cos 2 pi u2, r sin 2 pi u2)`` turns them into two independent
    N(0, 1) samples; the whole vector is computed at once with numpy.

    Limitations, stated plainly:

    * Floating point. Textbook floating-point samplers are not exactly the distribution the
      proof assumes: the set of doubles a sampler can output, and their spacing, depend on the
      sample, so the low bits of a noised value can reveal the unnoised one (Mironov 2012,
      "On Significance of the Least Significant Bits for Differential Privacy", CCS, for the
      Laplace mechanism; Jin et al. 2022, "Are We There Yet? Timing and Floating-Point Attacks
      on Differential Privacy Systems", IEEE S&P, for Gaussian samplers including Box-Muller).
      This sampler does not defend against that. Remedies are a discrete Gaussian over
      integers (Canonne, Kamath, Steinke 2020) on a fixed-point encoding, which secure
      aggregation needs anyway (Kairouz, Liu, Steinke 2021, "The Distributed Discrete
      Gaussian Mechanism"), or snapping/rounding the output to a coarse grid.
    * Tails. u1 >= 2**-53 bounds |sample| <= sqrt(106 ln 2) ~ 8.57 std; the truncated mass is
      about 1e-17 per sample, far below any delta used here, but not zero.
    * Timing. ``log``, ``cos`` and ``sin`` are not constant-time.
    """

    def __init__(self, random_bytes: Callable[[int], bytes] = os.urandom) -> None:
        # Injectable only so tests can pin the transform; production keeps os.urandom.
        self._random_bytes = random_bytes

    def sample(self, size: int, std: float) -> FloatVector:
        _check_request(size, std)
        pairs = (size + 1) // 2
        words = np.frombuffer(self._random_bytes(16 * pairs), dtype="<u8").reshape(2, pairs)
        top_bits = (words >> np.uint64(64 - _MANTISSA_BITS)).astype(np.float64)
        u1 = (top_bits[0] + 1.0) * _TWO_TO_MINUS_53  # (0, 1]: log(u1) is finite
        u2 = top_bits[1] * _TWO_TO_MINUS_53  # [0, 1)
        radius = np.sqrt(-2.0 * np.log(u1))
        angle = 2.0 * math.pi * u2
        standard = np.concatenate([radius * np.cos(angle), radius * np.sin(angle)])[:size]
        return standard * float(std)


class SeededGaussian:
    """Reproducible Gaussian noise from a numpy ``Generator``; for tests and simulations only."""

    def __init__(self, generator: np.random.Generator) -> None:
        self._generator = generator

    def sample(self, size: int, std: float) -> FloatVector:
        _check_request(size, std)
        return self._generator.normal(0.0, float(std), size).astype(np.float64)


def _check_clients(clients: int, name: str = "clients") -> None:
    if clients < 1:
        raise ValueError(f"The number of {name} should be >= 1, got {clients!r}.")


def gaussian_mechanism_std(noise_multiplier: float, clipping_norm: float, clients: int) -> float:
    """Std of the Gaussian noise on the equal-weight mean of ``clients`` clipped updates: z C / n.

    Why C / n: each update is clipped to L2 norm C, so adding or removing one user changes the
    sum by at most C and the mean (with a fixed denominator n) by at most C / n; the Gaussian
    mechanism adds std = z times that sensitivity (Dwork and Roth 2014, Thm. A.1; McMahan et
    al. 2018, Alg. 1). This std uses the add/remove-one sensitivity C / n for every sampling
    scheme. Under replace-one (fixed-size sampling) the sensitivity is 2 C / n, so the same
    noise is only z / 2 times the sensitivity: the ledger accounts such rounds with noise
    multiplier z / 2, it does not change the noise added here.

    With Poisson sampling, n must be the *expected* number of clients (q * population), a fixed
    denominator; dividing by the realised count would make the scale data dependent
    (McMahan et al. 2018, the fixed-denominator estimator).
    """
    if not math.isfinite(noise_multiplier) or noise_multiplier < 0.0:
        raise ValueError(
            f"The noise multiplier should be finite and >= 0, got {noise_multiplier!r}."
        )
    if not math.isfinite(clipping_norm) or clipping_norm <= 0.0:
        raise ValueError(f"The clipping norm should be a positive value, got {clipping_norm!r}.")
    _check_clients(clients)
    return noise_multiplier * clipping_norm / clients


def distributed_noise_share_std(
    total_std: float, clients: int, *, min_surviving: int | None = None
) -> float:
    """Std of one client's noise share so that the shares of a round sum to ``total_std``.

    Distributed DP: each of n clients adds N(0, sigma^2 / n) before secure aggregation, and the
    sum of n independent shares is N(0, sigma^2) (variances of independent Gaussians add), so
    the share std is sigma / sqrt(n) and no party ever sees less-noised data than the sum.

    Dropouts: if only m < n shares reach the sum, its noise is sigma * sqrt(m / n), below what
    the ledger accounts for. A run must over-provision for its worst expected dropout: with
    ``min_surviving`` = m_min each client adds sigma^2 / m_min, so any m >= m_min survivors
    carry at least sigma^2 (more noise, never less privacy). If fewer than m_min survive, the
    round's noise is too small and the round must be discarded, not aggregated.
    """
    if not math.isfinite(total_std) or total_std < 0.0:
        raise ValueError(f"The total noise std should be finite and >= 0, got {total_std!r}.")
    _check_clients(clients)
    surviving = clients if min_surviving is None else min_surviving
    if not 1 <= surviving <= clients:
        raise ValueError(
            f"min_surviving should be between 1 and clients={clients}, got {min_surviving!r}."
        )
    return total_std / math.sqrt(surviving)
