"""The run's privacy budget: what is spent, and how many more rounds fit at its settings.

Rounds left is computed, not extrapolated: the run's ledger is rebuilt from the stored
settings and each round's noise multiplier, and asked (``PrivacyLedger.rounds_left``), by
the server's own stopping rule.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from privacy.accounting_assumption import assumption_kind
from privacy.calibration import MAX_PROJECTED_ROUNDS
from privacy.ledger import PrivacyLedger, governing_epsilon
from server.privacy_budget import ledger_settings_for
from server.run_settings import RunSettings


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
    amplified: bool  # True: the epsilon credits the sampling (true only if it is random)
    assumption: str  # what the epsilon rests on, in plain words (PrivacyLedger.assumption)
    participation_cap: int | None  # unamplified: the most rounds a device joins

    @property
    def spent(self) -> float:
        """The governing epsilon: the largest among the accountants that apply."""
        return governing_epsilon(self.epsilon_rdp, self.epsilon_pld)

    @property
    def fraction_spent(self) -> float | None:
        if self.budget is None or not math.isfinite(self.spent):
            return None
        return min(self.spent / self.budget, 1.0)


def run_settings_of(settings: dict[str, Any]) -> RunSettings:
    """The run's settings as the metrics store recorded them (its extra facts dropped)."""
    known = {f.name for f in fields(RunSettings)}
    return RunSettings.from_json({k: v for k, v in settings.items() if k in known})


def ledger_of(settings: dict[str, Any], rounds: Sequence[dict[str, Any]]) -> PrivacyLedger:
    """The run's ledger rebuilt from the store: its settings and each round's z."""
    ledger = PrivacyLedger.from_settings(ledger_settings_for(run_settings_of(settings)))
    for row in rounds:
        ledger.record_round(noise_multiplier=float(row["noise_multiplier"]))
    return ledger


def budget_status(
    settings: dict[str, Any], rounds: Sequence[dict[str, Any]], state: str
) -> BudgetStatus:
    """Spent epsilon from the stored rows; rounds left recomputed with the ledger's accountants."""
    last = rounds[-1] if rounds else {}
    budget = settings.get("epsilon")
    delta = last.get("delta", settings.get("delta"))
    z = settings.get("noise_multiplier", last.get("noise_multiplier"))
    pld = last.get("epsilon_pld")
    # Without a budget no round is replayed (no noise: nothing to project); the settings
    # still say what a claim would have rested on.
    ledger = ledger_of(settings, rounds if budget is not None else ())
    left = ledger.rounds_left() if budget is not None else None
    sampling = ledger.settings.sampling
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
        amplified=assumption_kind(sampling) == "amplified",
        assumption=ledger.assumption(),
        participation_cap=sampling.participation_cap,
    )


def format_epsilon(value: float | None) -> str:
    """Two decimals, 'inf' for no privacy, 'n/a' where an accountant does not apply."""
    if value is None:
        return "n/a"
    return f"{value:.2f}" if math.isfinite(value) else "inf"
