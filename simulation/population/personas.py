"""One persona: core traits from tables, further attributes by strata, then the life story.

The order matters: the core traits fix the theme profile, the strata sample the rest of
each category relative to that profile, and the life story can anchor on anything drawn
before it. How many further attributes each category gets is drawn per persona from the
ranges in :class:`PersonaShape`, so personas differ in size as well as in content.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from protocol.persona_schema import CATEGORIES
from simulation.population.core_traits import sample_core_traits
from simulation.population.draws import Draws
from simulation.population.entities import Attribute, StoryLink
from simulation.population.life_story import add_life_story
from simulation.population.strata import DEFAULT_RATIO, sample_category, validate_ratio
from simulation.population.taxonomy import Taxonomy
from simulation.population.themes import theme_space

# Further attributes per category (inclusive ranges). With 19 tabled core traits and 2-3
# story interests this gives about 52 attributes per persona, the order of DeepPersona's
# 50.92; preferences get most because the taxonomy has most leaves there.
DEFAULT_FURTHER: Mapping[str, tuple[int, int]] = {
    "preferences": (10, 16),
    "interests": (5, 9),
    "personality": (3, 6),
    "communication_style": (2, 5),
    "goals": (2, 4),
}


@dataclass(frozen=True, kw_only=True)
class PersonaShape:
    """How a persona is sampled; checked on construction, errors name the bad value."""

    further: Mapping[str, tuple[int, int]] = field(default_factory=lambda: dict(DEFAULT_FURTHER))
    ratio: tuple[float, float, float] = DEFAULT_RATIO
    story_links: tuple[int, int] = (2, 3)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ratio", validate_ratio(self.ratio))
        for category, (low, high) in self.further.items():
            if category not in CATEGORIES or not 0 <= low <= high:
                raise ValueError(f"further[{category!r}] must be 0 <= low <= high, got {low, high}")
        low, high = self.story_links
        if not 0 <= low <= high:
            raise ValueError(f"story_links must be 0 <= low <= high, got {self.story_links}")


def sample_persona(
    taxonomy: Taxonomy, shape: PersonaShape, rng: np.random.Generator, draws: Draws
) -> tuple[tuple[Attribute, ...], tuple[StoryLink, ...]]:
    """The initial persona (core, strata and story attributes) and its life-story links."""
    space = theme_space(taxonomy)
    core = sample_core_traits(taxonomy, draws)
    profile = space.profile(core, rng)
    persona = list(core)
    for category, (low, high) in shape.further.items():
        count = draws.between(low, high)
        persona.extend(sample_category(space.options[category], profile, count, shape.ratio, rng))
    links = add_life_story(taxonomy, space, persona, draws.between(*shape.story_links), draws)
    persona.extend(link.interest for link in links)
    return tuple(persona), tuple(links)
