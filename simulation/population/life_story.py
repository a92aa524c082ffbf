"""The life-story step: interests that grow out of attributes the persona already has.

After DeepPersona's narrative step, without an LLM: pick an earlier attribute (an anchor:
a demographic, a personality trait, a preference, a goal), pick one of its value's themes,
and add an interest that shares that theme. The link is kept, so sessions can tell it
("I got into hill walking because I grew up in the countryside") and a model can be
asked to use the anchor as evidence for the interest.
"""

from __future__ import annotations

from collections.abc import Sequence

from simulation.population.draws import Draws
from simulation.population.entities import Attribute, Origin, StoryLink
from simulation.population.taxonomy import Taxonomy
from simulation.population.themes import ThemeSpace

_TRIES_PER_LINK = 8
_ANCHOR_CATEGORIES = ("demographics", "personality", "preferences", "goals")


def add_life_story(
    taxonomy: Taxonomy,
    space: ThemeSpace,
    persona: Sequence[Attribute],
    links: int,
    draws: Draws,
) -> list[StoryLink]:
    """Up to ``links`` new interests, each tied to an earlier non-interest attribute.

    Anchors are demographics, personality traits, preferences and goals whose value has
    themes (a themeless value such as gender explains nothing, and neither does an absent
    one or a preferred answer format); the new interest's leaf must not be held yet. A
    link that finds no free interest after a few tries is skipped rather than forced.
    """
    anchors = [a for a in persona if _can_anchor(taxonomy, a)]
    held = {a.key for a in persona}
    story: list[StoryLink] = []
    for _ in range(links if anchors else 0):
        for _ in range(_TRIES_PER_LINK):
            link = _try_link(taxonomy, space, draws.choice(anchors), held, draws)
            if link is not None:
                held.add(link.interest.key)
                story.append(link)
                break
    return story


def _can_anchor(taxonomy: Taxonomy, attribute: Attribute) -> bool:
    if attribute.category not in _ANCHOR_CATEGORIES:
        return False
    spec = taxonomy.leaf(attribute.category, attribute.name).spec(attribute.value)
    return bool(spec.themes) and not spec.absent


def _try_link(
    taxonomy: Taxonomy,
    space: ThemeSpace,
    anchor: Attribute,
    held: set[tuple[str, str]],
    draws: Draws,
) -> StoryLink | None:
    """An interest sharing one of the anchor's themes, on a leaf not held; None if it clashes."""
    theme = draws.choice(taxonomy.leaf(anchor.category, anchor.name).spec(anchor.value).themes)
    candidates = space.interests_by_theme.get(theme, ())
    if not candidates:
        return None
    options = space.options["interests"]
    option = draws.choice(candidates)
    leaf = options.leaves[int(options.leaf_of[option])]
    if leaf.key in held:
        return None
    interest = Attribute(leaf.category, leaf.name, options.values[option], leaf.kind, Origin.STORY)
    return StoryLink(interest=interest, anchor=anchor, theme=theme)
