"""The run's privacy budget: what is spent, and how many more rounds fit at its settings.

Rounds left is computed, not extrapolated: the same ledger arithmetic the server uses
(``privacy.calibration.compute_epsilon`` over the run's sampling, one event per round with
the recorded noise multipliers, then ``k`` more rounds at the run's noise multiplier) finds
the largest ``k`` for which every accountant that applies stays within the budget, which is
the server's own stopping rule (``PrivacyLedger.would_exceed_budget``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from privacy.calibration import AccountantKind, Sampling, compute_epsilon
from privacy.ledger import governing_epsilon

MAX_PROJECTED_ROUNDS = 10_000


@dataclass(frozen=True)
class BudgetStatus:
    """The budget as an operator reads it; ``None`` where it does not apply."""

    budget: float | None  # None: trained without noise, no privacy claimed
    epsilon_rdp: float
    epsilon_pld: float | None  # None: the PLD accountant does not support the sampling
    delta: float | None
    noise_multiplier: float | None
    rounds_done: int
    rounds_left: int | None  # None: no budget, or no noise (no rounds fit a finite budget)
    rounds_left_capped: bool  # True: at least MAX_PROJECTED_ROUNDS more fit
    exhausted: bool

    @property
    def spent(self) -> float:
        """The governing epsilon: the largest among the accountants that apply."""
        return governing_epsilon(self.epsilon_rdp, self.epsilon_pld)

    @property
    def fraction_spent(self) -> float | None:
        if self.budget is None or not math.isfinite(self.spent):
            return None
        return min(self.spent / self.budget, 1.0)


def sampling_of(settings: dict[str, Any]) -> Sampling:
    """The run's sampling scheme as the ledger recorded it (from the store's settings)."""
    clients, per_round = int(settings["clients"]), int(settings["clients_per_round"])
    if settings.get("sampling") == "fixed_size":
        return Sampling(kind="fixed_size", clients_per_round=per_round, population=clients)
    return Sampling(kind="poisson", sampling_probability=per_round / clients)


def epsilon_after(
    sampling: Sampling, noise_multipliers: Sequence[float], delta: float
) -> dict[str, float]:
    """Epsilon of every accountant that applies after these rounds."""
    return {
        kind: compute_epsilon(sampling, noise_multipliers, delta=delta, accountant=kind)
        for kind in sampling.accountants
    }


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


def budget_status(
    settings: dict[str, Any], rounds: Sequence[dict[str, Any]], state: str
) -> BudgetStatus:
    """Spent epsilon from the stored rows; rounds left recomputed with the ledger's accountants."""
    last = rounds[-1] if rounds else {}
    budget = settings.get("epsilon")
    delta = last.get("delta", settings.get("delta"))
    z = settings.get("noise_multiplier", last.get("noise_multiplier"))
    pld = last.get("epsilon_pld")
    left: int | None = None
    if budget is not None and z is not None and delta is not None and float(z) > 0.0:
        done = [float(r["noise_multiplier"]) for r in rounds]
        left = rounds_that_fit(
            sampling_of(settings), done, float(z), delta=float(delta), budget=float(budget)
        )
    return BudgetStatus(
        budget=None if budget is None else float(budget),
        epsilon_rdp=float(last.get("epsilon_rdp", 0.0)),
        epsilon_pld=None if pld is None or math.isnan(pld) else float(pld),
        delta=None if delta is None else float(delta),
        noise_multiplier=None if z is None else float(z),
        rounds_done=len(rounds),
        rounds_left=left,
        rounds_left_capped=left == MAX_PROJECTED_ROUNDS,
        exhausted=state == "budget_exhausted",
    )


def format_epsilon(value: float | None) -> str:
    """Two decimals, 'inf' for no privacy, 'n/a' where an accountant does not apply."""
    if value is None:
        return "n/a"
    return f"{value:.2f}" if math.isfinite(value) else "inf"
