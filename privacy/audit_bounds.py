"""Empirical lower bounds on epsilon from a membership attack's outcomes (privacy auditing).

An (epsilon, delta)-DP mechanism limits every test that tells "the canary took part" from
"it did not": its false positive rate (FPR) and false negative rate (FNR) satisfy
``FPR + e^eps * FNR >= 1 - delta`` and ``FNR + e^eps * FPR >= 1 - delta`` (Kairouz, Oh,
Viswanath 2015, "The Composition Theorem for Differential Privacy", Thm. 2.1). So an attack
observed to do better proves ``eps >= log((1 - delta - FNR) / FPR)`` (and the same with the
rates swapped). The rates are only estimated from trials, so each is replaced by its
Clopper-Pearson upper confidence limit (Clopper and Pearson 1934), which makes the bound
hold with probability at least ``1 - alpha`` (Jagielski, Ullman, Oprea 2020, "Auditing
Differentially Private Machine Learning: How Private is Private SGD?", Alg. 2; Nasr et al.
2021, "Adversary Instantiation", Sec. 3).

The one-run bound (Steinke, Nasr, Jagielski 2023, "Privacy Auditing with One (1) Training
Run", Thm. 3.1 and its delta > 0 extension; the same arithmetic as DeepMind's jax_privacy
``auditing.py``):
``m`` canaries are each included with probability 1/2 in a *single* run; an attacker
guessing in or out on ``r`` of them gets ``v`` right. Under (eps, delta)-DP the number
right is dominated by Binomial(r, e^eps / (1 + e^eps)) up to a delta term, which gives a
p-value for each eps; the bound is the largest eps rejected at level ``alpha``.

These are lower bounds: a mechanism can pass every audit and still be less private than
its ledger says (the attack may be weak). A bound above the ledger's epsilon means the
accounting or the mechanism is wrong, up to the audit's ``alpha`` chance of a false alarm.

tensorflow-privacy 0.9.0 (which has ``EpsilonLowerBound``) cannot install alongside this
stack (``pip install --dry-run`` resolves it to dp-accounting 0.4.3, numpy 1.26.4 and
tensorflow 2.21), and jax_privacy needs jax, so the bounds are here, pinned by tests
against closed forms and scipy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special, stats  # type: ignore[import-untyped]


def _check_counts(successes: int, trials: int) -> None:
    if trials < 1 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials and trials >= 1, got {successes}/{trials}")


def _check_level(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha should be in (0, 1), got {alpha!r}")


def clopper_pearson_upper(successes: int, trials: int, alpha: float) -> float:
    """One-sided upper limit p with P[Binomial(trials, p) <= successes] = alpha.

    The exact (Clopper-Pearson) limit is the (1 - alpha) quantile of
    Beta(successes + 1, trials - successes); 1 when every trial succeeded.
    """
    _check_counts(successes, trials)
    _check_level(alpha)
    if successes == trials:
        return 1.0
    return float(stats.beta.ppf(1.0 - alpha, successes + 1, trials - successes))


def clopper_pearson_lower(successes: int, trials: int, alpha: float) -> float:
    """One-sided lower limit: the alpha quantile of Beta(successes, trials - successes + 1)."""
    _check_counts(successes, trials)
    _check_level(alpha)
    if successes == 0:
        return 0.0
    return float(stats.beta.ppf(alpha, successes, trials - successes + 1))


def epsilon_from_rates(fpr: float, fnr: float, delta: float) -> float:
    """The largest eps that rates (fpr, fnr) rule out for (eps, delta)-DP; 0 when none.

    ``max(log((1 - delta - fnr) / fpr), log((1 - delta - fpr) / fnr), 0)`` (Kairouz et al.
    2015, Thm. 2.1); a zero rate with the other below ``1 - delta`` rules out every eps.
    """
    if not (0.0 <= fpr <= 1.0 and 0.0 <= fnr <= 1.0):
        raise ValueError(f"rates should be in [0, 1], got fpr={fpr!r}, fnr={fnr!r}")
    if not 0.0 <= delta < 1.0:
        raise ValueError(f"delta should be in [0, 1), got {delta!r}")
    best = 0.0
    for first, second in ((fpr, fnr), (fnr, fpr)):
        numerator = 1.0 - delta - second
        if numerator <= 0.0:
            continue
        best = max(best, math.inf if first == 0.0 else math.log(numerator / first))
    return best


@dataclass(frozen=True)
class EpsilonInterval:
    """What an attack's counts say about epsilon, at confidence ``1 - alpha``.

    ``lower``: eps is at least this with probability >= 1 - alpha (the audit's result);
    ``point``: the eps the observed rates imply; ``upper``: the most the counts could imply
    at that confidence (both rates at their lower limits). Only ``lower`` is a guarantee.
    """

    lower: float
    point: float
    upper: float
    confidence: float


def epsilon_interval(
    *,
    false_positives: int,
    negatives: int,
    false_negatives: int,
    positives: int,
    delta: float,
    alpha: float = 0.05,
) -> EpsilonInterval:
    """The epsilon an attack's counts prove, with its interval.

    ``false_positives`` of ``negatives`` runs without the canary were called "in";
    ``false_negatives`` of ``positives`` runs with it were called "out". Each rate gets a
    one-sided Clopper-Pearson limit at alpha / 2, so both hold together with probability
    >= 1 - alpha (a union bound).
    """
    _check_level(alpha)
    _check_counts(false_positives, negatives)
    _check_counts(false_negatives, positives)
    half = alpha / 2.0
    fpr = false_positives / negatives
    fnr = false_negatives / positives
    return EpsilonInterval(
        lower=epsilon_from_rates(
            clopper_pearson_upper(false_positives, negatives, half),
            clopper_pearson_upper(false_negatives, positives, half),
            delta,
        ),
        point=epsilon_from_rates(fpr, fnr, delta),
        upper=epsilon_from_rates(
            clopper_pearson_lower(false_positives, negatives, half),
            clopper_pearson_lower(false_negatives, positives, half),
            delta,
        ),
        confidence=1.0 - alpha,
    )


def one_run_p_value(
    *, canaries: int, guesses: int, correct: int, epsilon: float, delta: float
) -> float:
    """P-value of ``correct`` right guesses among ``guesses`` under (epsilon, delta)-DP.

    Steinke, Nasr, Jagielski 2023, Thm. 3.1 (delta = 0: the Binomial tail with success
    probability e^eps / (1 + e^eps)) and its delta extension (Sec. 5): the tail plus
    ``2 m delta max_i (tail(v - i) - tail(v)) / i`` over i = 1..v.
    """
    if not 0 <= correct <= guesses <= canaries:
        raise ValueError(
            f"need 0 <= correct <= guesses <= canaries, got {correct}, {guesses}, {canaries}"
        )
    p = float(special.expit(epsilon))
    tail = float(stats.binom.sf(correct - 1, guesses, p))
    if delta == 0.0 or correct == 0:
        return tail
    steps = np.arange(1, correct + 1)
    excess = (stats.binom.sf(correct - steps - 1, guesses, p) - tail) / steps
    return min(tail + 2.0 * canaries * delta * float(excess.max()), 1.0)


def one_run_epsilon_lower_bound(
    *, canaries: int, guesses: int, correct: int, delta: float, alpha: float = 0.05
) -> float:
    """The largest eps whose (eps, delta) claim the guesses reject at level alpha (0: none).

    The p-value grows with eps, so the boundary is found by bracketing and Brent's method.
    """
    _check_level(alpha)

    def rejected(eps: float) -> float:  # > 0 while (eps, delta) is rejected
        p = one_run_p_value(
            canaries=canaries, guesses=guesses, correct=correct, epsilon=eps, delta=delta
        )
        return alpha - p

    if guesses == 0 or rejected(0.0) <= 0.0:
        return 0.0
    low, high = 0.0, 1.0
    while rejected(high) > 0.0:
        low, high = high, 2.0 * high
        if high > 1e3:
            return math.inf
    return float(optimize.brentq(rejected, low, high, xtol=1e-9))
