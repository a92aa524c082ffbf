"""The per-unlock data-key cache: faster repeat reads, the same tamper detection."""

import sqlite3
from pathlib import Path

import pytest

from client.profile import Profile
from client.store import TamperedRecordsError
from tests.conftest import PASSPHRASE, fast_kdf


def _row(path: Path, record_id: str) -> tuple[bytes, bytes]:
    with sqlite3.connect(path) as conn:
        wrapped, body = conn.execute(
            "SELECT wrapped_key, ciphertext FROM turns WHERE id = ?", (record_id,)
        ).fetchone()
    return bytes(wrapped), bytes(body)


def _set_row(path: Path, record_id: str, wrapped: bytes, body: bytes) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE turns SET wrapped_key = ?, ciphertext = ? WHERE id = ?",
            (wrapped, body, record_id),
        )


def _flip_last(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 1])


@pytest.fixture
def table_with_one_read(store_path):
    profile = Profile.create(store_path, PASSPHRASE, kdf=fast_kdf())
    table = profile.store.tables["turns"]
    table.put("r1", b"first version")
    assert table.get("r1") == b"first version"  # its key is now remembered
    yield profile, table
    profile.close()


def test_a_cached_key_still_refuses_an_altered_wrapped_key(store_path, table_with_one_read):
    _, table = table_with_one_read
    wrapped, body = _row(store_path, "r1")
    _set_row(store_path, "r1", _flip_last(wrapped), body)

    with pytest.raises(TamperedRecordsError):
        table.get("r1")


def test_a_cached_key_still_refuses_an_altered_body(store_path, table_with_one_read):
    _, table = table_with_one_read
    wrapped, body = _row(store_path, "r1")
    _set_row(store_path, "r1", wrapped, _flip_last(body))

    with pytest.raises(TamperedRecordsError):
        table.get("r1")
    with pytest.raises(TamperedRecordsError):
        table.scan()


def test_a_replayed_old_version_fails_the_scan_after_cached_reads(store_path, table_with_one_read):
    _, table = table_with_one_read
    old = _row(store_path, "r1")
    table.put("r1", b"second version")
    assert table.scan().records == [("r1", b"second version")]  # key and digest term cached

    _set_row(store_path, "r1", *old)

    with pytest.raises(TamperedRecordsError) as raised:
        table.scan()
    assert raised.value.table_digest_mismatch == ("turns",)


def test_repeat_reads_return_what_was_written_last(table_with_one_read):
    _, table = table_with_one_read
    table.put("r1", b"second version")

    assert table.get("r1") == b"second version"
    assert table.scan().records == [("r1", b"second version")]


def test_deleting_and_locking_drop_the_unwrapped_keys(table_with_one_read):
    profile, table = table_with_one_read
    table.put("r2", b"kept")
    assert table.get("r2") == b"kept"
    assert len(table._keys) == 2

    table.delete(["r1"])
    assert len(table._keys) == 1

    profile.close()
    assert len(table._keys) == 0
