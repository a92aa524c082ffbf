"""Epsilon from kept one-round losses equals a fresh dp-accounting accountant's, to the bit."""

from __future__ import annotations

import pytest
from dp_accounting.pld import pld_privacy_accountant  # type: ignore[import-untyped]
from dp_accounting.rdp import rdp_privacy_accountant  # type: ignore[import-untyped]

from privacy.calibration import Sampling
from privacy.round_accounting import Groups, pld_epsilon, rdp_epsilon

DELTA = 1e-5
POISSON = Sampling(kind="poisson", sampling_probability=0.05)
FIXED = Sampling(kind="fixed_size", clients_per_round=10, population=1000)
UNAMPLIFIED = Sampling(kind="unamplified", participation_cap=5)
# One noise level for many rounds (a run), and two levels (adaptive clipping), in order.
GROUPS: list[Groups] = [((0.9, 1),), ((0.9, 20),), ((0.8, 3), (1.1, 7))]


def fresh_rdp(sampling: Sampling, groups: Groups) -> float:
    accountant = rdp_privacy_accountant.RdpAccountant(neighboring_relation=sampling.relation)
    for z, count in groups:
        accountant.compose(sampling.event(z), count)
    return float(accountant.get_epsilon(DELTA))


def fresh_pld(sampling: Sampling, groups: Groups, interval: float) -> float:
    accountant = pld_privacy_accountant.PLDAccountant(
        sampling.relation, value_discretization_interval=interval
    )
    for z, count in groups:
        accountant.compose(sampling.event(z), count)
    return float(accountant.get_epsilon(DELTA))


@pytest.mark.parametrize("sampling", [POISSON, FIXED, UNAMPLIFIED], ids=lambda s: s.kind)
@pytest.mark.parametrize("groups", GROUPS, ids=str)
def test_rdp_from_the_kept_curve_equals_a_fresh_accountant(sampling: Sampling, groups: Groups):
    expected = fresh_rdp(sampling, groups)

    first, again = rdp_epsilon(sampling, groups, DELTA), rdp_epsilon(sampling, groups, DELTA)

    assert first == again == expected


@pytest.mark.parametrize("sampling", [POISSON, UNAMPLIFIED], ids=lambda s: s.kind)
@pytest.mark.parametrize("groups", GROUPS, ids=str)
def test_pld_from_the_kept_distribution_equals_a_fresh_accountant(
    sampling: Sampling, groups: Groups
):
    expected = fresh_pld(sampling, groups, 1e-3)

    first = pld_epsilon(sampling, groups, DELTA, 1e-3)
    again = pld_epsilon(sampling, groups, DELTA, 1e-3)  # composing left the kept PLD as it was

    assert first == again == expected


def test_the_default_run_at_the_default_discretization_matches_the_accountant():
    # `make run`: 20 Poisson rounds at q = 0.05, the noise calibrated for epsilon 8.
    groups = ((0.5556640625, 20),)

    kept = pld_epsilon(POISSON, groups, DELTA, 1e-4)

    assert kept == fresh_pld(POISSON, groups, 1e-4)
