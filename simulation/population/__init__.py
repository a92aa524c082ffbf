"""Synthetic users for simulations: personas, evolving preferences, sessions with ground truth.

No data set and no LLM needed: a hand-written taxonomy (``taxonomy.json``) and phrase bank
(``phrasebank.json``) drive a seeded generator. Typical use::

    from simulation.population import generate_population

    users = generate_population(1000, seed=7)
    rows = users[0].persona_rows(session=0)  # (category, name, value, kind) per attribute

How it works and how good it is: ``docs/population.md`` and ``bench/population.py``.
"""

from simulation.population.entities import (
    Attribute,
    AttributeRef,
    Change,
    ChangeKind,
    Feedback,
    Origin,
    PersonaRow,
    Ranking,
    Session,
    StoryLink,
    SyntheticUser,
    Turn,
    TurnKind,
)
from simulation.population.generator import (
    PopulationConfig,
    PopulationGenerator,
    generate_population,
)
from simulation.population.ranking import RankingTurn, iter_rankings

__all__ = [
    "Attribute",
    "AttributeRef",
    "Change",
    "ChangeKind",
    "Feedback",
    "Origin",
    "PersonaRow",
    "PopulationConfig",
    "PopulationGenerator",
    "Ranking",
    "RankingTurn",
    "Session",
    "StoryLink",
    "SyntheticUser",
    "Turn",
    "TurnKind",
    "generate_population",
    "iter_rankings",
]
