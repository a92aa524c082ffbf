"""The persona: a structured, evolving profile of the user, one sealed record per attribute.

Attributes sit in categories (the six below, or any other snake_case name). Each has a
value, a kind (``core``: stable, such as a birth year; ``dynamic``: expected to evolve,
such as a favourite cuisine), a confidence, evidence (ids of the memories it came from),
when it was first seen and last updated, and the history of the values it replaced.

Size cap: at most ``max_attributes`` (default 300) attributes. At the cap, a new
attribute is refused with :class:`PersonaFullError` (policy ``refuse``, the default), or,
under ``evict-least-confident-dynamic``, the dynamic attribute with the lowest confidence
(oldest update first on ties) is forgotten to make room. Core attributes are never
evicted; when every attribute is core the new one is refused under either policy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from client.records import (
    JsonValue,
    RecordFormatError,
    field_of,
    from_payload,
    now,
    objects_of,
    strings_of,
    to_payload,
)
from client.store import EncryptedStore, StoreError
from models.stance import StanceClause, parse_stance
from protocol.persona_schema import CATEGORIES, STATEMENTS, AttributeKind

__all__ = ["CATEGORIES", "STATEMENTS", "AttributeKind"]  # re-exported: persona_schema

TABLE = "persona_attributes"
DEFAULT_MAX_ATTRIBUTES = 300
_CATEGORY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_MAX_NAME_LENGTH = 128


class EvictionPolicy(StrEnum):
    REFUSE = "refuse"
    EVICT_LEAST_CONFIDENT_DYNAMIC = "evict-least-confident-dynamic"


class PersonaFullError(StoreError):
    """The persona holds ``max_attributes`` attributes and the policy allows no eviction."""


@dataclass(frozen=True, kw_only=True)
class PastValue:
    """A value an attribute held from ``since`` until ``until``."""

    value: JsonValue
    confidence: float
    since: float
    until: float
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class PersonaAttribute:
    category: str
    name: str
    value: JsonValue
    kind: AttributeKind = AttributeKind.DYNAMIC
    confidence: float = 0.5
    evidence: tuple[str, ...] = ()
    first_seen: float = field(default_factory=now)
    last_updated: float = field(default_factory=now)
    value_since: float = field(default_factory=now)
    history: tuple[PastValue, ...] = ()
    # What the fact says the person likes / avoids / cannot have (models.stance), for the
    # head's persona input and the validator. None: parse it from the value (records
    # written before stances existed, and a value that just changed).
    stance: tuple[StanceClause, ...] | None = None

    @property
    def clauses(self) -> tuple[StanceClause, ...]:
        """The stance clauses: the stored ones, or those parsed from the fact text."""
        return self.stance if self.stance is not None else parse_stance(persona_fact(self))

    def to_json(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "name": self.name,
            "value": self.value,
            "kind": self.kind.value,
            "confidence": self.confidence,
            "evidence": list(self.evidence),
            "first_seen": self.first_seen,
            "last_updated": self.last_updated,
            "value_since": self.value_since,
            "history": [
                {
                    "value": past.value,
                    "confidence": past.confidence,
                    "since": past.since,
                    "until": past.until,
                    "evidence": list(past.evidence),
                }
                for past in self.history
            ],
            "stance": [clause.to_json() for clause in self.clauses],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str = "attribute") -> PersonaAttribute:
        if "value" not in data:
            raise RecordFormatError(f"{where}: missing field 'value'")
        try:
            kind = AttributeKind(field_of(data, "kind", str, where))
        except ValueError as error:
            raise RecordFormatError(f"{where}.kind: expected 'core' or 'dynamic'") from error
        history = tuple(
            PastValue(
                value=past.get("value"),
                confidence=float(field_of(past, "confidence", (int, float), f"{where}.history")),
                since=float(field_of(past, "since", (int, float), f"{where}.history")),
                until=float(field_of(past, "until", (int, float), f"{where}.history")),
                evidence=tuple(strings_of(past, "evidence", f"{where}.history", required=False)),
            )
            for past in objects_of(data, "history", where)
        )
        attribute = cls(
            category=field_of(data, "category", str, where),
            name=field_of(data, "name", str, where),
            value=data["value"],
            kind=kind,
            confidence=float(field_of(data, "confidence", (int, float), where)),
            evidence=tuple(strings_of(data, "evidence", where)),
            first_seen=float(field_of(data, "first_seen", (int, float), where)),
            last_updated=float(field_of(data, "last_updated", (int, float), where)),
            value_since=float(
                field_of(data, "value_since", (int, float), where)
                if "value_since" in data
                else data["first_seen"]
            ),
            history=history,
            stance=_stance_of(data, where),
        )
        validate_attribute_key(attribute.category, attribute.name)
        _check_confidence(attribute.confidence)
        return attribute


def validate_attribute_key(category: str, name: str) -> None:
    if not _CATEGORY_PATTERN.match(category):
        raise RecordFormatError(
            f"category {category!r} must be snake_case (letters, digits, _), e.g. {CATEGORIES[1]!r}"
        )
    if not name.strip() or len(name) > _MAX_NAME_LENGTH:
        raise RecordFormatError(f"attribute name must be 1-{_MAX_NAME_LENGTH} characters")


def _check_confidence(confidence: float) -> None:
    if not 0.0 <= confidence <= 1.0:
        raise RecordFormatError(f"confidence must be within [0, 1], got {confidence}")


class Persona:
    """The user's persona inside an unlocked store."""

    def __init__(
        self,
        store: EncryptedStore,
        *,
        max_attributes: int = DEFAULT_MAX_ATTRIBUTES,
        eviction: EvictionPolicy = EvictionPolicy.REFUSE,
    ) -> None:
        if max_attributes < 1:
            raise ValueError(f"max_attributes must be positive, got {max_attributes}")
        self._store = store
        self._table = store.tables[TABLE]
        self.max_attributes = max_attributes
        self.eviction = EvictionPolicy(eviction)

    def observe(
        self,
        category: str,
        name: str,
        value: JsonValue,
        *,
        kind: AttributeKind = AttributeKind.DYNAMIC,
        confidence: float = 0.5,
        evidence: tuple[str, ...] = (),
        at: float | None = None,
    ) -> PersonaAttribute:
        """Record ``name = value`` for the user; a changed value moves the old one to history."""
        validate_attribute_key(category, name)
        _check_confidence(confidence)
        at = now() if at is None else at
        with self._store.transaction().write():
            current = self.get(category, name)
            if current is None:
                self._make_room()
                updated = PersonaAttribute(
                    category=category,
                    name=name,
                    value=value,
                    kind=kind,
                    confidence=confidence,
                    evidence=evidence,
                    first_seen=at,
                    last_updated=at,
                    value_since=at,
                )
            elif current.value == value:
                updated = replace(
                    current,
                    kind=kind,
                    confidence=max(current.confidence, confidence),
                    evidence=_merge(current.evidence, evidence),
                    last_updated=at,
                )
            else:
                past = PastValue(
                    value=current.value,
                    confidence=current.confidence,
                    since=current.value_since,
                    until=at,
                    evidence=current.evidence,
                )
                updated = replace(
                    current,
                    value=value,
                    kind=kind,
                    confidence=confidence,
                    evidence=evidence,
                    last_updated=at,
                    value_since=at,
                    history=(*current.history, past),
                    stance=None,  # re-read from the new value
                )
            self.put(updated)
        return updated

    def put(self, attribute: PersonaAttribute) -> None:
        """Store ``attribute`` as given (used by import; ``observe`` is the normal path)."""
        self._table.put(
            self.attribute_id(attribute.category, attribute.name),
            to_payload(attribute.to_json()),
            tag=self._category_tag(attribute.category),
        )

    def get(self, category: str, name: str) -> PersonaAttribute | None:
        payload = self._table.get(self.attribute_id(category, name))
        return None if payload is None else PersonaAttribute.from_json(from_payload(payload))

    def attributes(self, category: str | None = None) -> list[PersonaAttribute]:
        """All attributes (checked against the table digest), or those of one category."""
        if category is None:
            return [
                PersonaAttribute.from_json(from_payload(p)) for _, p in self._table.scan().records
            ]
        found = []
        for record_id in self._table.ids(tag=self._category_tag(category)):
            payload = self._table.get(record_id)
            if payload is not None:
                found.append(PersonaAttribute.from_json(from_payload(payload)))
        return found

    def count(self) -> int:
        return self._table.count()

    def profile(self) -> dict[str, dict[str, JsonValue]]:
        """The persona as a plain ``{category: {name: value}}`` dictionary."""
        result: dict[str, dict[str, JsonValue]] = {}
        for attribute in self.attributes():
            result.setdefault(attribute.category, {})[attribute.name] = attribute.value
        return result

    def attribute_id(self, category: str, name: str) -> str:
        """Deterministic but keyed: the id reveals neither category nor name."""
        return self._store.tag("persona-attribute", f"{category}\0{name}")

    def forget_attribute(self, category: str, name: str) -> bool:
        return self._table.delete([self.attribute_id(category, name)]) == 1

    def forget_category(self, category: str) -> int:
        return self._table.delete(self._table.ids(tag=self._category_tag(category)))

    def drop_evidence(self, memory_ids: set[str]) -> int:
        """Remove forgotten memories from every attribute's evidence (and its history's)."""
        changed = 0
        with self._store.transaction().write():
            for attribute in self.attributes():
                history = tuple(
                    replace(p, evidence=tuple(e for e in p.evidence if e not in memory_ids))
                    for p in attribute.history
                )
                evidence = tuple(e for e in attribute.evidence if e not in memory_ids)
                if evidence != attribute.evidence or history != attribute.history:
                    self.put(replace(attribute, evidence=evidence, history=history))
                    changed += 1
        return changed

    def _category_tag(self, category: str) -> str:
        return self._store.tag("persona-category", category)

    def _make_room(self) -> None:
        if self.count() < self.max_attributes:
            return
        if self.eviction is EvictionPolicy.EVICT_LEAST_CONFIDENT_DYNAMIC:
            dynamic = [a for a in self.attributes() if a.kind is AttributeKind.DYNAMIC]
            if dynamic:
                victim = min(dynamic, key=lambda a: (a.confidence, a.last_updated))
                self.forget_attribute(victim.category, victim.name)
                return
        raise PersonaFullError(
            f"the persona holds {self.max_attributes} attributes (the cap); forget some, "
            f"or raise the cap (policy: {self.eviction.value})"
        )


def _stance_of(data: dict[str, Any], where: str) -> tuple[StanceClause, ...] | None:
    """The stored stance, or None for a record written before stances (parsed on use)."""
    if "stance" not in data:
        return None
    try:
        return tuple(StanceClause.from_json(c) for c in objects_of(data, "stance", where))
    except ValueError as error:
        raise RecordFormatError(f"{where}.stance: {error}") from error


def _merge(old: tuple[str, ...], new: tuple[str, ...]) -> tuple[str, ...]:
    return old + tuple(e for e in new if e not in old)


def fact_text(category: str, name: str, value: object) -> str:
    """A persona attribute as the short text the encoder embeds: a self-description is
    embedded as written, a structured attribute as "name: value"."""
    if category == STATEMENTS:
        return str(value)
    return f"{name.replace('_', ' ')}: {value}"


def persona_fact(attribute: PersonaAttribute) -> str:
    """What the encoder embeds for one persona attribute (``fact_text``)."""
    return fact_text(attribute.category, attribute.name, attribute.value)
