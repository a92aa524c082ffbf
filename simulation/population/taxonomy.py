"""The attribute taxonomy (``taxonomy.json``): loading and validation into frozen dataclasses.

The file is the project's own data: six categories (those of ``client/persona.py``), a few
hundred leaf attributes with their values, the theme vocabulary that relates values to each
other, and, for core traits, the distribution tables they are drawn from. Everything the
generator relies on is checked here once, so a typo in the data fails loudly at load time
with the leaf's name rather than as a skewed population later.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from protocol.persona_schema import CATEGORIES, AttributeKind

KINDS = tuple(kind.value for kind in AttributeKind)
TAXONOMY_PATH = Path(__file__).with_name("taxonomy.json")
WILDCARD = "*"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_WEIGHT_TOLERANCE = 1e-6


class TaxonomyError(ValueError):
    """The taxonomy file breaks a rule; the message names the leaf and the rule."""


@dataclass(frozen=True, slots=True)
class ValueSpec:
    """One value a leaf can take, its themes, and the cues that evoke it without naming it."""

    value: str
    themes: tuple[str, ...]
    cues: tuple[str, ...] = ()
    absent: bool = False


@dataclass(frozen=True, slots=True)
class Distribution:
    """A (conditional) table: ``rows[key]`` maps value -> probability.

    ``key`` joins the values of the ``given`` leaves with ``|``; ``*`` in a key matches any
    value, and the most specific matching row wins (see :meth:`row_for`).
    """

    given: tuple[str, ...]
    source: str
    rows: Mapping[str, Mapping[str, float]]

    def row_for(self, given_values: tuple[str, ...]) -> Mapping[str, float]:
        """The row for these given values: exact first, then keys with more ``*``."""
        for key in _candidate_keys(given_values):
            if key in self.rows:
                return self.rows[key]
        raise TaxonomyError(f"no row for {given_values!r} (given {self.given!r})")


@dataclass(frozen=True, slots=True)
class Leaf:
    """One persona attribute: ``(category, name)`` with its values and its phrasing."""

    category: str
    name: str
    label: str
    group: str
    kind: str
    values: tuple[ValueSpec, ...]
    say: tuple[str, ...] = ()
    ask: tuple[str, ...] = ()
    reply: tuple[str, ...] = ()
    hint: tuple[str, ...] = ()
    distribution: Distribution | None = None
    _by_value: Mapping[str, ValueSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_value", {spec.value: spec for spec in self.values})

    @property
    def key(self) -> tuple[str, str]:
        return (self.category, self.name)

    @property
    def recommendable(self) -> bool:
        """Whether a user can ask for a recommendation that depends on this attribute."""
        return bool(self.ask)

    def spec(self, value: str) -> ValueSpec:
        try:
            return self._by_value[value]
        except KeyError:
            raise KeyError(f"{self.category}.{self.name} has no value {value!r}") from None


@dataclass(frozen=True, slots=True, eq=False)
class Taxonomy:
    """All leaves, in file order, with the theme vocabulary (compared by identity)."""

    themes: tuple[str, ...]
    leaves: tuple[Leaf, ...]
    _by_key: Mapping[tuple[str, str], Leaf] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_key", {leaf.key: leaf for leaf in self.leaves})

    def leaf(self, category: str, name: str) -> Leaf:
        return self._by_key[(category, name)]

    def in_category(self, category: str) -> tuple[Leaf, ...]:
        return tuple(leaf for leaf in self.leaves if leaf.category == category)

    @property
    def core_traits(self) -> tuple[Leaf, ...]:
        """Leaves drawn from distribution tables, in dependency (file) order."""
        return tuple(leaf for leaf in self.leaves if leaf.distribution is not None)

    @property
    def recommendable(self) -> tuple[Leaf, ...]:
        return tuple(leaf for leaf in self.leaves if leaf.recommendable)


def _candidate_keys(values: tuple[str, ...]) -> list[str]:
    """Keys from most to least specific: each position either its value or ``*``."""
    if not values:
        return [WILDCARD]
    options = [(value, WILDCARD) for value in values]
    keys = ["|".join(combo) for combo in itertools.product(*options)]
    return sorted(keys, key=lambda key: key.count(WILDCARD))


@cache
def load_taxonomy(path: Path = TAXONOMY_PATH) -> Taxonomy:
    """Read and validate a taxonomy file (cached: the default file is read once)."""
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    themes = tuple(raw["themes"])
    leaves = tuple(
        _parse_leaf(category, item)
        for category in raw["categories"]
        for item in raw["categories"][category]
    )
    taxonomy = Taxonomy(themes=themes, leaves=leaves)
    validate(taxonomy, categories=tuple(raw["categories"]))
    return taxonomy


def _parse_leaf(category: str, item: dict[str, Any]) -> Leaf:
    values = tuple(
        ValueSpec(
            value=v["value"],
            themes=tuple(v["themes"]),
            cues=tuple(v.get("cues", ())),
            absent=bool(v.get("absent", False)),
        )
        for v in item["values"]
    )
    dist = item.get("distribution")
    distribution = None
    if dist is not None:
        distribution = Distribution(
            given=tuple(dist["given"]),
            source=dist["source"],
            rows={key: dict(row) for key, row in dist["rows"].items()},
        )
    return Leaf(
        category=category,
        name=item["name"],
        label=item["label"],
        group=item["group"],
        kind=item["kind"],
        values=values,
        say=tuple(item.get("say", ())),
        ask=tuple(item.get("ask", ())),
        reply=tuple(item.get("reply", ())),
        hint=tuple(item.get("hint", ())),
        distribution=distribution,
    )


def validate(taxonomy: Taxonomy, *, categories: tuple[str, ...] = CATEGORIES) -> None:
    """Raise TaxonomyError on the first broken rule (names, values, themes, tables, phrasing)."""
    if tuple(categories) != CATEGORIES:
        raise TaxonomyError(f"categories must be {CATEGORIES}, got {tuple(categories)}")
    seen: set[tuple[str, str]] = set()
    cues: dict[str, str] = {}
    for leaf in taxonomy.leaves:
        where = f"{leaf.category}.{leaf.name}"
        if leaf.key in seen:
            raise TaxonomyError(f"{where}: duplicate leaf")
        seen.add(leaf.key)
        _check_leaf(leaf, where, set(taxonomy.themes))
        if leaf.distribution is not None:
            _check_distribution(taxonomy, leaf, leaf.distribution, seen)
        # A cue shared by two values would make a reply fit both: the gold label would lie.
        for spec in leaf.values:
            for cue in spec.cues:
                owner = cues.setdefault(cue.lower(), f"{where}={spec.value!r}")
                if owner != f"{where}={spec.value!r}":
                    raise TaxonomyError(f"{where}={spec.value!r}: cue {cue!r} also used by {owner}")


def _check_leaf(leaf: Leaf, where: str, themes: set[str]) -> None:
    if not _NAME.match(leaf.name) or leaf.kind not in KINDS or not leaf.label:
        raise TaxonomyError(f"{where}: needs a snake_case name, a label and kind core/dynamic")
    names = [spec.value for spec in leaf.values]
    if len(names) < 2 or len(set(names)) != len(names) or not all(names):
        raise TaxonomyError(f"{where}: needs two or more distinct, non-empty values")
    for spec in leaf.values:
        unknown = set(spec.themes) - themes
        if unknown:
            raise TaxonomyError(f"{where}={spec.value!r}: unknown themes {sorted(unknown)}")
    _check_templates(where, "say", leaf.say, "{value}")
    if leaf.recommendable:
        _check_templates(where, "reply", leaf.reply, "{cue}")
        _check_templates(where, "hint", leaf.hint, "{cue}")
        if not leaf.reply or not leaf.hint:
            raise TaxonomyError(f"{where}: a leaf with ask needs reply and hint templates")
        thin = [spec.value for spec in leaf.values if len(spec.cues) < 2]
        if thin:
            raise TaxonomyError(f"{where}: values need two or more cues: {thin}")


def _check_templates(where: str, field: str, templates: tuple[str, ...], slot: str) -> None:
    for template in templates:
        if slot not in template:
            raise TaxonomyError(f"{where}.{field}: {template!r} lacks {slot}")


def _check_distribution(
    taxonomy: Taxonomy, leaf: Leaf, table: Distribution, earlier: set[tuple[str, str]]
) -> None:
    """Rows name real values, sum to 1, and every combination of given values has a row."""
    where = f"{leaf.category}.{leaf.name}"
    given_leaves = []
    for name in table.given:
        found = [g for g in taxonomy.leaves if g.name == name and g.distribution is not None]
        if not found or found[0].key not in earlier or found[0].key == leaf.key:
            raise TaxonomyError(f"{where}: given {name!r} must be an earlier tabled leaf")
        given_leaves.append(found[0])
    values = {spec.value for spec in leaf.values}
    for key, row in table.rows.items():
        if not set(row) <= values or not math.isclose(
            sum(row.values()), 1.0, abs_tol=_WEIGHT_TOLERANCE
        ):
            raise TaxonomyError(f"{where}: row {key!r} must use known values and sum to 1")
        if any(weight <= 0 for weight in row.values()):
            raise TaxonomyError(f"{where}: row {key!r} has a non-positive weight")
    for combo in itertools.product(*([s.value for s in g.values] for g in given_leaves)):
        table.row_for(tuple(combo))
