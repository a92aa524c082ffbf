"""Persona learning: disclosures become persona attributes, with evidence and history.

Pending disclosures are the long-term ``fact`` items not yet applied (``meta.applied``),
so the schedule survives restarts without state of its own. Every k finished sessions
they are applied in the order they were said; an explicit statement of change ("I moved
to Lisbon") is applied at once. When a newer value contradicts the current one, the
persona keeps the old value in the attribute's history with its dates (``Persona``
does that), and the memories that supported the old value are marked superseded, so
the validator keeps them out of prompts while they stay available for "what did I use
to ...".
"""

from __future__ import annotations

from dataclasses import replace

from client.memory import MemoryItem
from client.memory_engine.change_statements import same_value
from client.memory_engine.index import MemoryIndex
from client.persona import PersonaFullError
from client.profile import Profile
from protocol.persona_schema import STATEMENTS, AttributeKind

FACT = "fact"


def pending_facts(
    profile: Profile, index: MemoryIndex, among: set[str] | None = None
) -> list[MemoryItem]:
    """Fact items (of ``among``, if given) not yet applied to the persona, oldest first.

    The index marks them (from ``meta.applied`` at load), so only those are decrypted.
    """
    ids = [e.id for e in index.entries() if e.pending and (among is None or e.id in among)]
    items = [profile.memory.get(item_id) for item_id in ids]
    found = [i for i in items if i is not None]
    return sorted(found, key=lambda i: float(i.meta.get("at", i.created_at)))


def apply_facts(profile: Profile, index: MemoryIndex, facts: list[MemoryItem]) -> int:
    """Apply ``facts`` to the persona in order; returns how many attributes changed value."""
    changed = 0
    for fact in facts:
        outcome = "1"
        with profile.store.transaction().write():
            try:
                changed += _apply_one(profile, index, fact)
            except PersonaFullError:
                # The persona is at its cap and its policy refuses: the fact stays a
                # memory (retrievable) and is not retried at every session's end.
                outcome = "persona-full"
            profile.memory.update_item(replace(fact, meta={**fact.meta, "applied": outcome}))
        if fact.id in index:
            index.entry(fact.id).pending = False
    return changed


def _apply_one(profile: Profile, index: MemoryIndex, fact: MemoryItem) -> int:
    category, name, value = _target(profile, fact)
    at = float(fact.meta.get("at", fact.created_at))
    before = profile.persona.get(category, name)
    if before is not None and at < before.value_since and before.value != value:
        # Said before the current value was: an older statement never overrides a newer
        # one (a change applied at once can precede the k-session update of older facts).
        if before.evidence:
            _supersede(profile, index, fact.id, before.evidence[-1])
        return 0
    after = profile.persona.observe(
        category,
        name,
        value,
        kind=AttributeKind(fact.meta.get("kind", AttributeKind.DYNAMIC.value)),
        confidence=float(fact.meta.get("confidence", "0.5")),
        evidence=(fact.id,),
        at=at,
    )
    if before is None or before.value == after.value or category == STATEMENTS:
        return 0
    for old_id in before.evidence:
        _supersede(profile, index, old_id, fact.id)
    return 1


def _target(profile: Profile, fact: MemoryItem) -> tuple[str, str, str]:
    """(category, name, value) the fact sets.

    A change statement that names no attribute ("I've gone off jazz; hip hop is more my
    thing now") changes the attribute whose current value is the one it replaces; when
    no attribute holds that value it is kept in the person's words.
    """
    category, name, value = fact.meta["category"], fact.meta["name"], fact.meta["value"]
    replaced = fact.meta.get("replaces", "")
    if category != STATEMENTS or not replaced:
        return category, name, value
    for attribute in profile.persona.attributes():
        if attribute.category != STATEMENTS and same_value(str(attribute.value), replaced):
            return attribute.category, attribute.name, value
    return category, name, fact.text


def _supersede(profile: Profile, index: MemoryIndex, old_id: str, new_id: str) -> None:
    old = profile.memory.get(old_id)
    if old is None or old_id == new_id:
        return
    profile.memory.update_item(replace(old, meta={**old.meta, "superseded_by": new_id}))
    if old_id in index:
        index.entry(old_id).superseded_by = new_id
