"""Right of access and moving devices: everything the store holds, as readable JSON, and back.

The export is plaintext by design (it is what the user asked to see); the CLI writes it
with owner-only permissions and says so. Import is all-or-nothing into an empty store: it
keeps every record of the file or refuses the file and says why (a section over the
store's capacity, a repeated id, an unknown field), and what it reports is what the store
holds afterwards, counted inside the same transaction.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from client.memory import ITEMS, SUMMARIES, TURNS, MemoryItem, SessionSummary, Turn
from client.persona import TABLE as PERSONA_TABLE
from client.persona import PersonaAttribute
from client.profile import Profile
from client.prompt_use import TABLE as PROMPT_USES_TABLE
from client.prompt_use import PromptUse, PromptUses
from client.records import RecordFormatError, from_payload, now
from client.store.errors import StoreError
from client.training_pairs import TABLE as TRAINING_TABLE
from client.training_pairs import TrainingPair

EXPORT_FORMAT = "fedpersona-export"
EXPORT_VERSION = 1
# Export section name -> store table.
SECTIONS = {
    "persona": PERSONA_TABLE,
    "turns": TURNS,
    "summaries": SUMMARIES,
    "memories": ITEMS,
    "training_pairs": TRAINING_TABLE,
    "prompt_uses": PROMPT_USES_TABLE,
}
T = TypeVar("T")
KNOWN_KEYS = {"format", "version", "exported_at", "profile", "damaged", *SECTIONS}
# Deeper nesting or longer integers than any export holds: refused before they can exhaust
# the stack (json's recursion) or overflow a float (a timestamp of 10**400).
MAX_DEPTH = 64
MAX_INTEGER_DIGITS = 30


class StoreNotEmptyError(StoreError):
    """Import goes into an empty store only, so nothing on the device is overwritten."""


@dataclass
class ExportResult:
    document: dict[str, Any]
    damaged_ids: list[str] = field(default_factory=list)
    damaged_tables: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not (self.damaged_ids or self.damaged_tables)


def export_profile(profile: Profile, *, skip_damaged: bool = False) -> ExportResult:
    """Everything the store holds; with ``skip_damaged``, what authenticates plus a damage list.

    Without ``skip_damaged``, any damaged record raises TamperedRecordsError.
    """
    result = ExportResult(document={})
    sections: dict[str, list[dict[str, Any]]] = {}
    for section, table in SECTIONS.items():
        scan = profile.store.scan(table, strict=not skip_damaged)
        sections[section] = [from_payload(payload) for _, payload in scan.records]
        result.damaged_ids += scan.bad_ids
        if not scan.digest_ok:
            result.damaged_tables.append(table)
    profile_view: dict[str, dict[str, Any]] = {}
    for attribute in sections["persona"]:
        profile_view.setdefault(attribute["category"], {})[attribute["name"]] = attribute["value"]
    result.document = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "exported_at": now(),
        "profile": profile_view,
        **sections,
    }
    if not result.complete:
        result.document["damaged"] = {"ids": result.damaged_ids, "tables": result.damaged_tables}
    return result


def parse_export(text: str, name: str) -> object:
    """The JSON in ``text`` (read from ``name``), or a RecordFormatError saying why not."""
    try:
        document = json.loads(
            text, parse_constant=_no_constant, parse_float=_finite, parse_int=_short_int
        )
    except RecordFormatError as error:
        raise RecordFormatError(f"{name} is not valid JSON for an export: {error}") from error
    except RecursionError:
        raise RecordFormatError(f"{name} is nested too deeply to be an export") from None
    except ValueError as error:  # JSONDecodeError, and int()'s own digit limit
        raise RecordFormatError(f"{name} is not valid JSON: {error}") from error
    _check_tree(document, name)
    return document


def _no_constant(text: str) -> float:
    raise RecordFormatError(f"{text} is not a number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise RecordFormatError(f"{text} is too large for a number")
    return value


def _short_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise RecordFormatError(f"an integer of {len(text)} digits is too long")
    return int(text)


def _check_tree(document: object, name: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH and text that cannot be stored as UTF-8."""
    pending: list[tuple[object, int]] = [(document, 1)]
    while pending:
        node, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise RecordFormatError(f"{name} is nested more than {MAX_DEPTH} levels deep")
        children: list[object] = []
        if isinstance(node, dict):
            children = [*node.keys(), *node.values()]
        elif isinstance(node, list):
            children = node
        elif isinstance(node, str) and not _is_utf8(node):
            raise RecordFormatError(f"{name} holds text that is not valid Unicode: {node!r:.40}")
        pending += [(child, depth + 1) for child in children]


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, which JSON's \ud800 escapes can make
        return False
    return True


def import_profile(profile: Profile, document: object) -> dict[str, int]:
    """Load an export into an empty profile in one transaction; returns counts per section.

    Refuses (RecordFormatError, nothing written) a file it could not keep whole.
    """
    if not isinstance(document, dict):
        raise RecordFormatError("import file: expected a JSON object at the top level")
    if document.get("format") != EXPORT_FORMAT:
        raise RecordFormatError(f"import file: 'format' must be {EXPORT_FORMAT!r}")
    if document.get("version") != EXPORT_VERSION:
        raise RecordFormatError(
            f"import file: version {document.get('version')!r} is not supported "
            f"(this fedpersona reads version {EXPORT_VERSION})"
        )
    unknown = sorted(str(key) for key in set(document) - KNOWN_KEYS)
    if unknown:
        raise RecordFormatError(f"import file: unknown sections {unknown}; nothing was imported")
    persona = _parse(document, "persona", PersonaAttribute, PersonaAttribute.from_json)
    turns = _parse(document, "turns", Turn, Turn.from_json)
    summaries = _parse(document, "summaries", SessionSummary, SessionSummary.from_json)
    memories = _parse(document, "memories", MemoryItem, MemoryItem.from_json)
    pairs = _parse(document, "training_pairs", TrainingPair, TrainingPair.from_json)
    uses = _parse(document, "prompt_uses", PromptUse, PromptUse.from_json)
    _check_unique(
        {
            "persona": [f"{a.category}/{a.name}" for a in persona],
            "turns": [t.id for t in turns],
            "summaries": [s.id for s in summaries],
            "memories": [m.id for m in memories],
            "training_pairs": [p.id for p in pairs],
            "prompt_uses": [u.id for u in uses],
        }
    )
    if any(profile.counts().values()):
        raise StoreNotEmptyError("import needs an empty store; create a new one with `store init`")
    _check_capacity(profile, persona=len(persona), turns=len(turns))
    expected = {
        "persona": len(persona),
        "turns": len(turns),
        "summaries": len(summaries),
        "memories": len(memories),
        "training_pairs": len(pairs),
        "prompt_uses": len(uses),
    }
    with profile.store.transaction().write():
        for attribute in persona:
            profile.persona.put(attribute)
        for turn in turns:
            profile.memory.add_turn(turn)
        for summary in summaries:
            profile.memory.add_summary(summary)
        profile.memory.restore_items(memories)
        for pair in pairs:
            profile.training.add(pair)
        for use in uses:  # beyond the records kept, _check_stored refuses the import
            PromptUses(profile.store).record(use)
        _check_stored(profile, expected)  # raising here rolls the whole import back
    return expected


def _check_capacity(profile: Profile, *, persona: int, turns: int) -> None:
    if persona > profile.persona.max_attributes:
        raise RecordFormatError(
            f"import file holds {persona} persona attributes, above the cap of "
            f"{profile.persona.max_attributes}; nothing was imported"
        )
    if turns > profile.memory.turn_capacity:
        raise RecordFormatError(
            f"import file holds {turns} turns, more than the {profile.memory.turn_capacity} "
            "the store keeps (older turns would be dropped); nothing was imported"
        )


def _check_unique(keys: dict[str, list[str]]) -> None:
    """Refuse a key repeated within a section, or a record id used in two sections.

    A repeat would overwrite the first record, so the store would hold fewer than the file.
    """
    for section, values in keys.items():
        repeated = [key for key, n in Counter(values).items() if n > 1]
        if repeated:
            raise RecordFormatError(
                f"import file: {section} repeats {repeated[0]!r} "
                f"({len(repeated)} repeated); nothing was imported"
            )
    ids = Counter(i for section, values in keys.items() if section != "persona" for i in values)
    shared = [i for i, n in ids.items() if n > 1]
    if shared:
        raise RecordFormatError(
            f"import file: id {shared[0]!r} is used in two sections; nothing was imported"
        )


def _check_stored(profile: Profile, expected: dict[str, int]) -> None:
    stored = {section: profile.store.tables[SECTIONS[section]].count() for section in expected}
    if stored != expected:
        lost = {s: f"{stored[s]} of {expected[s]}" for s in expected if stored[s] != expected[s]}
        raise RecordFormatError(f"import would keep only {lost}; nothing was imported")


def _parse(
    document: dict[str, Any],
    section: str,
    record_type: type,
    parse: Callable[[dict[str, Any], str], T],
) -> list[T]:
    entries = document.get(section, [])
    if not isinstance(entries, list):
        raise RecordFormatError(f"import file: {section!r} must be a list")
    allowed = {f.name for f in fields(record_type)}
    parsed = []
    for index, entry in enumerate(entries):
        where = f"{section}[{index}]"
        if not isinstance(entry, dict):
            raise RecordFormatError(f"import file: {where} must be an object")
        unknown = sorted(set(entry) - allowed)
        if unknown:
            raise RecordFormatError(f"import file: {where} has unknown fields {unknown}")
        try:
            parsed.append(parse(entry, where))
        except RecordFormatError as error:
            raise RecordFormatError(f"import file: {error}") from error
        except (TypeError, ValueError, OverflowError) as error:
            raise RecordFormatError(f"import file: {where}: {error}") from error
    return parsed
