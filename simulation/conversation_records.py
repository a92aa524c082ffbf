"""What a simulated device's earlier conversations leave in its store besides training pairs:
the memories its persona facts were learned from, and the record of what each prompt used.

A synthetic user's training sessions say things about them (explicit and implicit
disclosures, changes, life-story turns: each labelled with the attribute it reveals) and
ask for recommendations, each followed by feedback on the reply. Seeding turns those into
what a device that had held these conversations would hold, written by the client's own
code: a disclosure of the persona's current value becomes a stored memory and evidence of
that attribute (client.persona.Persona.observe); a request becomes a prompt-use record of
the persona fact it needed (client.prompt_use, as client.chat.session records a turn); a
reply the person disliked marks that record corrected (as ``/bad`` does). The persona
itself is the one the device learned through the memory engine
(simulation.population.device_learning); ``simulation.populations`` keys these records
by the learned attributes before seeding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from client.llm.store_items import persona_item
from client.memory import MemoryItem
from client.profile import Profile
from client.prompt_use import PromptUses, use_of
from simulation.population import SyntheticUser, TurnKind

DISCLOSING = frozenset({TurnKind.EXPLICIT, TurnKind.IMPLICIT, TurnKind.CHANGE, TurnKind.STORY})
Key = tuple[str, str]


@dataclass(frozen=True)
class Disclosure:
    """The user said ``text`` in ``session``, revealing ``key``'s seeded value."""

    key: Key
    text: str
    session: int


@dataclass(frozen=True)
class PromptNeed:
    """A request in ``session`` whose answer needed the persona fact ``key``."""

    key: Key
    session: int
    disliked: bool


@dataclass(frozen=True)
class ConversationRecords:
    disclosures: tuple[Disclosure, ...] = ()
    prompts: tuple[PromptNeed, ...] = ()


def conversation_records(
    user: SyntheticUser, values: dict[Key, str], sessions: Sequence[int]
) -> ConversationRecords:
    """The disclosures (of the seeded ``values``) and requests in ``sessions``."""
    disclosures, prompts = [], []
    wanted = set(sessions)
    for session in user.sessions:
        if session.index not in wanted:
            continue
        turns = session.turns
        for position, turn in enumerate(turns):
            label = turn.label
            if label is None:
                continue
            if turn.kind in DISCLOSING and values.get(label.key) == label.value:
                disclosures.append(Disclosure(label.key, turn.text, session.index))
            elif turn.kind is TurnKind.RECOMMEND:
                after = turns[position + 1] if position + 1 < len(turns) else None
                feedback = after.feedback if after is not None else None
                disliked = feedback is not None and not feedback.liked
                prompts.append(PromptNeed(label.key, session.index, disliked))
    return ConversationRecords(tuple(disclosures), tuple(prompts))


def write_conversation_records(profile: Profile, records: ConversationRecords) -> None:
    """Write ``records`` into a seeded profile (inside the caller's transaction)."""
    for said in records.disclosures:
        attribute = profile.persona.get(*said.key)
        if attribute is None:
            continue
        category, name = said.key
        item = profile.memory.remember(
            MemoryItem(
                text=said.text,
                source_session=f"sim-{said.session}",
                created_at=float(said.session),
                updated_at=float(said.session),
                meta={"category": category, "name": name, "applied": "1"},
            )
        )
        profile.persona.observe(
            category,
            name,
            attribute.value,
            kind=attribute.kind,
            confidence=attribute.confidence,
            evidence=(item.id,),
            at=attribute.last_updated,
        )
    uses = PromptUses(profile.store)
    for need in records.prompts:
        attribute = profile.persona.get(*need.key)
        items = [persona_item(attribute)] if attribute is not None else []
        # Simulated time counts sessions; a request comes after its session's disclosures.
        use = uses.record(use_of(items, f"sim-{need.session}", at=need.session + 0.5))
        if need.disliked:
            uses.mark_corrected(use.id)
