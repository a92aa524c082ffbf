"""The minimum-cohort rule: no statistic over fewer clients than the minimum cohort is shown.

A round's per-client aggregates (mean loss, hits@1, fraction clipped) are computed over
the round's ``clients_completed``. They are noised before the server sees them, but over a
handful of clients a mean is still close to one person's own value, so rounds with
fewer than ``min_cohort`` clients have those values replaced by ``None`` and a reason. The
participation counts and the privacy accounting are not statistics of client values and
are always shown. The prompt metrics (justification, correction) average over the devices
that recorded prompts, so they are withheld too when that (noisy) count is below the
minimum cohort.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_MIN_COHORT = 10
# Means over the devices that recorded prompts (their noisy count is prompted_sum): they
# need that count, too, to reach the minimum cohort.
PROMPT_METRICS = ("prompt_justification", "correction_rate")
SUPPRESSIBLE = (
    "train_loss",
    "eval_hits_at_1",
    "fraction_clipped",
    "persona_coverage",
    "persona_depth",
    "persona_uniqueness",
    "prompted_sum",
    *PROMPT_METRICS,
)


@dataclass(frozen=True)
class CohortView:
    """Rows safe to show, and one reason per round whose statistics were withheld."""

    rows: tuple[dict[str, Any], ...]
    reasons: tuple[str, ...]
    min_cohort: int

    @property
    def suppressed_rounds(self) -> tuple[int, ...]:
        return tuple(int(r["round"]) for r in self.rows if r["suppressed"])


def check_min_cohort(value: int) -> int:
    if value < 1:
        raise ValueError(f"The minimum cohort should be at least 1, got {value!r}.")
    return value


def suppress_small_cohorts(
    rounds: Iterable[dict[str, Any]], min_cohort: int = DEFAULT_MIN_COHORT
) -> CohortView:
    """Copies of ``rounds``, small-cohort statistics removed, each with a ``suppressed`` text."""
    check_min_cohort(min_cohort)
    rows: list[dict[str, Any]] = []
    reasons: list[str] = []
    for source in rounds:
        row = {k: _clean(v) for k, v in source.items()}
        completed = int(row["clients_completed"])
        row["suppressed"] = ""
        if completed < min_cohort:
            for name in SUPPRESSIBLE:
                row[name] = None
            row["suppressed"] = (
                f"{completed} clients completed, fewer than the minimum cohort of {min_cohort}"
            )
            reasons.append(f"Round {row['round']}: {row['suppressed']}.")
        elif (row.get("prompted_sum") or 0.0) < min_cohort:
            for name in PROMPT_METRICS:
                row[name] = None
        rows.append(row)
    return CohortView(tuple(rows), tuple(reasons), min_cohort)


def _clean(value: Any) -> Any:
    """NaN (an accountant that does not apply) becomes None: missing, not a number."""
    return None if isinstance(value, float) and math.isnan(value) else value


def reasons_summary(view: CohortView) -> str:
    """One line for the page: which rounds were withheld and why."""
    rounds = view.suppressed_rounds
    if not rounds:
        return ""
    listed = ", ".join(str(r) for r in rounds[:12]) + (" ..." if len(rounds) > 12 else "")
    return (
        f"Statistics of {len(rounds)} round(s) are withheld (round {listed}): fewer than "
        f"{view.min_cohort} clients completed them, and a mean or quantile over so few "
        f"clients is too close to one person's own value."
    )


def to_csv(rows: Sequence[dict[str, Any]]) -> str:
    """The aggregate rows as CSV (withheld values are empty cells; the reason is a column)."""
    if not rows:
        return ""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
