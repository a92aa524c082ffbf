"""Theme vectors: how close an attribute value is to a persona's core traits.

Every value in the taxonomy carries a few themes (``outdoors``, ``thrift``, ...). A value's
vector is its themes one-hot, scaled to unit length; a persona's profile is the sum of its
core traits' vectors, re-weighted per persona so that two people with the same
demographics still lean differently. Similarity is the cosine between the two, which is
all the near/middle/far strata need: a ranking of candidate values for this persona.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

from protocol.persona_schema import CATEGORIES
from simulation.population.entities import Attribute
from simulation.population.taxonomy import Leaf, Taxonomy

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
# Gamma(shape 2, scale 0.5): mean 1, so on average a persona keeps its core's emphasis,
# with enough spread (sd ~0.7) that the same core traits give different near strata.
_IDIOSYNCRASY_SHAPE = 2.0
_IDIOSYNCRASY_SCALE = 0.5


@dataclass(frozen=True, eq=False)
class CategoryOptions:
    """The (leaf, value) options one category offers the strata, with their theme vectors.

    ``vectors`` has shape (n_options, n_themes); ``leaf_of[i]`` indexes ``leaves``.
    """

    category: str
    leaves: tuple[Leaf, ...]
    leaf_of: IntArray
    values: tuple[str, ...]
    vectors: FloatArray


@dataclass(frozen=True, eq=False)
class ThemeSpace:
    themes: tuple[str, ...]
    value_vectors: Mapping[tuple[str, str, str], FloatArray]
    options: Mapping[str, CategoryOptions]
    interests_by_theme: Mapping[str, tuple[int, ...]]

    def vector(self, attribute: Attribute) -> FloatArray:
        return self.value_vectors[(attribute.category, attribute.name, attribute.value)]

    def profile(self, core: Sequence[Attribute], rng: np.random.Generator) -> FloatArray:
        """Unit vector: the core traits' themes, each theme weighted by a per-persona draw."""
        total = np.zeros(len(self.themes))
        for attribute in core:
            total += self.vector(attribute)
        total *= rng.gamma(_IDIOSYNCRASY_SHAPE, _IDIOSYNCRASY_SCALE, len(self.themes))
        norm = float(np.linalg.norm(total))
        if norm == 0.0:
            return np.full(len(self.themes), 1.0 / np.sqrt(len(self.themes)))
        return total / norm


@cache
def theme_space(taxonomy: Taxonomy) -> ThemeSpace:
    """The space for ``taxonomy`` (built once per taxonomy object)."""
    column = {theme: i for i, theme in enumerate(taxonomy.themes)}
    vectors: dict[tuple[str, str, str], FloatArray] = {}
    for leaf in taxonomy.leaves:
        for spec in leaf.values:
            vector = np.zeros(len(column))
            for theme in spec.themes:
                vector[column[theme]] = 1.0
            if spec.themes:
                vector /= np.sqrt(len(spec.themes))
            vectors[(leaf.category, leaf.name, spec.value)] = vector
    options = {
        category: _category_options(taxonomy, category, vectors)
        for category in CATEGORIES
        if any(leaf.distribution is None for leaf in taxonomy.in_category(category))
    }
    return ThemeSpace(
        themes=taxonomy.themes,
        value_vectors=vectors,
        options=options,
        interests_by_theme=_interests_by_theme(options["interests"]),
    )


def _category_options(
    taxonomy: Taxonomy, category: str, vectors: Mapping[tuple[str, str, str], FloatArray]
) -> CategoryOptions:
    """Options from the category's leaves that are not drawn from tables."""
    leaves = tuple(leaf for leaf in taxonomy.in_category(category) if leaf.distribution is None)
    leaf_of: list[int] = []
    values: list[str] = []
    for index, leaf in enumerate(leaves):
        for spec in leaf.values:
            leaf_of.append(index)
            values.append(spec.value)
    matrix = np.array(
        [vectors[(category, leaves[i].name, v)] for i, v in zip(leaf_of, values, strict=True)]
    )
    return CategoryOptions(
        category=category,
        leaves=leaves,
        leaf_of=np.array(leaf_of, dtype=np.int64),
        values=tuple(values),
        vectors=matrix,
    )


def _interests_by_theme(options: CategoryOptions) -> dict[str, tuple[int, ...]]:
    """Interest options by theme, absent values left out: what a life story can add."""
    found: dict[str, list[int]] = {}
    for i, (leaf_index, value) in enumerate(
        zip(options.leaf_of.tolist(), options.values, strict=True)
    ):
        spec = options.leaves[leaf_index].spec(value)
        if spec.absent:
            continue
        for theme in spec.themes:
            found.setdefault(theme, []).append(i)
    return {theme: tuple(ids) for theme, ids in found.items()}
