"""What a synthetic user is made of: attributes, life-story links, changes, sessions, turns.

All frozen: a generated population is a fixture that experiments read and never edit, and
two runs with one seed must compare equal field by field. The persona at a session is
derived (initial attributes plus the changes scheduled up to that session), never stored
twice, so the ground truth and the schedule cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

PersonaRow = tuple[str, str, str, str]
"""``(category, name, value, kind)``: what ``client.persona.Persona.observe`` takes."""


class Origin(StrEnum):
    """Where an attribute came from: a table, a similarity stratum, the life story, a change."""

    CORE = "core"
    NEAR = "near"
    MIDDLE = "middle"
    FAR = "far"
    STORY = "story"
    EVOLVED = "evolved"


STRATA = (Origin.NEAR, Origin.MIDDLE, Origin.FAR)


@dataclass(frozen=True, slots=True)
class Attribute:
    category: str
    name: str
    value: str
    kind: str
    origin: Origin

    @property
    def key(self) -> tuple[str, str]:
        return (self.category, self.name)

    @property
    def ref(self) -> AttributeRef:
        return AttributeRef(self.category, self.name, self.value)

    def as_row(self) -> PersonaRow:
        return (self.category, self.name, self.value, self.kind)


@dataclass(frozen=True, slots=True)
class AttributeRef:
    """A ground-truth label: the attribute (and the value) a turn depends on."""

    category: str
    name: str
    value: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.category, self.name)


@dataclass(frozen=True, slots=True)
class StoryLink:
    """An interest the life story added, and the earlier attribute it grew out of."""

    interest: Attribute
    anchor: Attribute
    theme: str


class ChangeKind(StrEnum):
    REPLACE = "replace"
    DROP = "drop"
    ADD = "add"


@dataclass(frozen=True, slots=True)
class Change:
    """From session ``session`` on, ``(category, name)`` goes from ``old`` to ``new``.

    ``old`` is None for an added attribute, ``new`` is None for a dropped one.
    """

    session: int
    kind: ChangeKind
    category: str
    name: str
    kind_of_attribute: str
    old: str | None
    new: str | None

    @property
    def key(self) -> tuple[str, str]:
        return (self.category, self.name)


class TurnKind(StrEnum):
    OPENER = "opener"
    SMALL_TALK = "small_talk"
    EXPLICIT = "explicit"
    IMPLICIT = "implicit"
    STORY = "story"
    CHANGE = "change"
    RECOMMEND = "recommend"
    FEEDBACK = "feedback"


@dataclass(frozen=True, slots=True)
class Ranking:
    """A next-reply ranking item: ``candidates[gold]`` is the reply that fits the user.

    ``topical`` lists the candidates that answer this request (gold included; the rest are
    other values of the same attribute), ``stale`` is the one that fits the value before a
    scheduled change (-1 if none), ``disclosed`` whether the current value was said
    (explicitly or not) before this turn.
    """

    candidates: tuple[str, ...]
    gold: int
    topical: tuple[int, ...]
    stale: int
    disclosed: bool


@dataclass(frozen=True, slots=True)
class Feedback:
    """The user's reaction to the reply ``shown`` (an index into the previous ranking)."""

    shown: int
    liked: bool


@dataclass(frozen=True, slots=True)
class Turn:
    index: int
    kind: TurnKind
    text: str
    label: AttributeRef | None = None
    retracts: AttributeRef | None = None
    ranking: Ranking | None = None
    feedback: Feedback | None = None


@dataclass(frozen=True, slots=True)
class Session:
    index: int
    turns: tuple[Turn, ...]


@dataclass(frozen=True, slots=True)
class SyntheticUser:
    """One generated user: the initial persona, its life story, its changes and sessions."""

    user_id: str
    persona: tuple[Attribute, ...]
    story: tuple[StoryLink, ...]
    schedule: tuple[Change, ...]
    sessions: tuple[Session, ...]

    def attributes_at(self, session: int) -> tuple[Attribute, ...]:
        """The persona during ``session`` (changes scheduled for it already applied)."""
        return apply_changes(self.persona, self.schedule, session)

    def persona_rows(self, session: int) -> list[PersonaRow]:
        """``(category, name, value, kind)`` per attribute, to seed a device's persona."""
        return [attribute.as_row() for attribute in self.attributes_at(session)]


def apply_changes(
    persona: Sequence[Attribute], schedule: Sequence[Change], session: int
) -> tuple[Attribute, ...]:
    """The attributes after every change with ``change.session <= session``, in order."""
    current = {attribute.key: attribute for attribute in persona}
    for change in schedule:
        if change.session > session:
            continue
        if change.kind is ChangeKind.DROP:
            current.pop(change.key, None)
        elif change.new is not None:
            current[change.key] = Attribute(
                change.category, change.name, change.new, change.kind_of_attribute, Origin.EVOLVED
            )
    return tuple(current.values())
