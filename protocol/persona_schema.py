"""The persona's vocabulary: its categories and attribute kinds.

Its own module, free of the store, so that code describing personas without storing them
(the synthetic population) shares one definition instead of a mirror.
"""

from __future__ import annotations

from enum import StrEnum

CATEGORIES = (
    "demographics",
    "preferences",
    "interests",
    "personality",
    "communication_style",
    "goals",
)
# Free-text self-descriptions in the person's own words ("i have two dogs"), as data sets
# such as PersonaChat give them; any other snake_case category is accepted too.
STATEMENTS = "statements"


class AttributeKind(StrEnum):
    CORE = "core"
    DYNAMIC = "dynamic"


def normalised_fact(text: str) -> str:
    """How a persona fact is compared with the public reference facts a round ships
    (client.monitoring, server.reference_facts): case and spacing ignored."""
    return " ".join(text.casefold().split())
