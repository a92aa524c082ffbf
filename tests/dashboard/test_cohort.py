"""The minimum-cohort rule on rows from factories and from a real run."""

from __future__ import annotations

import csv
import io
import math
from typing import Any

import pytest

from dashboard.cohort import SUPPRESSIBLE, reasons_summary, suppress_small_cohorts, to_csv
from dashboard.metrics_reader import RunData, read_run
from tests.dashboard.conftest import Stores


def _row(round_number: int, completed: int, **values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {name: 0.5 for name in SUPPRESSIBLE}
    base["prompted_sum"] = float(completed)  # a (noisy) count of devices, not a mean
    return {
        "round": round_number,
        "clients_completed": completed,
        "epsilon_rdp": 1.0,
        "epsilon_pld": math.nan,
        **base,
        **values,
    }


def test_rounds_below_the_minimum_cohort_lose_their_statistics_and_say_why() -> None:
    view = suppress_small_cohorts([_row(1, 10), _row(2, 9)], min_cohort=10)

    shown, withheld = view.rows
    assert all(shown[name] is not None for name in SUPPRESSIBLE)
    assert all(withheld[name] is None for name in SUPPRESSIBLE)
    assert withheld["suppressed"] == ("9 clients completed, fewer than the minimum cohort of 10")
    assert view.suppressed_rounds == (2,)
    assert "round 2" in reasons_summary(view)


def test_prompt_metrics_are_withheld_when_few_devices_recorded_prompts() -> None:
    view = suppress_small_cohorts([_row(1, 40, prompted_sum=9.6)], min_cohort=10)

    (row,) = view.rows
    assert row["prompt_justification"] is None
    assert row["correction_rate"] is None
    assert row["persona_coverage"] == 0.5  # a mean over all 40 devices stays
    assert row["suppressed"] == ""


def test_participation_and_epsilon_are_never_withheld() -> None:
    row = suppress_small_cohorts([_row(1, 1)], min_cohort=10).rows[0]

    assert row["clients_completed"] == 1
    assert row["epsilon_rdp"] == 1.0
    assert row["epsilon_pld"] is None  # NaN (accountant does not apply) reads as missing


def test_the_input_rows_are_not_changed() -> None:
    source = _row(1, 2)

    suppress_small_cohorts([source])

    assert source["train_loss"] == 0.5


def test_a_minimum_cohort_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1, got 0"):
        suppress_small_cohorts([], min_cohort=0)


def test_on_a_real_small_run_every_statistic_is_withheld(stores: Stores) -> None:
    run = read_run(stores.small)
    assert isinstance(run, RunData)

    view = suppress_small_cohorts(run.rounds)

    assert view.suppressed_rounds == (1, 2, 3, 4)
    assert all(r[name] is None for r in view.rows for name in SUPPRESSIBLE)


def test_the_csv_has_every_round_and_empty_cells_where_withheld(stores: Stores) -> None:
    run = read_run(stores.small)
    assert isinstance(run, RunData)

    text = to_csv(suppress_small_cohorts(run.rounds).rows)

    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["round"] for r in rows] == ["1", "2", "3", "4"]
    assert all(r["train_loss"] == "" and r["suppressed"] for r in rows)
    assert float(rows[-1]["epsilon_rdp"]) == pytest.approx(run.rounds[-1]["epsilon_rdp"])
