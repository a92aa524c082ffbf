"""Checking what a language model says the user disclosed, before any of it is kept.

The model is asked for ``{"facts": [...]}``; each item becomes a
:class:`~client.memory_engine.disclosure.Disclosure` only when it is well formed (known
fields of the right types, a persona schema category) and grounded: every content word
of its value (and of the value it ``replaces``) occurs in the user's own text, a
negation in the value is matched by one just before its words in the user's sentence
and the other way round (so "I don't eat meat" cannot become "meat"), and that sentence is
a first-person statement. Anything else is dropped with a reason. The attribute label is
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
_FENCED_BLOCK = re.compile(r"```[a-z]*\s*(.*?)\s*```", re.DOTALL)
# Words a value may carry that its source need not (articles, links, the copula).
_FUNCTION_WORDS = frozenset(
    _WORD.findall("a an the of to and or in on at for with from by as is are was be my i i'm")
)
_NEGATIONS = frozenset(
    _WORD.findall(
        "no not never none nothing without cannot stopped quit dislike dislikes disliked "
        "avoid avoids avoided hate hates hated"
    )
)
# How many words before a fact's word a negation still governs it: "I don't eat meat",
# "I no longer like jazz", "I can't stand jazz" (a heuristic, not a parser).
NEGATION_REACH = 3


class MalformedFactsError(ValueError):
    """The whole answer is unusable: not JSON, or no ``facts`` list in it."""


@dataclass(frozen=True, kw_only=True)
class Rejected:
    """An item of the model's answer that was dropped, and why."""

    item: str  # the item as JSON, cut to 200 characters
    reason: str


def fact_items(answer: str) -> list[Any]:
    """The ``facts`` list of the model's answer (a Markdown code fence around it is fine,
    and so is a sentence before or after the JSON)."""
    try:
        body = completion_json.parse_object(answer.strip())
    except MalformedReplyError as error:
        embedded = _embedded_object(answer)
        if embedded is None:
            raise MalformedFactsError(error.user_line) from error
        body = embedded
    facts = body.get("facts")
    if not isinstance(facts, list):
        raise MalformedFactsError(f"expected a 'facts' list, got {type(facts).__name__}")
    return facts


def _embedded_object(answer: str) -> dict[str, Any] | None:
    """The first JSON object inside a longer answer: a fenced block (the whole answer
    fenced, or one after a sentence), else the first ``{`` that opens one. Small local
    models often introduce the JSON with a sentence ("Here's a JSON representation ...",
    seen with SmolLM2 on llama.cpp's server)."""
    for block in _FENCED_BLOCK.findall(answer):
        try:
            return completion_json.parse_object(block)
        except MalformedReplyError:
            continue
    decoder = json.JSONDecoder()
    start = answer.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(answer, start)
        except json.JSONDecodeError:
            value = None
        if isinstance(value, dict):
            return value
        start = answer.find("{", start + 1)
    return None


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
    polarity = polarity_error(value, sentence)
    if polarity is not None:
        raise ValueError(polarity)
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
    """Content words of ``value`` absent from ``text`` (a plural matches its singular)."""
    said = {_stem(w) for w in _WORD.findall(text.lower())}
    return [w for w in _content_words(value) if _stem(w) not in said]


def polarity_error(value: str, sentence: str) -> str | None:
    """Why ``value`` and ``sentence`` disagree on negation, or None when they agree.

    The sentence negates the fact when a negation stands at most :data:`NEGATION_REACH`
    words before one of the value's content words.
    """
    tokens = _WORD.findall(sentence.lower())
    wanted = {_stem(w) for w in _content_words(value)}
    negated = any(
        any(_is_negation(t) for t in tokens[max(0, n - NEGATION_REACH) : n])
        for n, token in enumerate(tokens)
        if _stem(token) in wanted
    )
    negates = any(_is_negation(w) for w in _WORD.findall(value.lower()))
    if negates and not negated:
        return "the value negates what the user's sentence does not"
    if negated and not negates:
        return "the user's sentence negates what the value does not"
    return None


def _content_words(value: str) -> list[str]:
    words = _WORD.findall(value.lower())
    return [w for w in words if w not in _FUNCTION_WORDS and not _is_negation(w)]


def _is_negation(word: str) -> bool:
    return word in _NEGATIONS or word.endswith("n't")


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
