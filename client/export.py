"""Right of access and moving devices: everything the store holds, as readable JSON, and back.

The export is plaintext by design (it is what the user asked to see); the CLI writes it
with owner-only permissions and says so. Import is all-or-nothing into an empty store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from client.memory import ITEMS, SUMMARIES, TURNS, MemoryItem, SessionSummary, Turn
from client.persona import TABLE as PERSONA_TABLE
from client.persona import PersonaAttribute
from client.profile import Profile
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
}
T = TypeVar("T")


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
        scan = profile.store.tables[table].scan(strict=not skip_damaged)
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


def import_profile(profile: Profile, document: object) -> dict[str, int]:
    """Load an export into an empty profile in one transaction; returns counts per section."""
    if not isinstance(document, dict):
        raise RecordFormatError("import file: expected a JSON object at the top level")
    if document.get("format") != EXPORT_FORMAT:
        raise RecordFormatError(f"import file: 'format' must be {EXPORT_FORMAT!r}")
    if document.get("version") != EXPORT_VERSION:
        raise RecordFormatError(
            f"import file: version {document.get('version')!r} is not supported "
            f"(this fedpersona reads version {EXPORT_VERSION})"
        )
    persona = _parse(document, "persona", PersonaAttribute.from_json)
    turns = _parse(document, "turns", Turn.from_json)
    summaries = _parse(document, "summaries", SessionSummary.from_json)
    memories = _parse(document, "memories", MemoryItem.from_json)
    pairs = _parse(document, "training_pairs", TrainingPair.from_json)
    if any(profile.counts().values()):
        raise StoreNotEmptyError("import needs an empty store; create a new one with `store init`")
    if len(persona) > profile.persona.max_attributes:
        raise RecordFormatError(
            f"import file holds {len(persona)} attributes, above the cap of "
            f"{profile.persona.max_attributes}"
        )
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
    return {
        "persona": len(persona),
        "turns": len(turns),
        "summaries": len(summaries),
        "memories": len(memories),
        "training_pairs": len(pairs),
    }


def _parse(
    document: dict[str, Any], section: str, parse: Callable[[dict[str, Any], str], T]
) -> list[T]:
    entries = document.get(section, [])
    if not isinstance(entries, list):
        raise RecordFormatError(f"import file: {section!r} must be a list")
    parsed = []
    for index, entry in enumerate(entries):
        where = f"{section}[{index}]"
        if not isinstance(entry, dict):
            raise RecordFormatError(f"import file: {where} must be an object")
        try:
            parsed.append(parse(entry, where))
        except (TypeError, ValueError) as error:
            if isinstance(error, RecordFormatError):
                raise RecordFormatError(f"import file: {error}") from error
            raise RecordFormatError(f"import file: {where}: {error}") from error
    return parsed
