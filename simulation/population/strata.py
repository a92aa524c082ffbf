"""Near, middle and far strata: coherent personas that are not clones.

After DeepPersona's progressive attribute sampling: rank every candidate (leaf, value) of
a category by its similarity to the persona's core profile, cut the ranking into thirds
(near, middle, far), and draw each further attribute's stratum with probabilities 5:3:2.
Sampling only near values would make personas stereotyped and alike; sampling uniformly
would make them incoherent. Each slot's stratum is an independent categorical draw, so
over many personas the stratum counts are multinomial with the configured ratio, which is
what the tests check.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from simulation.population.entities import STRATA, Attribute
from simulation.population.themes import CategoryOptions, FloatArray

DEFAULT_RATIO = (0.5, 0.3, 0.2)


def validate_ratio(ratio: Sequence[float]) -> tuple[float, float, float]:
    """The ratio normalised to sum 1; three non-negative weights, not all zero."""
    if len(ratio) != len(STRATA) or any(w < 0 for w in ratio) or sum(ratio) <= 0:
        raise ValueError(f"strata ratio must be three non-negative weights, got {ratio!r}")
    total = float(sum(ratio))
    near, middle, far = (float(w) / total for w in ratio)
    return (near, middle, far)


def stratify(
    options: CategoryOptions, profile: FloatArray, rng: np.random.Generator
) -> list[list[int]]:
    """Option indices split into near, middle and far thirds by similarity to ``profile``.

    Ties (values sharing no theme with the profile score 0) are broken at random, so that
    the cut between middle and far does not follow the file order.
    """
    similarity = options.vectors @ profile
    order = np.lexsort((rng.random(len(similarity)), -similarity))
    return [part.tolist() for part in np.array_split(order, len(STRATA))]


def sample_category(
    options: CategoryOptions,
    profile: FloatArray,
    count: int,
    ratio: tuple[float, float, float],
    rng: np.random.Generator,
) -> list[Attribute]:
    """``count`` attributes of one category, at most one value per leaf, strata by ``ratio``.

    A stratum that runs out of unused leaves yields fewer attributes rather than borrowing
    from another stratum, which would bias the ratio.
    """
    thirds = stratify(options, profile, rng)
    per_stratum = rng.multinomial(count, ratio).tolist()
    used: set[int] = set()
    picked: list[Attribute] = []
    for origin, third, wanted in zip(STRATA, thirds, per_stratum, strict=True):
        if wanted == 0:
            continue
        for option in rng.permutation(third).tolist():
            leaf_index = int(options.leaf_of[option])
            if leaf_index in used:
                continue
            used.add(leaf_index)
            leaf = options.leaves[leaf_index]
            picked.append(
                Attribute(leaf.category, leaf.name, options.values[option], leaf.kind, origin)
            )
            wanted -= 1
            if wanted == 0:
                break
    return picked
