"""A user profile on the device: one encrypted store with its persona, memories and signals.

Forgetting lives here because it crosses tiers: forgetting a memory also removes it from
every other memory's links and from every persona attribute's evidence, in one commit,
and then flushes the destroyed keys out of the write-ahead log.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from client.memory import DEFAULT_TURN_CAPACITY, ITEMS, SUMMARIES, TURNS, Memory
from client.persona import DEFAULT_MAX_ATTRIBUTES, EvictionPolicy, Persona
from client.persona import TABLE as PERSONA_TABLE
from client.personal_head import TABLE as HEAD_TABLE
from client.personal_head import PersonalHeads
from client.store import EncryptedStore
from client.store.closing import Closing
from client.training_pairs import TABLE as TRAINING_TABLE
from client.training_pairs import TrainingPairs
from privacy.kdf import KdfParams

TIERS = {"turns": TURNS, "summaries": SUMMARIES, "memories": ITEMS, "training": TRAINING_TABLE}


@dataclass(frozen=True, kw_only=True)
class ProfileSettings:
    max_attributes: int = DEFAULT_MAX_ATTRIBUTES
    eviction: EvictionPolicy = EvictionPolicy.REFUSE
    turn_capacity: int = DEFAULT_TURN_CAPACITY


@dataclass(frozen=True)
class Forgotten:
    """What a forget removed, and whether the WAL was reset so no copy of the keys remains."""

    records: int
    tier: str
    residue_flushed: bool


class Profile(Closing):
    """An unlocked profile. Use as a context manager, or call :meth:`close`."""

    def __init__(self, store: EncryptedStore, settings: ProfileSettings | None = None) -> None:
        settings = settings or ProfileSettings()
        self.store = store
        self.persona = Persona(
            store, max_attributes=settings.max_attributes, eviction=settings.eviction
        )
        self.memory = Memory(store, turn_capacity=settings.turn_capacity)
        self.training = TrainingPairs(store)
        self.heads = PersonalHeads(store)

    @classmethod
    def create(
        cls,
        path: Path,
        passphrase: str,
        *,
        kdf: KdfParams | None = None,
        settings: ProfileSettings | None = None,
    ) -> Profile:
        return cls(EncryptedStore.create(path, passphrase, kdf=kdf), settings)

    @classmethod
    def open(
        cls, path: Path, passphrase: str, *, settings: ProfileSettings | None = None
    ) -> Profile:
        return cls(EncryptedStore.open(path, passphrase), settings)

    def close(self) -> None:
        self.store.close()

    def counts(self) -> dict[str, int]:
        return {name: table.count() for name, table in self.store.tables.items()}

    def forget_item(self, record_id: str) -> Forgotten:
        """Forget one record of any tier by id; memories also leave every link and evidence list."""
        table_name = next(
            (name for name, table in self.store.tables.items() if table.contains(record_id)), None
        )
        if table_name is None:
            raise KeyError(f"no record with id {record_id} in this store")
        with self.store.transaction().write():
            if table_name == ITEMS:
                removed = self.memory.forget_items({record_id})
            else:
                removed = self.store.tables[table_name].delete([record_id])
            self.persona.drop_evidence({record_id})
        return Forgotten(removed, table_name, self.store.shred_residue())

    def forget_category(self, category: str) -> Forgotten:
        """Forget every persona attribute of ``category``."""
        removed = self.persona.forget_category(category)
        return Forgotten(removed, PERSONA_TABLE, self.store.shred_residue())

    def forget_tier(self, tier: str) -> Forgotten:
        """Forget a whole memory tier (turns, summaries, memories or training)."""
        if tier not in TIERS:
            raise KeyError(f"unknown tier {tier!r}; use one of {sorted(TIERS)}")
        table = self.store.tables[TIERS[tier]]
        with self.store.transaction().write():
            ids = table.ids()
            removed = table.delete(ids)
            self.persona.drop_evidence(set(ids))
            if tier == "training" and HEAD_TABLE in self.store.tables:
                # The head was learned from these signals: it goes with them.
                heads = self.store.tables[HEAD_TABLE]
                removed += heads.delete(heads.ids())
        return Forgotten(removed, TIERS[tier], self.store.shred_residue())

    def forget_everything(self) -> Forgotten:
        """Forget every record; the store stays usable with the same passphrase."""
        with self.store.transaction().write():
            removed = sum(table.delete(table.ids()) for table in self.store.tables.values())
        self.store.compact()
        return Forgotten(removed, "all", self.store.shred_residue())
