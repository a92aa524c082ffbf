"""Self-disclosures read by the configured language model, checked, with the rules behind.

:class:`LlmExtractor` keeps the :class:`~client.memory_engine.disclosure.DisclosureExtractor`
contract. It asks the model for JSON facts mapped to the persona schema, keeps only the
items that are well formed and grounded in the user's words
(:mod:`client.memory_engine.llm_facts`), and falls back to the offline
:class:`~client.memory_engine.disclosure.RuleExtractor` when the answer cannot be used at
all (server error, timeout, no model, not JSON, or items none of which survive the
checks). :attr:`LlmExtractor.last` says which wrote the disclosures and what was dropped.

What the server receives: the fixed instruction below and the one utterance being read,
nothing else of the store (docs/privacy.md). A fact's stance (likes / avoids / cannot
have) is not asked for: the persona derives it from the value's words (models.stance).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from client.llm.errors import ChatBackendError
from client.llm.one_shot import OneShot
from client.memory_engine.disclosure import Disclosure, DisclosureExtractor
from client.memory_engine.llm_facts import MalformedFactsError, Rejected, checked, fact_items
from protocol.persona_schema import CATEGORIES, STATEMENTS

log = logging.getLogger(__name__)

INSTRUCTION = (
    "You read one chat message of a user and list what it says about the user: facts "
    "about themselves only, not about the listener, not questions, not small talk. Reply "
    'with JSON only: {"facts": [{"category": C, "attribute": A, "value": V, "kind": K, '
    '"confidence": P, "change": B, "replaces": R}]}. C is one of '
    + ", ".join(CATEGORIES)
    + f", or {STATEMENTS} for a fact no other category fits. A is a short lower-case label "
    '("location", "diet", "favourite food"). V is the fact in the user\'s own words. K is '
    '"core" for what rarely changes (name, hometown), else "dynamic". P is your confidence '
    "from 0 to 1. B is true when the user says something changed, and R is then the old "
    'value in the user\'s words, else "". With nothing to list: {"facts": []}.'
)


@dataclass(frozen=True, kw_only=True)
class ExtractionOutcome:
    """How the last utterance's disclosures were found.

    Attributes:
        source: ``"llm"`` or ``"rules"``.
        reason: Why the model's answer was not used ("" when it was).
        dropped: The model's items that failed the checks, each with its reason.
    """

    source: str
    reason: str = ""
    dropped: tuple[Rejected, ...] = ()


class LlmExtractor:
    """A :class:`DisclosureExtractor` that asks the model server, with ``fallback``."""

    def __init__(self, model: OneShot, fallback: DisclosureExtractor) -> None:
        self.model = model
        self.fallback = fallback
        self.last: ExtractionOutcome | None = None

    def extract(self, text: str) -> list[Disclosure]:
        if not text.strip():
            self.last = ExtractionOutcome(source="rules", reason="nothing to read")
            return self.fallback.extract(text)
        try:
            answer, _ = self.model.ask(INSTRUCTION, text)
            items = fact_items(answer)
        except (ChatBackendError, MalformedFactsError) as error:
            reason = error.user_line if isinstance(error, ChatBackendError) else str(error)
            return self._fall_back(text, reason)
        kept, dropped = checked(items, text)
        for rejected in dropped:
            log.info("dropped a fact the model proposed (%s): %s", rejected.reason, rejected.item)
        if items and not kept:
            return self._fall_back(text, "no proposed fact passed the checks", tuple(dropped))
        self.last = ExtractionOutcome(source="llm", dropped=tuple(dropped))
        return kept

    def _fall_back(
        self, text: str, reason: str, dropped: tuple[Rejected, ...] = ()
    ) -> list[Disclosure]:
        log.log(
            self.model.fallback_log_level(reason),
            "self-disclosures read by the offline rules: %s",
            reason,
        )
        self.last = ExtractionOutcome(source="rules", reason=reason, dropped=dropped)
        return self.fallback.extract(text)
