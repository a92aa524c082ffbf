"""The generated next-reply ranking task: 1 gold reply and 19 distractors per request.

Distractors come in two kinds. Up to seven are replies for *other values of the same
attribute* (the request "what should I have for dinner?" answered with Italian, Mexican,
... when the user likes Thai): they share the request's topic, so only knowing the user
picks the gold one. When the attribute changed earlier, the reply for the old value is one
of them (``stale``), which is how tracking evolving preferences is measured. The rest are
replies to other requests (with values the user does not hold), the easy negatives every
ranking set has. Positions are shuffled, so the gold index carries no signal.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from simulation.population.draws import Draws
from simulation.population.entities import AttributeRef, Ranking, Session, SyntheticUser, Turn
from simulation.population.taxonomy import Leaf
from simulation.population.texts import TurnWriter

N_CANDIDATES = 20
MAX_SAME_LEAF = 7
_TRIES = 50


class RankingBuilder:
    """Builds ranking items from one writer's replies."""

    def __init__(self, writer: TurnWriter) -> None:
        self.writer = writer
        # Easy negatives are drawn uniformly over (leaf, value) pairs: one draw each.
        self._pairs = tuple(
            (leaf, spec.value) for leaf in writer.taxonomy.recommendable for spec in leaf.values
        )

    def build(
        self,
        leaf: Leaf,
        gold_value: str,
        *,
        stale_value: str | None,
        held: Mapping[tuple[str, str], str],
        disclosed: bool,
        draws: Draws,
    ) -> Ranking:
        """A ranking item for a request about ``leaf`` from a user whose value is ``gold_value``.

        ``held`` maps the user's current attributes to values, so that no easy negative
        happens to fit the user as well.
        """
        texts: list[str] = [self.writer.reply(leaf, gold_value, draws)]
        others = [s.value for s in leaf.values if s.value not in (gold_value, stale_value)]
        hard = draws.sample(others, MAX_SAME_LEAF - (stale_value is not None))
        for value in ([stale_value] if stale_value is not None else []) + hard:
            self._add_unique(texts, leaf, value, draws)
        n_topical = len(texts)
        used: set[tuple[str, str]] = set()
        while len(texts) < N_CANDIDATES:
            other, value = draws.choice(self._pairs)
            # Not this request's topic, not a value that fits the user, not twice the same.
            if other.key == leaf.key or held.get(other.key) == value or (other.name, value) in used:
                continue
            used.add((other.name, value))
            self._add_unique(texts, other, value, draws)
        order = draws.shuffled(range(N_CANDIDATES))
        position = {original: new for new, original in enumerate(order)}
        return Ranking(
            candidates=tuple(texts[i] for i in order),
            gold=position[0],
            topical=tuple(sorted(position[i] for i in range(n_topical))),
            stale=position[1] if stale_value is not None else -1,
            disclosed=disclosed,
        )

    def _add_unique(self, texts: list[str], leaf: Leaf, value: str, draws: Draws) -> None:
        """Append a reply for ``value`` that differs from every candidate so far."""
        for _ in range(_TRIES):
            text = self.writer.reply(leaf, value, draws)
            if text not in texts:
                texts.append(text)
                return
        raise RuntimeError(f"no distinct reply for {leaf.category}.{leaf.name}={value!r}")


@dataclass(frozen=True, slots=True)
class RankingTurn:
    """A request turn with its ranking item and label (both always set on such turns)."""

    user: SyntheticUser
    session: Session
    turn: Turn
    ranking: Ranking
    label: AttributeRef


def iter_rankings(users: Sequence[SyntheticUser]) -> Iterator[RankingTurn]:
    """Every turn that carries a ranking item, in generation order."""
    for user in users:
        for session in user.sessions:
            for turn in session.turns:
                if turn.ranking is not None and turn.label is not None:
                    yield RankingTurn(user, session, turn, turn.ranking, turn.label)
