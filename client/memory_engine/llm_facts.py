"""Checking what a language model says the user disclosed, before any of it is kept.

The model is asked for ``{"facts": [...]}``; each item becomes a
:class:`~client.memory_engine.disclosure.Disclosure` only when it is well formed (known
fields of the right types, a persona schema category) and grounded: every content word
of its value (and of the value it ``replaces``) occurs in the user's own text, a
negation in the value is matched by one in the text, and the sentence it came from is a
first-person statement. Anything else is dropped with a reason. The attribute label is
the one part not grounded: it names a slot of the schema ("location" for "I moved to
Lisbon"); it is checked for shape only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from client.llm import completion_json
from client.llm.errors import MalformedReplyError
from client.memory_engine.disclosure import Disclosure, is_first_person, split_sentences
from protocol.persona_schema import CATEGORIES, STATEMENTS, AttributeKind

FIELDS = frozenset({"category", "attribute", "value", "kind", "confidence", "change", "replaces"})
REQUIRED = ("category", "attribute", "value")
# A model's stated confidence is not calibrated: it never outranks a rule's match (0.8,
# client.memory_engine.disclosure).
MAX_CONFIDENCE = 0.8
MAX_VALUE_CHARS = 200
_LABEL = re.compile(r"^[a-z][a-z0-9 _'-]{0,63}$")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_FENCE = re.compile(r"^```[a-z]*\s*|\s*```$")
# Words a value may carry that its source need not (articles, links, the copula).
_FUNCTION_WORDS = frozenset(
    _WORD.findall("a an the of to and or in on at for with from by as is are was be my i i'm")
)
_NEGATIONS = frozenset(_WORD.findall("no not never none without dislikes dislike avoids avoid"))
_TEXT_NEGATION = re.compile(
    r"\b(no|not|never|none|without|nothing|dislike[sd]?|avoid\w*|hate[sd]?|can't|cannot|"
    r"stopped|quit|gave up|allergic|\w+n't)\b"
)


class MalformedFactsError(ValueError):
    """The whole answer is unusable: not JSON, or no ``facts`` list in it."""


@dataclass(frozen=True, kw_only=True)
class Rejected:
    """An item of the model's answer that was dropped, and why."""

    item: str  # the item as JSON, cut to 200 characters
    reason: str


def fact_items(answer: str) -> list[Any]:
    """The ``facts`` list of the model's answer (a Markdown code fence around it is fine)."""
    text = _FENCE.sub("", answer.strip())
    try:
        body = completion_json.parse_object(text)
    except MalformedReplyError as error:
        raise MalformedFactsError(error.user_line) from error
    facts = body.get("facts")
    if not isinstance(facts, list):
        raise MalformedFactsError(f"expected a 'facts' list, got {type(facts).__name__}")
    return facts


def checked(items: list[Any], text: str) -> tuple[list[Disclosure], list[Rejected]]:
    """The items that are well formed and grounded in ``text``, and the rest with reasons."""
    kept: list[Disclosure] = []
    dropped: list[Rejected] = []
    for item in items:
        try:
            kept.append(disclosure_of(item, text))
        except ValueError as error:
            dropped.append(Rejected(item=json.dumps(item)[:200], reason=str(error)))
    return kept, dropped


def disclosure_of(item: Any, text: str) -> Disclosure:
    """One item as a disclosure, or ValueError naming what is wrong with it."""
    if not isinstance(item, dict):
        raise ValueError(f"an item must be an object, got {type(item).__name__}")
    _check_fields(item)
    category, value = item["category"], _string(item, "value", MAX_VALUE_CHARS)
    if category not in (*CATEGORIES, STATEMENTS):
        raise ValueError(f"category {category!r} is not in the persona schema")
    replaces = _string(item, "replaces", MAX_VALUE_CHARS, default="")
    for said in (value, replaces):
        missing = ungrounded_words(said, text)
        if missing:
            raise ValueError(f"not in the user's words: {', '.join(missing)}")
    sentence = source_sentence(value, text)
    if sentence.rstrip().endswith("?") or not is_first_person(sentence):
        raise ValueError(f"{sentence!r} is not a first-person statement")
    return Disclosure(
        category=category,
        name=_name(item, category, value),
        value=value,
        sentence=sentence,
        kind=_kind(item),
        confidence=min(_confidence(item), MAX_CONFIDENCE),
        is_change=_flag(item, "change"),
        replaces=replaces,
    )


def ungrounded_words(value: str, text: str) -> list[str]:
    """Content words of ``value`` absent from ``text`` (a plural matches its singular),
    plus ``"(negation)"`` when ``value`` negates and ``text`` does not."""
    said = {_stem(w) for w in _WORD.findall(text.lower())}
    words = _WORD.findall(value.lower())
    missing = [w for w in words if w not in _FUNCTION_WORDS | _NEGATIONS and _stem(w) not in said]
    if any(w in _NEGATIONS for w in words) and not _TEXT_NEGATION.search(text.lower()):
        missing.append("(negation)")
    return missing


def source_sentence(value: str, text: str) -> str:
    """The sentence of ``text`` sharing most words with ``value`` (the fact item's text)."""
    words = {_stem(w) for w in _WORD.findall(value.lower())}
    sentences = split_sentences(text) or [text]
    return max(sentences, key=lambda s: len(words & {_stem(w) for w in _WORD.findall(s.lower())}))


def _stem(word: str) -> str:
    # Enough to match "dogs" with "dog" and "cats'" with "cat"; not a lemmatiser.
    word = word.removesuffix("'s")
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _check_fields(item: dict[str, Any]) -> None:
    unknown = sorted(set(item) - FIELDS)
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(map(repr, unknown))}")
    absent = [name for name in REQUIRED if name not in item]
    if absent:
        raise ValueError(f"missing field(s) {', '.join(map(repr, absent))}")


def _string(item: dict[str, Any], field: str, limit: int, *, default: str | None = None) -> str:
    value = item.get(field, default)
    if not isinstance(value, str) or (default is None and not value.strip()):
        raise ValueError(f"{field} must be a non-empty string, got {value!r}")
    if len(value) > limit:
        raise ValueError(f"{field} is longer than {limit} characters")
    return " ".join(value.split())


def _name(item: dict[str, Any], category: str, value: str) -> str:
    if category == STATEMENTS:  # as statement_of names it: the fact's own words
        return " ".join(_WORD.findall(value.lower()))[:128]
    label = _string(item, "attribute", 64).lower()
    if not _LABEL.match(label):
        raise ValueError(f"attribute {label!r} is not a short lower-case label")
    return label


def _kind(item: dict[str, Any]) -> AttributeKind:
    kind = item.get("kind", AttributeKind.DYNAMIC.value)
    if kind not in (AttributeKind.CORE.value, AttributeKind.DYNAMIC.value):
        raise ValueError(f"kind must be 'core' or 'dynamic', got {kind!r}")
    return AttributeKind(kind)


def _confidence(item: dict[str, Any]) -> float:
    value = item.get("confidence", 0.5)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(f"confidence must be a number within [0, 1], got {value!r}")
    return float(value)


def _flag(item: dict[str, Any], field: str) -> bool:
    value = item.get(field, False)
    if not isinstance(value, bool):
        raise ValueError(f"{field} must be true or false, got {value!r}")
    return value
