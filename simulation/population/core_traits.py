"""Core traits (demographics, Big Five levels) drawn from the taxonomy's distribution tables.

The tables are predefined, with a source note each, so no persona invents its own age or
household: a trait is drawn from the row that matches the traits it is conditioned on
(household given age and children, for instance), in the file's dependency order. Rows are
resolved for every combination once, so a draw is a bisection over cumulative weights.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass
from functools import cache

from simulation.population.draws import Draws
from simulation.population.entities import Attribute, Origin
from simulation.population.taxonomy import Leaf, Taxonomy


@dataclass(frozen=True, eq=False)
class _ResolvedTable:
    leaf: Leaf
    given: tuple[str, ...]
    rows: dict[tuple[str, ...], tuple[tuple[str, ...], tuple[float, ...]]]


@cache
def _resolved_tables(taxonomy: Taxonomy) -> tuple[_ResolvedTable, ...]:
    """Each tabled leaf with its rows looked up for every combination of given values."""
    values_of = {leaf.name: [spec.value for spec in leaf.values] for leaf in taxonomy.leaves}
    tables = []
    for leaf in taxonomy.core_traits:
        assert leaf.distribution is not None  # core_traits holds only tabled leaves
        given = leaf.distribution.given
        rows = {}
        for combo in itertools.product(*(values_of[name] for name in given)):
            row = leaf.distribution.row_for(tuple(combo))
            values = tuple(row)
            cumulative = tuple(itertools.accumulate(row[value] for value in values))
            rows[tuple(combo)] = (values, cumulative)
        tables.append(_ResolvedTable(leaf=leaf, given=given, rows=rows))
    return tuple(tables)


def sample_core_traits(taxonomy: Taxonomy, draws: Draws) -> list[Attribute]:
    """One value for every tabled leaf, each from the row its earlier traits select."""
    chosen: dict[str, str] = {}
    traits: list[Attribute] = []
    for table in _resolved_tables(taxonomy):
        values, cumulative = table.rows[tuple(chosen[name] for name in table.given)]
        # The last cumulative weight is 1 up to rounding; scale so the draw always lands.
        position = bisect.bisect_right(cumulative, draws.uniform() * cumulative[-1])
        value = values[min(position, len(values) - 1)]
        chosen[table.leaf.name] = value
        leaf = table.leaf
        traits.append(Attribute(leaf.category, leaf.name, value, leaf.kind, Origin.CORE))
    return traits
