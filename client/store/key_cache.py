"""Data keys unwrapped while the store is unlocked, so no record's key is unwrapped twice.

A memo of ``privacy.envelope.unwrap_data_key(kek, address, wrapped)`` for one KEK: an entry
answers only when the row still holds the very wrapped-key bytes it was unwrapped from,
so a replaced or altered wrapped key is unwrapped (and authenticated) again. Holding the
unwrapped keys in memory adds nothing an attacker with the process's memory lacks: the
KEK, which unwraps every one of them, is there too while the store is unlocked. Cost: a
few hundred bytes of memory per record read while unlocked (a full scan of 100k records
holds about 30 MB of keys and digest terms).
"""

from __future__ import annotations


class DataKeyCache:
    """record id -> (wrapped key bytes, data key), and the row's digest term once known."""

    def __init__(self) -> None:
        self._keys: dict[str, tuple[bytes, bytes]] = {}
        self._terms: dict[str, bytes] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def get(self, record_id: str, wrapped_key: bytes) -> bytes | None:
        """The data key unwrapped from exactly ``wrapped_key``, or None."""
        found = self._keys.get(record_id)
        if found is None or found[0] != wrapped_key:
            return None
        return found[1]

    def put(self, record_id: str, wrapped_key: bytes, data_key: bytes) -> None:
        self._keys[record_id] = (wrapped_key, data_key)
        self._terms.pop(record_id, None)

    def term(self, record_id: str) -> bytes | None:
        """The digest term of the row whose key :meth:`put` last remembered, or None."""
        return self._terms.get(record_id)

    def set_term(self, record_id: str, term: bytes) -> None:
        if record_id in self._keys:
            self._terms[record_id] = term

    def drop(self, record_id: str) -> None:
        self._keys.pop(record_id, None)
        self._terms.pop(record_id, None)

    def clear(self) -> None:
        self._keys.clear()
        self._terms.clear()
