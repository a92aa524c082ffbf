"""Bad input gets a clear error and loses nothing: passphrases, tampering, kills, two writers."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from client.memory import MemoryItem
from client.profile import Profile
from client.store import TamperedRecordsError, TamperedStoreError
from tests.conftest import (
    PASSPHRASE,
    REPO_ROOT,
    cli_env,
    fast_kdf,
    init_store_cli,
    run_cli,
)


def _fill(path: Path, count: int = 5) -> list[str]:
    with Profile.create(path, PASSPHRASE, kdf=fast_kdf()) as profile:
        ids = [profile.memory.remember(MemoryItem(text=f"memory {i}")).id for i in range(count)]
        profile.store.shred_residue()  # move everything into the main file
    return ids


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _raw_update(path: Path, sql: str, params: tuple[object, ...] = ()) -> None:
    """Edit the file the way an attacker with the file (but no key) could."""
    conn = sqlite3.connect(path)
    conn.execute(sql, params)
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def test_wrong_passphrase_exits_2_with_one_line_and_leaves_file_untouched(store_path):
    init_store_cli(store_path)
    before = _digest(store_path)
    mtime = store_path.stat().st_mtime_ns

    result = run_cli(
        "store",
        "status",
        "--store",
        str(store_path),
        "--passphrase-env",
        "WRONG",
        env=cli_env(WRONG="not the passphrase"),
    )

    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "wrong passphrase" in result.stderr
    assert _digest(store_path) == before
    assert store_path.stat().st_mtime_ns == mtime


def test_missing_store_and_missing_variable_exit_2(tmp_path):
    missing = run_cli(
        "store",
        "status",
        "--store",
        str(tmp_path / "none.fpstore"),
        "--passphrase-env",
        "FP_PASS",
        env=cli_env(),
    )
    no_var = run_cli(
        "store",
        "status",
        "--store",
        str(tmp_path / "none.fpstore"),
        "--passphrase-env",
        "NOT_SET_ANYWHERE",
    )

    assert missing.returncode == 2
    assert "no store at" in missing.stderr
    assert no_var.returncode == 2
    assert "NOT_SET_ANYWHERE is not set" in no_var.stderr


def test_tamper_flipped_byte_in_file_is_reported_and_other_records_stay_readable(store_path):
    ids = _fill(store_path)
    with Profile.open(store_path, PASSPHRASE) as profile:
        sealed = profile.store.tables["memories"].sealed(ids[2])
    assert sealed is not None
    raw = bytearray(store_path.read_bytes())
    offset = raw.find(sealed.ciphertext)
    assert offset > 0
    raw[offset + 20] ^= 0x40
    store_path.write_bytes(bytes(raw))

    with Profile.open(store_path, PASSPHRASE) as profile:
        with pytest.raises(TamperedRecordsError) as caught:
            profile.memory.get(ids[2])
        assert caught.value.bad_ids == (ids[2],)
        with pytest.raises(TamperedRecordsError):
            profile.memory.items()  # a listing never silently drops the bad one
        for other in ids[:2] + ids[3:]:
            assert profile.memory.get(other) is not None
        report = profile.store.verify()
        assert report.bad_ids["memories"] == [ids[2]]

    status = run_cli(
        "store", "status", "--store", str(store_path), "--passphrase-env", "FP_PASS", env=cli_env()
    )
    assert status.returncode == 3
    assert "damaged" in status.stdout


def test_tamper_swapped_records_fail_authentication(store_path):
    ids = _fill(store_path)
    conn = sqlite3.connect(store_path)
    rows = {r[0]: r[1:] for r in conn.execute("SELECT id, wrapped_key, ciphertext FROM memories")}
    conn.close()
    for target, source in ((ids[0], ids[1]), (ids[1], ids[0])):
        _raw_update(
            store_path,
            "UPDATE memories SET wrapped_key = ?, ciphertext = ? WHERE id = ?",
            (*rows[source], target),
        )

    with Profile.open(store_path, PASSPHRASE) as profile:
        for swapped in ids[:2]:
            with pytest.raises(TamperedRecordsError):
                profile.memory.get(swapped)
        assert profile.memory.get(ids[2]) is not None


def test_tamper_deleted_row_is_detected_not_silently_dropped(store_path):
    ids = _fill(store_path)
    _raw_update(store_path, "DELETE FROM memories WHERE id = ?", (ids[1],))

    with Profile.open(store_path, PASSPHRASE) as profile:
        with pytest.raises(TamperedRecordsError, match="do not match its digest"):
            profile.memory.items()
        assert profile.store.verify().digest_mismatch == ["memories"]


def test_tamper_replayed_old_version_is_detected(profile):
    item = profile.memory.remember(MemoryItem(text="version 1"))
    table = profile.store.tables["memories"]
    old = table.sealed(item.id)
    profile.memory.restore_items([MemoryItem(text="version 2", id=item.id)])
    assert old is not None
    conn = sqlite3.connect(profile.store.path)
    conn.execute(
        "UPDATE memories SET wrapped_key = ?, ciphertext = ? WHERE id = ?",
        (old.wrapped_key, old.ciphertext, item.id),
    )
    conn.commit()
    conn.close()

    with pytest.raises(TamperedRecordsError, match="digest"):
        profile.memory.items()


def test_tamper_truncated_file_is_reported_with_exit_3(store_path):
    _fill(store_path, count=200)
    size = store_path.stat().st_size
    with store_path.open("r+b") as handle:
        handle.truncate(size // 2)

    result = run_cli(
        "store", "export", "--store", str(store_path), "--passphrase-env", "FP_PASS", env=cli_env()
    )

    assert result.returncode == 3
    assert result.stderr.startswith("fedpersona: ")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("setting", "value"), [("memory_kib", 2**31), ("iterations", 10**9), ("lanes", 2**20)]
)
def test_a_header_asking_for_an_absurd_key_derivation_is_refused_before_deriving(
    store_path, setting, value
):
    # An attacker with the file can also fix the header's unkeyed checksum: the KDF settings
    # themselves must be checked, or unlocking would hang for hours or ask for terabytes.
    _fill(store_path)
    conn = sqlite3.connect(store_path)
    header = dict(conn.execute("SELECT name, value FROM header"))
    conn.close()
    kdf = json.loads(header["kdf"])
    kdf[setting] = value
    kdf_json = json.dumps(kdf, sort_keys=True)
    checksum = hashlib.sha256(
        "\0".join(
            (header["format"], header["schema_version"], kdf_json, header["wrapped_index_key"])
        ).encode()
    ).hexdigest()
    _raw_update(store_path, "UPDATE header SET value = ? WHERE name = 'kdf'", (kdf_json,))
    _raw_update(
        store_path, "UPDATE header SET value = ? WHERE name = 'header_checksum'", (checksum,)
    )

    result = run_cli(
        "store", "status", "--store", str(store_path), "--passphrase-env", "FP_PASS", env=cli_env()
    )

    assert result.returncode == 3
    assert "key-derivation settings" in result.stderr
    assert setting.split("_")[0] in result.stderr.lower()
    assert "Traceback" not in result.stderr


def test_tamper_header_or_foreign_file_is_reported_with_exit_3(store_path, tmp_path):
    _fill(store_path)
    _raw_update(store_path, "UPDATE header SET value = '{}' WHERE name = 'kdf'")
    not_a_store = tmp_path / "random.fpstore"
    not_a_store.write_bytes(os.urandom(4096))

    edited = run_cli(
        "store", "status", "--store", str(store_path), "--passphrase-env", "FP_PASS", env=cli_env()
    )
    foreign = run_cli(
        "store", "status", "--store", str(not_a_store), "--passphrase-env", "FP_PASS", env=cli_env()
    )

    assert edited.returncode == 3
    assert "header was altered" in edited.stderr
    assert foreign.returncode == 3
    assert "not a fedpersona store" in foreign.stderr
    with pytest.raises(TamperedStoreError):
        Profile.open(not_a_store, PASSPHRASE)


def _start_writer(path: Path, prefix: str, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.client.store_writer", str(path), prefix, str(count)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )


@pytest.mark.parametrize("returned_before_kill", [1, 17, 60])
def test_sigkill_mid_write_keeps_every_returned_write(store_path, returned_before_kill):
    _fill(store_path, count=0)
    writer = _start_writer(store_path, "killed", 10_000)
    assert writer.stdout is not None
    returned = [writer.stdout.readline().strip() for _ in range(returned_before_kill)]
    writer.send_signal(signal.SIGKILL)  # while it is in the middle of further writes
    writer.wait(timeout=30)
    returned += writer.stdout.read().split()  # writes that returned before the kill landed

    with Profile.open(store_path, PASSPHRASE) as profile:
        report = profile.store.verify()
        items = {item.id: item for item in profile.memory.items()}

    assert report.ok, report
    for record_id in returned:
        assert record_id in items
        assert items[record_id].text.startswith("killed memory")
    # At most the one write in flight when the kill came may have landed beyond what returned.
    assert len(returned) <= len(items) <= len(returned) + 1


def test_two_processes_writing_at_once_lose_nothing(store_path):
    _fill(store_path, count=0)
    writers = [_start_writer(store_path, name, 60) for name in ("alice", "bob")]
    outputs = [writer.communicate(timeout=300) for writer in writers]

    assert [w.returncode for w in writers] == [0, 0], [err for _, err in outputs]
    written = [line for out, _ in outputs for line in out.split()]
    with Profile.open(store_path, PASSPHRASE) as profile:
        report = profile.store.verify()
        stored = {item.id for item in profile.memory.items()}
    assert report.ok, report
    assert len(written) == 120
    assert stored == set(written)
