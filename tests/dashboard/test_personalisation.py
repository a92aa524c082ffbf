"""The Personalisation page: noisy fleet means with their noise, under the cohort rule."""

from __future__ import annotations

import math
import shutil
import sqlite3
from pathlib import Path

import pytest

from dashboard.monitoring import METRICS, pooled, round_noise, with_moving_average
from tests.dashboard.apptest import open_page, rendered, run_of
from tests.dashboard.conftest import Stores


def _row(number: int, value: float | None, noise: float = 4.0) -> dict[str, float | None]:
    return {
        "round": number,
        "statistic_noise_std": noise,
        "clients_completed": 40,
        "prompted_sum": 20.0,
        "persona_coverage": value,
        "prompt_justification": value,
    }


def test_one_rounds_noise_is_the_sums_noise_over_the_devices_averaged() -> None:
    row = _row(1, 0.5)

    assert round_noise(row, "persona_coverage") == pytest.approx(4.0 / 40)
    assert round_noise(row, "prompt_justification") == pytest.approx(4.0 / 20)
    assert round_noise(_row(1, None), "persona_coverage") is None


def test_pooling_k_rounds_divides_the_noise_by_sqrt_k() -> None:
    rows = [_row(n, v) for n, v in enumerate((0.9, 0.2, 0.4, None, 0.6, 0.8), start=1)]

    estimate = pooled(rows, "persona_coverage", window=4)

    assert estimate is not None
    assert estimate.rounds == 4  # the withheld round is skipped, the oldest dropped
    assert estimate.value == pytest.approx((0.2 + 0.4 + 0.6 + 0.8) / 4)
    assert estimate.noise_std == pytest.approx(0.1 / math.sqrt(4))
    assert pooled([], "persona_coverage") is None
    averaged = with_moving_average(rows, "persona_coverage", window=2)
    assert [r["persona_coverage_avg"] for r in averaged] == pytest.approx(
        [0.9, 0.55, 0.3, None, 0.5, 0.7]
    )


def test_the_page_shows_each_metric_with_its_noise(stores: Stores) -> None:
    last = run_of(stores.cohort).rounds[-1]

    app = open_page(stores.cohort, "personalisation")

    table = rendered(app)
    assert not app.warning  # every round had 10 clients, the minimum cohort
    for label, _ in METRICS.values():
        assert label in table
    assert f"{last['persona_coverage']:.3f}" in table
    assert f"+-{round_noise(last, 'persona_coverage'):.3f}" in table
    assert len(app.get("vega_lite_chart")) == 2  # per round, and the moving average
    assert any("Gaussian noise of std" in c.value for c in app.caption)


def test_small_cohorts_show_no_personalisation_value(stores: Stores, tmp_path: Path) -> None:
    store = tmp_path / "metrics.sqlite"
    shutil.copy(stores.small, store)
    with sqlite3.connect(store) as conn:
        conn.execute("UPDATE rounds SET persona_coverage = 0.654321, persona_depth = 0.654321")

    app = open_page(store, "personalisation")

    assert any("fewer than 10 clients completed" in w.value for w in app.warning)
    assert any("No personalisation metric is shown" in i.value for i in app.info)
    assert "0.654" not in rendered(app)


def test_prompt_metrics_need_the_minimum_cohort_of_prompted_devices(
    stores: Stores, tmp_path: Path
) -> None:
    store = tmp_path / "metrics.sqlite"
    shutil.copy(stores.cohort, store)
    with sqlite3.connect(store) as conn:
        conn.execute("UPDATE rounds SET prompted_sum = 3.0, prompt_justification = 0.654321")

    app = open_page(store, "personalisation")

    assert any("Justification and correction are withheld" in i.value for i in app.info)
    assert "0.654" not in rendered(app)
    assert "Attribute coverage" in rendered(app)
