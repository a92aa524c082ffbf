"""The noise <-> epsilon relation of a sampling scheme: per-round DP events, epsilon, calibration.

User-level DP: one user = one client = all of that user's data. Each round releases one
sampled Gaussian mechanism over the clients' clipped updates, with noise std z * C on their
sum (``privacy.noise.gaussian_mechanism_std``):

* ``poisson``: every client joins a round independently with probability q; neighbouring
  populations differ by adding or removing one user (sensitivity C). Event:
  ``PoissonSampledDpEvent(q, GaussianDpEvent(z))`` (Mironov, Talwar, Zhang 2019, "Renyi
  Differential Privacy of the Sampled Gaussian Mechanism").
* ``fixed_size``: exactly k of a population of N, sampled without replacement; N is public,
  so neighbours differ by replacing one user and the sum's sensitivity is 2C: the same noise
  is z / 2 times that sensitivity, and the event is
  ``SampledWithoutReplacementDpEvent(N, k, GaussianDpEvent(z / 2))`` (Wang, Balle,
  Kasiviswanathan 2019, "Subsampled Renyi Differential Privacy and Analytical Moments
  Accountant", Thm. 27). dp-accounting 0.6.0 has no PLD for this event: RDP only.
* ``unamplified``: no claim about how devices are chosen (in a deployment they take part
  when they are online and willing, which no server controls). Each device takes part in
  at most k rounds of a run (``participation_cap``; the device enforces it itself), and a
  round it takes part in is a Gaussian mechanism on a sum of sensitivity C under
  add/remove-one: ``GaussianDpEvent(z)``; a round without it does not depend on its data.
  So one user's loss is the composition of at most k of the run's Gaussian events, the
  worst k (smallest z), whoever chose the devices and however (adaptive composition:
  Dwork, Rothblum, Vadhan 2010; the participation-limit argument of Kairouz et al. 2021,
  "Practical and Private (Deep) Learning without Sampling or Shuffling").

Epsilon at delta comes from dp-accounting's RDP accountant (Mironov 2017, "Renyi Differential
Privacy"; orders = dp-accounting's DEFAULT_RDP_ORDERS, 1.1 to 1024; 1000 Poisson rounds take
~0.03 s, fixed-size ~0.2 s) or its PLD accountant (Koskela et al. 2020; Doroshenko et al.
2022, "Connect the Dots"; pessimistic rounding, ``value_discretization_interval`` 1e-4:
1000 Poisson rounds take ~0.4 s, 1e-3 ~0.05 s for 0.0007 more epsilon). Rounds with equal z are
composed with one ``compose(event, count)`` call (composition is commutative), so the cost
grows with the number of distinct z values, not with rounds. Composing 1000 events one by one
takes minutes. Building one round's loss is most of the cost (a Poisson round's PLD at 1e-4:
3-4 s; self-composing it 20 times and reading epsilon: under 1 s), so each round's RDP curve
and PLD are kept per noise multiplier and composed exactly as the accountants compose them
(``privacy.round_accounting``): the same epsilon, to the bit, without rebuilding it. A round
with z = 0 is not private: its epsilon is infinite.

Calibration: epsilon after a fixed number of rounds decreases as z grows (the Renyi divergence
of the sampled Gaussian mechanism is monotone in sigma, Mironov, Talwar, Zhang 2019), so
bisection on z against the same computation finds the smallest z within a target epsilon.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import dp_accounting  # type: ignore[import-untyped]

from privacy.round_accounting import pld_epsilon, rdp_epsilon

SamplingKind = Literal["poisson", "fixed_size", "unamplified"]
AccountantKind = Literal["rdp", "pld"]
DEFAULT_PLD_DISCRETIZATION = 1e-4
# Replace-one doubles the sensitivity of a sum of updates clipped to C (C -> 2C).
REPLACE_ONE_SENSITIVITY_FACTOR = 2.0
_MAX_NOISE_MULTIPLIER = 2.0**20


@dataclass(frozen=True, kw_only=True)
class Sampling:
    """How clients are drawn each round; fixes the DP event and the neighbouring relation."""

    kind: SamplingKind
    sampling_probability: float | None = None
    clients_per_round: int | None = None
    population: int | None = None
    participation_cap: int | None = None  # unamplified only: rounds a device may join

    def __post_init__(self) -> None:
        if self.kind != "unamplified" and self.participation_cap is not None:
            raise ValueError(f"participation_cap is for 'unamplified' only, not {self.kind!r}.")
        if self.kind == "unamplified":
            cap = self.participation_cap
            if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
                raise ValueError(f"participation_cap should be an integer >= 1, got {cap!r}.")
            if (self.sampling_probability, self.clients_per_round, self.population) != (
                None,
                None,
                None,
            ):
                raise ValueError("Unamplified accounting takes participation_cap only.")
        elif self.kind == "poisson":
            q = self.sampling_probability
            if q is None or not 0.0 < q <= 1.0:
                raise ValueError(f"Poisson sampling_probability should be in (0, 1], got {q!r}.")
            if self.clients_per_round is not None or self.population is not None:
                raise ValueError("Poisson sampling takes sampling_probability only.")
        elif self.kind == "fixed_size":
            k, n = self.clients_per_round, self.population
            if k is None or n is None or not 1 <= k <= n:
                raise ValueError(
                    f"Fixed-size sampling needs 1 <= clients_per_round <= population, "
                    f"got clients_per_round={k!r}, population={n!r}."
                )
            if self.sampling_probability is not None:
                raise ValueError("Fixed-size sampling takes clients_per_round and population.")
        else:
            raise ValueError(
                f"Unknown sampling {self.kind!r}; use 'poisson', 'fixed_size' or 'unamplified'."
            )

    @property
    def relation(self) -> dp_accounting.NeighboringRelation:
        if self.kind in ("poisson", "unamplified"):
            return dp_accounting.NeighboringRelation.ADD_OR_REMOVE_ONE
        return dp_accounting.NeighboringRelation.REPLACE_ONE

    @property
    def accountants(self) -> tuple[AccountantKind, ...]:
        """The accountants that support this sampling in dp-accounting 0.6.0."""
        return ("rdp",) if self.kind == "fixed_size" else ("rdp", "pld")

    def event(self, noise_multiplier: float) -> dp_accounting.DpEvent:
        """The DP event of one round with noise std = ``noise_multiplier`` * C on the sum."""
        if self.kind == "unamplified":
            return dp_accounting.GaussianDpEvent(noise_multiplier)
        if self.kind == "poisson":
            gaussian = dp_accounting.GaussianDpEvent(noise_multiplier)
            return dp_accounting.PoissonSampledDpEvent(self.sampling_probability, gaussian)
        gaussian = dp_accounting.GaussianDpEvent(noise_multiplier / REPLACE_ONE_SENSITIVITY_FACTOR)
        return dp_accounting.SampledWithoutReplacementDpEvent(
            self.population, self.clients_per_round, gaussian
        )


def check_accountant(sampling: Sampling, accountant: AccountantKind) -> None:
    """Raise ValueError unless dp-accounting 0.6.0 accounts ``sampling`` with ``accountant``."""
    if accountant not in sampling.accountants:
        raise ValueError(
            f"Accountant {accountant!r} does not support {sampling.kind!r} sampling "
            f"in dp-accounting 0.6.0; use one of {sampling.accountants}."
        )


def compute_epsilon(
    sampling: Sampling,
    noise_multipliers: Iterable[float],
    *,
    delta: float,
    accountant: AccountantKind = "rdp",
    pld_discretization: float = DEFAULT_PLD_DISCRETIZATION,
) -> float:
    """Epsilon at ``delta`` after one round per entry of ``noise_multipliers`` (0 rounds: 0).

    Unamplified: a user is in at most ``participation_cap`` of the rounds, so only the
    worst (least noisy) that many are composed.
    """
    groups = tuple(sorted(Counter(float(z) for z in noise_multipliers).items()))
    if sampling.participation_cap is not None:
        groups = least_noisy(groups, sampling.participation_cap)
    return _epsilon_of_groups(sampling, groups, delta, accountant, pld_discretization)


def least_noisy(groups: tuple[tuple[float, int], ...], count: int) -> tuple[tuple[float, int], ...]:
    """The ``count`` rounds of smallest z, from ``(z, rounds)`` groups sorted by z.

    Why these: a Gaussian release at a larger z is the one at z plus independent extra
    noise, a post-processing of it, so it reveals no more (for RDP too: the Gaussian
    mechanism's alpha / (2 z^2), Mironov 2017, falls with z at every order); the worst set
    of rounds one user can be in is therefore the least noisy one.
    """
    kept: list[tuple[float, int]] = []
    for z, rounds in groups:
        if count <= 0:
            break
        kept.append((z, min(rounds, count)))
        count -= rounds
    return tuple(kept)


@lru_cache(maxsize=1024)
def _epsilon_of_groups(
    sampling: Sampling,
    groups: tuple[tuple[float, int], ...],
    delta: float,
    accountant: AccountantKind,
    pld_discretization: float,
) -> float:
    if accountant not in ("rdp", "pld"):
        raise ValueError(f"Unknown accountant {accountant!r}; use 'rdp' or 'pld'.")
    if not groups:
        return 0.0
    if any(z == 0.0 for z, _ in groups):
        return math.inf  # No noise: no privacy, whatever an accountant would say.
    check_accountant(sampling, accountant)
    if accountant == "rdp":
        return rdp_epsilon(sampling, groups, delta)
    return pld_epsilon(sampling, groups, delta, pld_discretization)


def check_noise_multiplier(value: float) -> float:
    z = float(value)
    if not math.isfinite(z) or z < 0.0:
        raise ValueError(f"The noise multiplier should be finite and >= 0, got {value!r}.")
    return z


def _smallest_within(
    epsilon: Callable[[float], float], target_epsilon: float, relative_tolerance: float
) -> float:
    """Bisection for the smallest z with epsilon(z) <= target, epsilon decreasing in z."""
    # Invariant: epsilon(low) > target >= epsilon(high); epsilon(0) is infinite.
    low, high = 0.0, 1.0
    while epsilon(high) > target_epsilon:
        low, high = high, 2.0 * high
        if high > _MAX_NOISE_MULTIPLIER:
            raise ValueError(f"No noise multiplier up to 2**20 reaches epsilon {target_epsilon!r}.")
    while high - low > relative_tolerance * high:
        middle = 0.5 * (low + high)
        if epsilon(middle) <= target_epsilon:
            high = middle
        else:
            low = middle
    return high


def calibrate_noise_multiplier(
    *,
    target_epsilon: float,
    delta: float,
    rounds: int,
    sampling: SamplingKind,
    sampling_probability: float | None = None,
    clients_per_round: int | None = None,
    population: int | None = None,
    participation_cap: int | None = None,
    accountant: AccountantKind = "rdp",
    pld_discretization: float = DEFAULT_PLD_DISCRETIZATION,
    relative_tolerance: float = 1e-3,
) -> float:
    """Smallest noise multiplier z (to ``relative_tolerance``) with epsilon(z) <= target.

    z has the ledger's meaning (noise std z * C on the sum of updates clipped to C), so the
    value can be passed to ``PrivacyLedger(noise_multiplier=...)`` for the same sampling.
    Returns the upper end of the final bisection bracket: epsilon(z) <= target is
    guaranteed. Raises ``ValueError`` naming a bad setting, or when z = 2**20 misses the target.
    """
    if not math.isfinite(target_epsilon) or target_epsilon <= 0.0:
        raise ValueError(f"target_epsilon should be positive and finite, got {target_epsilon!r}.")
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta should be in (0, 1), got {delta!r}.")
    if rounds < 1:
        raise ValueError(f"rounds should be >= 1, got {rounds!r}.")
    if not 0.0 < relative_tolerance < 0.1:
        raise ValueError(f"relative_tolerance should be in (0, 0.1), got {relative_tolerance!r}.")
    plan = Sampling(
        kind=sampling,
        sampling_probability=sampling_probability,
        clients_per_round=clients_per_round,
        population=population,
        participation_cap=participation_cap,
    )

    def epsilon(z: float) -> float:
        return compute_epsilon(
            plan,
            [z] * rounds,
            delta=delta,
            accountant=accountant,
            pld_discretization=pld_discretization,
        )

    return _smallest_within(epsilon, target_epsilon, relative_tolerance)


MAX_PROJECTED_ROUNDS = 10_000


def rounds_that_fit(
    sampling: Sampling,
    done: Sequence[float],
    noise_multiplier: float,
    *,
    delta: float,
    budget: float,
    cap: int = MAX_PROJECTED_ROUNDS,
) -> int:
    """Largest ``k <= cap`` such that ``done`` + ``k`` rounds at ``noise_multiplier`` fit.

    The search runs on the RDP accountant (fast at any round count); the PLD accountant,
    where it applies, then checks the answer and lowers it if it must, so every accountant
    stays within the budget, as the server's stop requires.
    """
    if noise_multiplier <= 0.0:
        return 0
    k = cap
    for kind in sampling.accountants:

        def fits(extra: int, kind: AccountantKind = kind) -> bool:
            rounds = [*done, *([noise_multiplier] * extra)]
            return compute_epsilon(sampling, rounds, delta=delta, accountant=kind) <= budget

        k = k if fits(k) else _largest_fitting(fits, k)
    return k


def _largest_fitting(fits: Callable[[int], bool], upper: int) -> int:
    """Largest k < upper with fits(k) (0 when none), given not fits(upper), fits monotone."""
    if not fits(0):
        return 0
    low, high = 0, 1  # Invariant: fits(low); search upwards until high fails or reaches upper.
    while high < upper and fits(high):
        low, high = high, 2 * high
    return _bisect(fits, low, min(high, upper))


def _bisect(fits: Callable[[int], bool], low: int, high: int) -> int:
    """Largest k in [low, high) with fits(k), given fits(low) and not fits(high)."""
    while high - low > 1:
        middle = (low + high) // 2
        if fits(middle):
            low = middle
        else:
            high = middle
    return low
