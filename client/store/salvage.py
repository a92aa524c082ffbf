"""Authenticating what survives of a damaged store file, record by record.

``Database.readable_rows`` fetches each row on its own (a lost page costs only the rows on
it); here each row that came back is opened and authenticated as usual, so nothing
unauthenticated is ever returned, and the table's digest says whether rows are missing.
"""

from __future__ import annotations

from collections.abc import Callable

from client.store.database import Row
from client.store.sealed_table import ScanResult
from privacy import integrity
from privacy.aead import AuthenticationError
from privacy.envelope import SealedRecord

OpenRow = Callable[[str, SealedRecord], bytes]
TermOf = Callable[[str, SealedRecord], bytes]


def salvage_scan(
    rows: list[Row], lost: bool, *, open_row: OpenRow, term_of: TermOf, expected: bytes
) -> ScanResult:
    """A ScanResult over ``rows``: what authenticates, what does not, and the digest check.

    A table that lost rows to the damage cannot match its digest, whatever was read.
    """
    records: list[tuple[str, bytes]] = []
    bad_ids: list[str] = []
    digest = integrity.EMPTY_DIGEST
    for record_id, sealed in rows:
        digest = integrity.xor(digest, term_of(record_id, sealed))
        try:
            records.append((record_id, open_row(record_id, sealed)))
        except AuthenticationError:
            bad_ids.append(record_id)
    return ScanResult(records=records, bad_ids=bad_ids, digest_ok=not lost and digest == expected)
