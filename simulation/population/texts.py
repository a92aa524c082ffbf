"""Turn text from templates: disclosures, requests, replies, feedback, changes, small talk.

Templates come from the taxonomy (leaf-specific ``say``/``ask``/``reply``/``hint``) and the
phrase bank (generic lists). Implicit disclosures and assistant replies both use a value's
cues rather than its name, and each picks its cue independently: a bag-of-words match
between what the user said and the right reply then works only some of the time, which is
the point (a model has to know that pad see ew is Thai food). The user's own
communication style shows in the surface of every user turn (casual users drop capitals
and full stops, emoji users add emoji), so style is disclosed implicitly as well.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from simulation.population.draws import Draws
from simulation.population.entities import Attribute, Change, ChangeKind, StoryLink
from simulation.population.phrases import NEUTRAL, PhraseBank
from simulation.population.taxonomy import Leaf, Taxonomy

_CASUAL = "casual, relaxed wording"
_EMOJI = "plenty of emoji"
_EMOJI_RATE = 0.5


@dataclass(frozen=True, slots=True)
class UserStyle:
    """Surface habits of a user's messages, from their communication-style attributes."""

    casual: bool = False
    emoji: bool = False

    @classmethod
    def of(cls, persona: Sequence[Attribute]) -> UserStyle:
        values = {a.value for a in persona if a.category == "communication_style"}
        return cls(casual=_CASUAL in values, emoji=_EMOJI in values)


def fill(template: str, **slots: str) -> str:
    """``template`` with each ``{name}`` replaced, first letter capitalised."""
    text = template
    for name, value in slots.items():
        text = text.replace("{" + name + "}", value)
    return text[:1].upper() + text[1:]


class TurnWriter:
    """Writes turns for one taxonomy and phrase bank; every choice comes from ``draws``."""

    def __init__(self, taxonomy: Taxonomy, phrases: PhraseBank) -> None:
        self.taxonomy = taxonomy
        self.phrases = phrases
        # Every reply a value can get, built once: a reply is then one draw, and 10,000
        # users' candidate lists share their strings instead of holding copies.
        self._replies: dict[tuple[str, str, str], tuple[str, ...]] = {
            (leaf.category, leaf.name, spec.value): tuple(
                fill(template, cue=cue)
                for template in leaf.reply + phrases.reply_generic
                for cue in spec.cues
            )
            for leaf in taxonomy.recommendable
            for spec in leaf.values
        }

    def explicit(self, attribute: Attribute, draws: Draws) -> str:
        leaf = self.taxonomy.leaf(attribute.category, attribute.name)
        if leaf.say:
            templates = leaf.say
        elif leaf.spec(attribute.value).absent:
            templates = self.phrases.explicit[NEUTRAL]
        else:
            templates = self.phrases.explicit[attribute.category]
        return fill(draws.choice(templates), value=attribute.value, label=leaf.label)

    def implicit(self, attribute: Attribute, draws: Draws) -> str | None:
        """A hint through one of the value's cues, or None when the leaf has no hints."""
        leaf = self.taxonomy.leaf(attribute.category, attribute.name)
        cues = leaf.spec(attribute.value).cues
        if not leaf.hint or not cues:
            return None
        return fill(draws.choice(leaf.hint), cue=draws.choice(cues))

    def story(self, link: StoryLink, draws: Draws) -> str:
        anchor = self.taxonomy.leaf(link.anchor.category, link.anchor.name)
        return fill(
            draws.choice(self.phrases.story),
            interest=link.interest.value,
            anchor_label=anchor.label,
            anchor_value=link.anchor.value,
        )

    def change(self, change: Change, draws: Draws) -> str:
        leaf = self.taxonomy.leaf(change.category, change.name)
        if change.kind is ChangeKind.REPLACE and leaf.say and change.new is not None:
            # Values such as "cooks most nights" read well only in the leaf's own sentence.
            said = fill(draws.choice(leaf.say), value=change.new)
            return fill(draws.choice(self.phrases.change_update), said=said)
        templates = {
            ChangeKind.REPLACE: self.phrases.change_replace,
            ChangeKind.DROP: self.phrases.change_drop,
            ChangeKind.ADD: self.phrases.change_add,
        }[change.kind]
        return fill(
            draws.choice(templates), old=change.old or "", new=change.new or "", label=leaf.label
        )

    def ask(self, leaf: Leaf, draws: Draws) -> str:
        return draws.choice(leaf.ask)

    def reply(self, leaf: Leaf, value: str, draws: Draws) -> str:
        """An assistant reply recommending something that fits ``value``."""
        return draws.choice(self._replies[(leaf.category, leaf.name, value)])

    def feedback(self, liked: bool, correction_cue: str | None, draws: Draws) -> str:
        if liked:
            return draws.choice(self.phrases.feedback_positive)
        text = draws.choice(self.phrases.feedback_negative)
        if correction_cue is None:
            return text
        return f"{text} {fill(draws.choice(self.phrases.feedback_correction), cue=correction_cue)}"

    def small_talk(self, draws: Draws) -> str:
        return draws.choice(self.phrases.small_talk)

    def opener(self, draws: Draws) -> str:
        return draws.choice(self.phrases.openers)

    def styled(self, text: str, style: UserStyle, draws: Draws) -> str:
        """The user's message as they would type it."""
        if style.casual:
            text = text[:1].lower() + text[1:]
            text = text[:-1] if text.endswith(".") else text
        if style.emoji and draws.chance(_EMOJI_RATE):
            text = f"{text} {draws.choice(self.phrases.emoji)}"
        return text
