"""Each page under Streamlit's AppTest, over stores written by real in-process runs."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from dashboard.budget import format_epsilon
from tests.dashboard.apptest import metrics, open_page, rendered, run_of
from tests.dashboard.conftest import Stores


def test_overview_shows_rounds_epsilon_and_quality_of_a_large_cohort_run(stores: Stores) -> None:
    last = run_of(stores.cohort).rounds[-1]

    app = open_page(stores.cohort)

    shown = metrics(app)
    assert shown["Rounds"] == "4 / 4"
    assert shown["Epsilon spent"] == format_epsilon(last["epsilon_rdp"])
    assert shown["Hits@1 (last shown)"] == f"{100 * last['eval_hits_at_1']:.1f}%"
    assert len(app.get("vega_lite_chart")) == 2
    assert not app.warning  # nothing withheld: every round had 10 clients
    assert app.get("download_button")


def test_privacy_page_shows_both_accountants_budget_and_rounds_left(stores: Stores) -> None:
    last = run_of(stores.small).rounds[-1]

    app = open_page(stores.small, "privacy")

    shown = metrics(app)
    assert shown["Epsilon spent (RDP)"] == format_epsilon(last["epsilon_rdp"])
    assert shown["Epsilon spent (PLD)"] == format_epsilon(last["epsilon_pld"])
    assert shown["Budget"] == "8"
    assert shown["Delta"] == "1.00e-03"
    assert shown["Rounds left in budget"] == "0"  # calibrated so the 4 rounds spend it all
    assert not app.error


def test_fixed_size_sampling_has_no_pld_and_projects_the_rounds_that_still_fit(
    stores: Stores,
) -> None:
    app = open_page(stores.cohort, "privacy")

    shown = metrics(app)
    assert shown["Epsilon spent (PLD)"] == "n/a"
    assert shown["Rounds left in budget"] == "3"
    assert shown["Noise multiplier"] == "3.500"


def test_a_run_stopped_by_its_budget_says_so(stores: Stores) -> None:
    app = open_page(stores.exhausted, "privacy")

    assert "privacy budget stopped training" in app.error[0].value
    assert "stopped before round 5" in app.error[0].value
    assert metrics(app)["Rounds left in budget"] == "0"


def test_training_page_charts_loss_hits_and_the_clipping_norm(stores: Stores) -> None:
    app = open_page(stores.cohort, "training")

    assert [s.value for s in app.subheader][:2] == [
        "Training loss",
        "Hits@1 on clients' later turns",
    ]
    assert len(app.get("vega_lite_chart")) == 3
    assert "clipping norm" in rendered(app)
    assert "update_norm" not in rendered(app)  # no device's norm is ever released
    assert any("noisy mean" in c.value for c in app.caption)


@pytest.mark.parametrize("page", ["overview", "privacy", "training"])
def test_statistics_of_small_cohorts_are_withheld_with_the_reason(
    stores: Stores, page: str, tmp_path: Path
) -> None:
    # Noise often pushes a 4-device mean to a bound of its range (a generic string such as
    # 0.0), so distinctive values are written into a copy of the store to look for.
    store = tmp_path / "metrics.sqlite"
    shutil.copy(stores.small, store)
    with sqlite3.connect(store) as conn:
        conn.execute("UPDATE rounds SET train_loss = 1.234567, eval_hits_at_1 = 0.654321")

    app = open_page(store, page)

    assert any("fewer than 10 clients completed" in w.value for w in app.warning)
    for value in ("1.234567", "1.235", "0.654321", "65.4"):
        assert value not in rendered(app)


def test_a_lower_minimum_cohort_shows_the_small_run_statistics(stores: Stores) -> None:
    app = open_page(stores.small, "training", min_cohort=1)

    assert not app.warning
    assert len(app.get("vega_lite_chart")) == 3


def test_the_training_page_says_why_there_are_no_norm_quantiles(stores: Stores) -> None:
    app = open_page(stores.secure, "training")

    assert any("one device's value" in i.value for i in app.info)
    assert len(app.get("vega_lite_chart")) == 3  # loss, hits@1 and the clipping norm remain


def test_audit_page_of_a_secure_aggregation_run_says_the_server_sees_only_sums(
    stores: Stores,
) -> None:
    text = rendered(open_page(stores.secure, "audit"))

    assert "Secure aggregation: on (SecAgg+)" in text
    assert "distributed" in text


def test_audit_page_states_central_dp_and_the_run_settings(stores: Stores) -> None:
    app = open_page(stores.small, "audit")

    text = rendered(app)
    assert "Secure aggregation: off" in text
    assert "central" in text
    assert "docs/privacy.md" in text
    assert "add or remove one user" in text
    assert "seeded (reproducible" in text  # the test runs use seeded noise, and it says so


@pytest.mark.parametrize("page", ["overview", "privacy", "training", "audit"])
@pytest.mark.parametrize(
    ("store", "words"),
    [
        ("missing", "No metrics store"),
        ("empty", "Nothing recorded yet"),
        ("older", "another version"),
    ],
)
def test_stores_that_cannot_be_shown_get_a_page_that_says_why(
    stores: Stores, page: str, store: str, words: str
) -> None:
    app = open_page(getattr(stores, store), page)

    assert words in app.warning[0].value
    assert not app.metric


@pytest.mark.parametrize("page", ["overview", "privacy", "training"])
def test_a_run_with_no_rounds_yet_says_so_and_refreshes(stores: Stores, page: str) -> None:
    app = open_page(stores.no_rounds, page, refresh_seconds=5)

    assert "Refreshing every 5 s" in app.info[0].value
    assert "No rounds yet" in app.info[1].value


def test_the_operator_picks_among_runs(stores: Stores) -> None:
    app = open_page(stores.runs)
    picker = app.sidebar.selectbox[0]
    assert picker.options == ["cohort", "exhausted", "small"]
    assert metrics(app)["Rounds"] == "4 / 4"

    picker.select_index(1).run()

    assert metrics(app)["Rounds"] == "4 / 50"
    app.switch_page("pages/privacy_budget.py").run()
    assert "privacy budget stopped training" in app.error[0].value


def test_the_privacy_page_warns_that_an_amplified_epsilon_rests_on_random_sampling(
    stores: Stores,
) -> None:
    app = open_page(stores.small, "privacy")

    said = [w.value for w in app.warning if "This epsilon rests on" in w.value]
    assert len(said) == 1
    assert "amplified by Poisson sampling" in said[0]
    assert "may not hold" in said[0]


def test_the_privacy_page_of_an_unamplified_run_says_it_holds_however_devices_are_chosen(
    stores: Stores,
) -> None:
    app = open_page(stores.secure, "privacy")

    said = [i.value for i in app.info if "This epsilon rests on" in i.value]
    assert len(said) == 1
    assert "no amplification: holds however devices are chosen" in said[0]
    assert "at most 4 rounds" in said[0]
    assert metrics(app)["Rounds left in budget"] == "no limit"
    assert not any("This epsilon rests on" in w.value for w in app.warning)


def test_the_audit_page_says_what_the_epsilon_rests_on(stores: Stores) -> None:
    text = rendered(open_page(stores.secure, "audit"))

    assert "epsilon rests on" in text
    assert "no amplification" in text
    assert "not credited by the accounting" in text
