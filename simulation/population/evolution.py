"""Evolving preferences: each user's schedule of changes across sessions.

A persona that never changes makes "tracking evolving preferences" unmeasurable. Each
user gets a few scheduled changes, each taking effect at a session after the first: a
preference replaced by another value of the same leaf, an interest dropped, or a new
interest added. Changes favour attributes a user can ask recommendations about, so that a
change shows up as a ranking item whose gold reply moved (the stale reply is then a
distractor). Each attribute changes at most once, which keeps the ground truth simple.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from simulation.population.draws import Draws
from simulation.population.entities import Attribute, Change, ChangeKind
from simulation.population.taxonomy import Leaf, Taxonomy

DEFAULT_KIND_WEIGHTS: Mapping[ChangeKind, float] = {
    ChangeKind.REPLACE: 0.5,
    ChangeKind.DROP: 0.3,
    ChangeKind.ADD: 0.2,
}
_PREFER_RECOMMENDABLE = 0.8
_REPLACEABLE = ("preferences", "interests", "goals")


@dataclass(frozen=True, kw_only=True)
class EvolutionShape:
    """How many changes a user gets (inclusive range) and how often each kind occurs."""

    changes: tuple[int, int] = (1, 3)
    kind_weights: Mapping[ChangeKind, float] = field(
        default_factory=lambda: dict(DEFAULT_KIND_WEIGHTS)
    )

    def __post_init__(self) -> None:
        low, high = self.changes
        if not 0 <= low <= high:
            raise ValueError(f"changes must be 0 <= low <= high, got {self.changes}")
        weights = list(self.kind_weights.values())
        if any(w < 0 for w in weights) or sum(weights) <= 0:
            raise ValueError(f"kind_weights must be non-negative, not all 0: {self.kind_weights}")


def draw_schedule(
    taxonomy: Taxonomy,
    persona: Sequence[Attribute],
    sessions: int,
    shape: EvolutionShape,
    draws: Draws,
) -> tuple[Change, ...]:
    """Changes sorted by session, each at a session in ``[1, sessions - 1]``."""
    if sessions < 2:
        return ()
    touched: set[tuple[str, str]] = set()
    changes: list[Change] = []
    for _ in range(draws.between(*shape.changes)):
        session = draws.between(1, sessions - 1)
        kind = _weighted(shape.kind_weights, draws)
        if kind is ChangeKind.REPLACE:
            change = _replace(taxonomy, persona, touched, session, draws)
        elif kind is ChangeKind.DROP:
            change = _drop(taxonomy, persona, touched, session, draws)
        else:
            change = _add(taxonomy, persona, touched, session, draws)
        if change is not None:
            touched.add(change.key)
            changes.append(change)
    return tuple(sorted(changes, key=lambda change: change.session))


def _weighted(weights: Mapping[ChangeKind, float], draws: Draws) -> ChangeKind:
    point = draws.uniform() * sum(weights.values())
    for kind, weight in weights.items():
        point -= weight
        if point < 0:
            return kind
    # Only reached through rounding at the very top: the last kind with any weight.
    return [kind for kind, weight in weights.items() if weight > 0][-1]


def _prefer_recommendable(candidates: Sequence[Leaf], draws: Draws) -> Leaf | None:
    if not candidates:
        return None
    recommendable = [leaf for leaf in candidates if leaf.recommendable]
    if recommendable and draws.chance(_PREFER_RECOMMENDABLE):
        return draws.choice(recommendable)
    return draws.choice(candidates)


def _replace(
    taxonomy: Taxonomy,
    persona: Sequence[Attribute],
    touched: set[tuple[str, str]],
    session: int,
    draws: Draws,
) -> Change | None:
    """Another value of a held dynamic preference (or recommendable interest or goal)."""
    held = {a.key: a for a in persona if a.kind == "dynamic" and a.key not in touched}
    candidates = [
        taxonomy.leaf(*key)
        for key in held
        if key[0] == "preferences" or (key[0] in _REPLACEABLE and taxonomy.leaf(*key).recommendable)
    ]
    leaf = _prefer_recommendable(candidates, draws)
    if leaf is None:
        return None
    old = held[leaf.key].value
    # A preference may become "no dessert, thanks"; an interest replaced by "none" would be
    # a drop, which is the other kind of change.
    new = draws.choice(
        [
            spec.value
            for spec in leaf.values
            if spec.value != old and not (spec.absent and leaf.category == "interests")
        ]
    )
    return Change(session, ChangeKind.REPLACE, leaf.category, leaf.name, leaf.kind, old, new)


def _drop(
    taxonomy: Taxonomy,
    persona: Sequence[Attribute],
    touched: set[tuple[str, str]],
    session: int,
    draws: Draws,
) -> Change | None:
    """A held interest goes away (never an 'absent' value: there is nothing to drop)."""
    candidates = [
        a
        for a in persona
        if a.category == "interests"
        and a.key not in touched
        and not taxonomy.leaf(*a.key).spec(a.value).absent
    ]
    if not candidates:
        return None
    dropped = draws.choice(candidates)
    return Change(
        session, ChangeKind.DROP, dropped.category, dropped.name, dropped.kind, dropped.value, None
    )


def _add(
    taxonomy: Taxonomy,
    persona: Sequence[Attribute],
    touched: set[tuple[str, str]],
    session: int,
    draws: Draws,
) -> Change | None:
    """A new interest on a leaf the persona does not hold."""
    held = {a.key for a in persona} | touched
    free = [leaf for leaf in taxonomy.in_category("interests") if leaf.key not in held]
    leaf = _prefer_recommendable(free, draws)
    if leaf is None:
        return None
    new = draws.choice([spec.value for spec in leaf.values if not spec.absent])
    return Change(session, ChangeKind.ADD, leaf.category, leaf.name, leaf.kind, None, new)
