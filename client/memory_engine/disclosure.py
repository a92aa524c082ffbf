"""Self-disclosures: what a person said about themselves, mapped to the persona schema.

Works offline with rules (no language model). A sentence becomes a disclosure when it is
a first-person statement (not a question, not about the listener, not small talk). A few
patterns name a specific attribute ("i moved to Lisbon" -> demographics/location); the
rest are kept in the person's own words under the ``statements`` category, which is how
persona data sets such as PersonaChat and MSC write persona facts. An LLM-backed
extractor can sit behind the same :class:`DisclosureExtractor` protocol.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from client.memory_engine.change_statements import change_of
from protocol.persona_schema import STATEMENTS, AttributeKind


@dataclass(frozen=True, kw_only=True)
class Disclosure:
    """One fact about the speaker, with the sentence it came from."""

    category: str
    name: str
    value: str
    sentence: str
    kind: AttributeKind = AttributeKind.DYNAMIC
    confidence: float = 0.5
    is_change: bool = False  # an explicit statement of change: applied without waiting
    replaces: str = ""  # the old value a change statement names ("" when none)

    @property
    def key(self) -> str:
        return f"{self.category}/{self.name}"


class DisclosureExtractor(Protocol):
    """``extract(text)``: the disclosures in one utterance of the user, in order."""

    def extract(self, text: str) -> list[Disclosure]: ...


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_FIRST_PERSON = re.compile(r"\b(i|i'm|im|i've|i'd|i'll|my|me|mine|we|our)\b")
_LISTENER = re.compile(r"\b(you|your|you're|yours)\b")
# Openers that are first person but say nothing lasting about the speaker.
_SMALL_TALK = re.compile(
    r"^(i (think|guess|hope|bet|agree|see|know|understand|wish|wonder|mean|suppose|believe)"
    r"|i'?m (glad|sorry|sure|happy to hear|not sure)|i would|i'd (love|like) to hear"
    r"|me too|my pleasure|i can imagine|i feel you)\b"
)
_CHANGE = re.compile(
    r"\b(now|anymore|no longer|stopped|quit|switched|moved|changed|started|became|"
    r"just got|recently|these days|nowadays)\b"
)
_CLAUSE_START = re.compile(r"[,;]\s+(?:and |but |so )?(?=(?:i|i'm|i've|my|we)\b)", re.IGNORECASE)
_WORD = re.compile(r"[a-z']+")


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    category: str
    name: str
    kind: AttributeKind
    value_template: str  # str.format with {0} = the captured phrase


def _rule(
    pattern: str, category: str, name: str, template: str = "{0}", *, core: bool = False
) -> _Rule:
    kind = AttributeKind.CORE if core else AttributeKind.DYNAMIC
    return _Rule(re.compile(pattern), category, name, kind, template)


_OBJECT = r"([a-z][a-z' -]{1,40}?)"
_STOP = (
    r"(?:[.,!?;]| and | but | because | so | last | this | with | a few | since | for "
    r"| at | in | near | on |$)"
)
RULES = (
    _rule(rf"\bmy name is {_OBJECT}{_STOP}", "demographics", "name", core=True),
    _rule(
        rf"\bi (?:just |recently )?(?:moved|relocated) to {_OBJECT}{_STOP}",
        "demographics",
        "location",
    ),
    _rule(rf"\bi (?:now )?live in {_OBJECT}{_STOP}", "demographics", "location"),
    _rule(rf"\bi(?:'m| am) from {_OBJECT}{_STOP}", "demographics", "hometown", core=True),
    _rule(r"\bi(?:'m| am) (\d{1,3}) years old", "demographics", "age"),
    _rule(rf"\bi (?:now )?work (?:as an?|at) {_OBJECT}{_STOP}", "demographics", "occupation"),
    _rule(
        rf"\bi(?:'m| am) (?:now )?an? {_OBJECT} by (?:profession|trade){_STOP}",
        "demographics",
        "occupation",
    ),
    _rule(
        rf"\bi (?:got|started) a (?:new )?job (?:as an?|at) {_OBJECT}{_STOP}",
        "demographics",
        "occupation",
    ),
    _rule(r"\bi(?:'m| am) (?:now |a )*(vegan|vegetarian|pescatarian)\b", "preferences", "diet"),
    _rule(
        r"\bi (?:stopped|quit|gave up) eating (meat|fish|dairy|sugar)\b",
        "preferences",
        "diet",
        "no {0}",
    ),
    _rule(
        rf"\bmy fav(?:ou?rite)? ([a-z]+(?: [a-z]+)?) is {_OBJECT}{_STOP}",
        "preferences",
        "favourite {0}",
        "{1}",
    ),
    _rule(
        rf"\bi (?:really )?(?:love|like|enjoy|adore) {_OBJECT}{_STOP}", "interests", "{0}", "likes"
    ),
    _rule(
        rf"\bi (?:don't|do not|no longer|stopped|can't stand|hate) "
        rf"(?:like |enjoying? |loving? )?{_OBJECT}(?: anymore)?{_STOP}",
        "interests",
        "{0}",
        "dislikes",
    ),
    _rule(
        rf"\b(?:i want to|i plan to|i'm planning to|my goal is to|i hope to) {_OBJECT}{_STOP}",
        "goals",
        "{0}",
        "wants to {0}",
    ),
    # Last: any "my <thing> is <value>" ("my go-to snack is popcorn") names an attribute.
    _rule(rf"\bmy ([a-z][a-z' -]{{1,40}}?)(?: is|:) {_OBJECT}{_STOP}", "preferences", "{0}", "{1}"),
)


class RuleExtractor:
    """The offline extractor: sentence split, first-person filter, attribute patterns."""

    def extract(self, text: str) -> list[Disclosure]:
        found: list[Disclosure] = []
        for sentence in split_sentences(text):
            change = change_disclosure(sentence)
            if change is not None:  # whole: its clauses hold the old and the new value
                found.append(change)
                continue
            for clause in split_clauses(sentence):
                if is_self_disclosure(clause):
                    found.append(_disclosure_of(clause))
        return found


def rule_arity(match: re.Match[str]) -> int:
    return len(match.groups())


def split_clauses(sentence: str) -> list[str]:
    """A sentence cut where a new first-person clause starts ("I'm good, I have two jobs").

    Chat sentences run several facts together with commas; one fact per clause keeps
    small talk out of the fact and each fact short enough to match the person's words.
    """
    parts = _CLAUSE_START.split(sentence)
    return [p.strip(" ,;-") for p in parts if p.strip(" ,;-")]


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def is_first_person(sentence: str) -> bool:
    """The baseline test: a sentence that speaks in the first person."""
    return bool(_FIRST_PERSON.search(sentence.lower()))


def is_self_disclosure(sentence: str) -> bool:
    """First person, a statement, long enough, and about the speaker rather than the listener."""
    lowered = sentence.lower().strip()
    words = _WORD.findall(lowered)
    return (
        len(words) >= 4
        and not lowered.endswith("?")
        and is_first_person(lowered)
        and not _LISTENER.search(lowered)
        and not _SMALL_TALK.match(lowered)
    )


def _disclosure_of(sentence: str) -> Disclosure:
    lowered = sentence.lower()
    is_change = bool(_CHANGE.search(lowered))
    for rule in RULES:
        match = rule.pattern.search(lowered)
        if match is None:
            continue
        # Match on the lower-cased text, but keep the speaker's own casing ("Lisbon").
        groups = [
            sentence[match.start(i) : match.end(i)].strip() for i in range(1, rule_arity(match) + 1)
        ]
        return Disclosure(
            category=rule.category,
            name=rule.name.format(*(g.lower() for g in groups))[:128],
            value=rule.value_template.format(*groups),
            sentence=sentence,
            kind=rule.kind,
            confidence=0.8,
            is_change=is_change,
        )
    return statement_of(sentence)


def change_disclosure(sentence: str) -> Disclosure | None:
    """A statement of change as the new value's disclosure, or None (not a change).

    With a label ("my lunch spot ...") the attribute is ``preferences/<label>``; without
    one it is kept in the person's words and names the value it ``replaces``, which
    persona learning uses to find the attribute that held it.
    """
    if not is_first_person(sentence.lower()) and not sentence.lower().startswith("not "):
        return None
    change = change_of(sentence)
    if change is None:
        return None
    statement = statement_of(change.clause)
    return replace(
        statement,
        category="preferences" if change.label else STATEMENTS,
        name=change.label[:128] if change.label else statement.name,
        value=change.new,
        confidence=0.8,
        is_change=True,
        replaces=change.old,
    )


def statement_of(sentence: str) -> Disclosure:
    """A fact kept in the person's own words (no attribute pattern applies)."""
    lowered = sentence.lower()
    return Disclosure(
        category=STATEMENTS,
        name=" ".join(_WORD.findall(lowered))[:128],
        value=sentence,
        sentence=sentence,
        confidence=0.5,
        is_change=False,  # free text: no attribute to contradict, so nothing to change now
    )


def extract_all(extractor: DisclosureExtractor, texts: Sequence[str]) -> list[Disclosure]:
    return [d for text in texts for d in extractor.extract(text)]
