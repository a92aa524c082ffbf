"""Epsilon of grouped rounds from each round's privacy loss, computed once per noise level.

dp-accounting's accountants rebuild a round's privacy loss on every call: the RDP curve of
one sampled Gaussian round (0.2-0.3 s here) and, for Poisson sampling, its privacy loss
distribution (PLD, 3-4 s at ``value_discretization_interval`` 1e-4). A run asks for epsilon
every round (the budget check, the metrics row) and calibration asks a dozen times, always
for the same one or two noise multipliers, so this module keeps each round's loss and
composes it the way the accountant would:

* RDP: ``RdpAccountant.compose(event, count)`` adds ``count`` times the event's RDP curve
  to a zero curve, and ``get_epsilon`` converts the sum (Mironov 2017, Prop. 1 for
  composition; dp-accounting's ``compute_epsilon`` for the conversion). The same sum of the
  same curve gives the same epsilon, to the bit.
* PLD (Poisson sampling): ``PLDAccountant.compose(event, count)`` builds the sampled
  Gaussian PLD (Koskela et al. 2020; Doroshenko et al. 2022, "Connect the Dots"), takes
  its ``self_compose(count)`` and composes that onto the identity PLD. Doing the same steps
  from a kept single-round PLD gives the same epsilon, to the bit (PLD objects are not
  changed by composing them). Other events (the unamplified Gaussian, whose PLD is cheap
  and built for ``count`` rounds at once) go to the accountant itself.

``tests/privacy/test_round_accounting.py`` pins both against a fresh accountant.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING

import dp_accounting  # type: ignore[import-untyped]
import numpy as np
import numpy.typing as npt
from dp_accounting.pld import pld_privacy_accountant  # type: ignore[import-untyped]
from dp_accounting.pld import privacy_loss_distribution as pld_lib
from dp_accounting.rdp import rdp_privacy_accountant  # type: ignore[import-untyped]

if TYPE_CHECKING:  # privacy.calibration imports this module
    from privacy.calibration import Sampling

Groups = tuple[tuple[float, int], ...]  # (noise multiplier, rounds), each z > 0


def rdp_epsilon(sampling: Sampling, groups: Groups, delta: float) -> float:
    """What ``RdpAccountant`` composing ``count`` events per group returns, at ``delta``."""
    orders = _one_round_rdp(sampling, groups[0][0])[0]
    total = np.zeros_like(orders)
    for z, count in groups:
        total += count * _one_round_rdp(sampling, z)[1]
    return float(rdp_privacy_accountant.compute_epsilon(orders, total, delta)[0])


def pld_epsilon(sampling: Sampling, groups: Groups, delta: float, discretization: float) -> float:
    """What ``PLDAccountant`` composing ``count`` events per group returns, at ``delta``."""
    if sampling.kind != "poisson":
        accountant = pld_privacy_accountant.PLDAccountant(
            sampling.relation, value_discretization_interval=discretization
        )
        for z, count in groups:
            accountant.compose(sampling.event(z), count)
        return float(accountant.get_epsilon(delta))
    composed = pld_lib.identity(value_discretization_interval=discretization)
    for z, count in groups:
        composed = composed.compose(_one_round_pld(sampling, z, discretization).self_compose(count))
    return float(composed.get_epsilon_for_delta(delta))


@lru_cache(maxsize=256)
def _one_round_rdp(
    sampling: Sampling, z: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(orders, RDP at each order) of one round at noise multiplier ``z``."""
    accountant = rdp_privacy_accountant.RdpAccountant(neighboring_relation=sampling.relation)
    accountant.compose(sampling.event(z), 1)
    orders, curve = np.asarray(accountant.orders), np.array(accountant.rdp)
    orders.setflags(write=False)  # shared by every caller of the cache
    curve.setflags(write=False)
    return orders, curve


@lru_cache(maxsize=16)  # each holds two PMFs of ~160,000 floats at interval 1e-4 (~2.6 MB)
def _one_round_pld(
    sampling: Sampling, z: float, discretization: float
) -> pld_lib.PrivacyLossDistribution:
    """The PLD ``PLDAccountant`` builds for one Poisson-sampled Gaussian round."""
    if sampling.kind != "poisson" or not math.isfinite(z) or z <= 0.0:
        raise ValueError(f"a one-round PLD is kept for Poisson rounds with z > 0, got {z!r}")
    event: dp_accounting.PoissonSampledDpEvent = sampling.event(z)
    return pld_lib.from_gaussian_mechanism(
        standard_deviation=event.event.noise_multiplier,
        value_discretization_interval=discretization,
        sampling_prob=event.sampling_probability,
        neighboring_relation=sampling.relation,
    )
