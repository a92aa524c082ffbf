"""Personalisation quality on the device's own data: the monitoring statistics it releases.

Each value is in [0, 1] and is computed here from the unlocked store alone; what leaves is
only its share of the round's release (privacy.device_release: clipped with the update,
noised in the sum, charged once by the ledger). The definitions:

* persona_coverage: the share of the schema's categories (protocol.persona_schema) that
  hold at least one attribute. One number, not one per category: each extra statistic
  costs every statistic noise (docs/privacy.md, "Personalisation monitoring").
* persona_depth: the mean over attributes of min(evidence, DEPTH_CAP) / DEPTH_CAP: how many
  stored memories each fact rests on, saturating at DEPTH_CAP (a fact said three times is
  well founded; a hundredth repetition adds nothing).
* justification: of the personal items the last ``WINDOW`` prompts used, the share that
  was backed by stored evidence (client.prompt_use.is_backed).
* correction: of the last ``WINDOW`` prompts that used personal items, the share the
  person then corrected: the reply rated wrong (``/bad``), or a persona fact it used was
  given a new value afterwards (the person said the remembered fact no longer holds).
* uniqueness: the share of the persona's facts that are not among the round's public
  reference facts (facts common in a public reference population, shipped by the server
  in the round's instructions). It needs nothing of other devices, and it reads as "how
  much of this persona would single the person out": a persona made only of common facts
  scores 0. It is a proxy, not a re-identification risk: rare facts that are common
  together, or common facts that are rare together, are not seen.
* prompted: 1 when the device has prompt records that used personal items, so that the
  server can average justification and correction over the devices that have them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from client.persona import PersonaAttribute, persona_fact
from client.profile import Profile
from client.prompt_use import PromptUse, PromptUses
from protocol.persona_schema import CATEGORIES, normalised_fact

DEPTH_CAP = 3
WINDOW = 50  # the prompts the prompt metrics look back over


def persona_coverage(attributes: Sequence[PersonaAttribute]) -> float:
    return len({a.category for a in attributes} & set(CATEGORIES)) / len(CATEGORIES)


def persona_depth(attributes: Sequence[PersonaAttribute], cap: int = DEPTH_CAP) -> float:
    if cap < 1:
        raise ValueError(f"cap must be at least 1, got {cap}")
    if not attributes:
        return 0.0
    return sum(min(len(a.evidence), cap) / cap for a in attributes) / len(attributes)


def justification(uses: Sequence[PromptUse]) -> float:
    """Backed items over used items (0 when no prompt used any)."""
    items = sum(use.items for use in uses)
    return sum(use.backed for use in uses) / items if items else 0.0


def was_corrected(use: PromptUse, current: dict[str, PersonaAttribute]) -> bool:
    """Rated wrong, or a persona fact it used took a new value after it was used."""
    changed = (
        key in current and current[key].value_since > use.at and bool(current[key].history)
        for key in use.persona_keys
    )
    return use.corrected or any(changed)


def correction_rate(uses: Sequence[PromptUse], attributes: Sequence[PersonaAttribute]) -> float:
    used = [use for use in uses if use.items]
    if not used:
        return 0.0
    current = {f"{a.category}.{a.name}": a for a in attributes}
    return sum(was_corrected(use, current) for use in used) / len(used)


def uniqueness(facts: Sequence[str], reference: Collection[str]) -> float:
    """Share of ``facts`` outside ``reference`` (normalised texts); 0 without either."""
    if not facts or not reference:
        return 0.0
    common = {normalised_fact(f) for f in reference}
    return sum(normalised_fact(f) not in common for f in facts) / len(facts)


def device_monitoring(
    profile: Profile, reference_facts: Collection[str], *, window: int = WINDOW
) -> dict[str, float]:
    """The device's ``privacy.device_release.MONITORING`` statistics."""
    attributes = profile.persona.attributes()
    uses = [use for use in PromptUses(profile.store).all() if use.items][-window:]
    return {
        "persona_coverage": persona_coverage(attributes),
        "persona_depth": persona_depth(attributes),
        "prompted": 1.0 if uses else 0.0,
        "justification": justification(uses),
        "correction": correction_rate(uses, attributes),
        "uniqueness": uniqueness([persona_fact(a) for a in attributes], reference_facts),
    }
