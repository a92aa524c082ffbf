"""The entry point: ``generate_population(n_users, seed=...)`` -> synthetic users.

Each user ``i`` gets its own generator, seeded from ``(seed, i)`` through numpy's
``SeedSequence`` spawn key, so a user is a pure function of the seed and its index: the
first 100 users of a 10,000-user population are the 100 users of a 100-user population,
and users can be generated in any order or in parallel with identical results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from simulation.population.draws import Draws
from simulation.population.entities import SyntheticUser
from simulation.population.evolution import EvolutionShape, draw_schedule
from simulation.population.personas import PersonaShape, sample_persona
from simulation.population.phrases import PhraseBank, load_phrasebank
from simulation.population.sessions import SessionShape, SessionWriter
from simulation.population.taxonomy import Taxonomy, load_taxonomy
from simulation.population.texts import TurnWriter

DEFAULT_SESSIONS = 6


@dataclass(frozen=True, kw_only=True)
class PopulationConfig:
    """Everything that shapes a population besides the seed; validated on construction."""

    sessions_per_user: int = DEFAULT_SESSIONS
    persona: PersonaShape = field(default_factory=PersonaShape)
    evolution: EvolutionShape = field(default_factory=EvolutionShape)
    sessions: SessionShape = field(default_factory=SessionShape)

    def __post_init__(self) -> None:
        if self.sessions_per_user < 1:
            raise ValueError(f"sessions_per_user must be positive, got {self.sessions_per_user}")


class PopulationGenerator:
    """Holds the loaded taxonomy, phrase bank and writers; makes users by index."""

    def __init__(
        self,
        config: PopulationConfig | None = None,
        *,
        taxonomy: Taxonomy | None = None,
        phrases: PhraseBank | None = None,
    ) -> None:
        self.config = config or PopulationConfig()
        self.taxonomy = taxonomy or load_taxonomy()
        writer = TurnWriter(self.taxonomy, phrases or load_phrasebank())
        self._sessions = SessionWriter(writer, self.config.sessions)

    def user(self, index: int, *, seed: int) -> SyntheticUser:
        """User ``index`` of the population with ``seed``."""
        if index < 0 or seed < 0:
            raise ValueError(f"index and seed must be non-negative, got {index}, {seed}")
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))
        draws = Draws(rng)
        config = self.config
        persona, story = sample_persona(self.taxonomy, config.persona, rng, draws)
        schedule = draw_schedule(
            self.taxonomy, persona, config.sessions_per_user, config.evolution, draws
        )
        sessions = self._sessions.sessions(
            persona, story, schedule, config.sessions_per_user, draws
        )
        return SyntheticUser(
            user_id=f"synthetic-{seed}-{index:06d}",
            persona=persona,
            story=story,
            schedule=schedule,
            sessions=sessions,
        )

    def users(self, indices: Sequence[int], *, seed: int) -> list[SyntheticUser]:
        return [self.user(index, seed=seed) for index in indices]


def generate_population(
    n_users: int,
    *,
    seed: int,
    sessions_per_user: int | None = None,
    strata_ratio: tuple[float, float, float] | None = None,
    config: PopulationConfig | None = None,
) -> list[SyntheticUser]:
    """``n_users`` synthetic users, deterministic for ``seed``.

    ``sessions_per_user`` (default 6) and ``strata_ratio`` (default 5:3:2), when given,
    override the corresponding fields of ``config``.
    """
    if n_users < 0:
        raise ValueError(f"n_users must be non-negative, got {n_users}")
    config = config or PopulationConfig()
    if sessions_per_user is not None:
        config = replace(config, sessions_per_user=sessions_per_user)
    if strata_ratio is not None:
        config = replace(config, persona=replace(config.persona, ratio=strata_ratio))
    return PopulationGenerator(config).users(range(n_users), seed=seed)
