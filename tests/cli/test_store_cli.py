"""The `fedpersona store` commands as a user runs them: real processes, real exit codes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from client.memory import MemoryItem, Turn
from client.persona import AttributeKind
from client.profile import Profile
from simulation.store_tour import run_store_tour
from tests.conftest import PASSPHRASE, cli_env, fast_kdf, init_store_cli, run_cli


def _store_args(path: Path) -> tuple[str, ...]:
    return ("--store", str(path), "--passphrase-env", "FP_PASS")


def _populated(path: Path) -> tuple[str, str]:
    with Profile.create(path, PASSPHRASE, kdf=fast_kdf()) as profile:
        first = profile.memory.remember(MemoryItem(text="grew up by the sea", kind="fact"))
        second = profile.memory.remember(MemoryItem(text="sails on weekends", links=(first.id,)))
        profile.memory.add_turn(Turn(session_id="s1", role="user", text="I sail a lot"))
        profile.persona.observe("interests", "sailing", "dinghy", evidence=(second.id,))
        profile.persona.observe("interests", "sailing", "keelboat", evidence=(second.id,))
        profile.persona.observe("demographics", "birth_year", 1988, kind=AttributeKind.CORE)
        return first.id, second.id


def test_export_then_import_moves_everything_to_a_new_device(tmp_path):
    old, new = tmp_path / "old.fpstore", tmp_path / "new.fpstore"
    _populated(old)
    export_file = tmp_path / "export.json"

    exported = run_cli(
        "store", "export", *_store_args(old), "--out", str(export_file), env=cli_env()
    )
    init_store_cli(new)
    imported = run_cli("store", "import", str(export_file), *_store_args(new), env=cli_env())
    re_exported = run_cli("store", "export", *_store_args(new), env=cli_env())

    assert exported.returncode == 0, exported.stderr
    assert imported.returncode == 0, imported.stderr
    assert export_file.stat().st_mode & 0o077 == 0
    before, after = json.loads(export_file.read_text()), json.loads(re_exported.stdout)
    assert after["profile"] == {
        "interests": {"sailing": "keelboat"},
        "demographics": {"birth_year": 1988},
    }
    for section in ("persona", "turns", "summaries", "memories", "training_pairs"):
        assert after[section] == before[section]
    sailing = next(a for a in after["persona"] if a["name"] == "sailing")
    assert [h["value"] for h in sailing["history"]] == ["dinghy"]


def test_import_of_malformed_file_exits_2_and_changes_nothing(tmp_path):
    store = tmp_path / "s.fpstore"
    init_store_cli(store)
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json")
    bad_shape = tmp_path / "shape.json"
    bad_shape.write_text(
        json.dumps(
            {"format": "fedpersona-export", "version": 1, "memories": [{"id": "x", "text": 5}]}
        )
    )

    results = [
        run_cli("store", "import", str(f), *_store_args(store), env=cli_env())
        for f in (bad_json, bad_shape)
    ]

    assert [r.returncode for r in results] == [2, 2]
    assert "not valid JSON" in results[0].stderr
    assert "memories[0]" in results[1].stderr
    with Profile.open(store, PASSPHRASE) as profile:
        assert set(profile.counts().values()) == {0}


def test_import_into_a_non_empty_store_is_refused(tmp_path):
    store = tmp_path / "s.fpstore"
    _populated(store)
    export = run_cli("store", "export", *_store_args(store), env=cli_env())

    result = run_cli(
        "store", "import", "-", *_store_args(store), env=cli_env(), stdin=export.stdout
    )

    assert result.returncode == 2
    assert "empty store" in result.stderr


def test_forget_commands_and_status_counts(tmp_path):
    store = tmp_path / "s.fpstore"
    first_id, _ = _populated(store)

    item = run_cli("store", "forget", "--item", first_id, *_store_args(store), env=cli_env())
    category = run_cli(
        "store", "forget", "--category", "interests", *_store_args(store), env=cli_env()
    )
    unknown = run_cli("store", "forget", "--item", "nope", *_store_args(store), env=cli_env())
    refused = run_cli("store", "forget", "--everything", *_store_args(store), env=cli_env())
    status = run_cli("store", "status", "--json", *_store_args(store), env=cli_env())

    assert item.returncode == 0, item.stderr
    assert "forgot 1 record(s) from memories" in item.stdout
    assert category.returncode == 0
    assert unknown.returncode == 2
    assert refused.returncode == 2
    assert "--yes" in refused.stderr
    info = json.loads(status.stdout)
    assert info["records"]["memories"] == 1
    assert info["records"]["persona_attributes"] == 1
    assert info["integrity"] == "ok"

    everything = run_cli(
        "store", "forget", "--everything", "--yes", *_store_args(store), env=cli_env()
    )
    assert everything.returncode == 0
    after = json.loads(
        run_cli("store", "status", "--json", *_store_args(store), env=cli_env()).stdout
    )
    assert set(after["records"].values()) == {0}


def test_passwd_changes_passphrase_and_raises_kdf_cost(tmp_path):
    store = tmp_path / "s.fpstore"
    _populated(store)

    changed = run_cli(
        "store",
        "passwd",
        *_store_args(store),
        "--new-passphrase-env",
        "NEW",
        "--kdf-memory-mib",
        "16",
        env=cli_env(NEW="brand new"),
    )
    old = run_cli("store", "status", *_store_args(store), env=cli_env())
    new = run_cli(
        "store",
        "status",
        "--json",
        "--store",
        str(store),
        "--passphrase-env",
        "NEW",
        env=cli_env(NEW="brand new"),
    )
    lowered = run_cli(
        "store",
        "passwd",
        "--store",
        str(store),
        "--passphrase-env",
        "NEW",
        "--new-passphrase-env",
        "NEW",
        "--kdf-memory-mib",
        "8",
        env=cli_env(NEW="brand new"),
    )

    assert changed.returncode == 0, changed.stderr
    assert old.returncode == 2
    assert new.returncode == 0
    assert json.loads(new.stdout)["kdf"]["memory_kib"] == 16 * 1024
    assert lowered.returncode == 2
    assert "only be raised" in lowered.stderr


def test_export_skip_damaged_writes_the_rest_and_exits_3(tmp_path):
    store = tmp_path / "s.fpstore"
    first_id, second_id = _populated(store)
    conn = sqlite3.connect(store)
    conn.execute("UPDATE memories SET ciphertext = zeroblob(60) WHERE id = ?", (first_id,))
    conn.commit()
    conn.close()

    strict = run_cli("store", "export", *_store_args(store), env=cli_env())
    salvage = run_cli("store", "export", "--skip-damaged", *_store_args(store), env=cli_env())

    assert strict.returncode == 3
    assert salvage.returncode == 3
    document = json.loads(salvage.stdout)
    assert [m["id"] for m in document["memories"]] == [second_id]
    assert document["damaged"]["ids"] == [first_id]


def test_store_tour_passes_its_own_checks(tmp_path):
    lines: list[str] = []

    result = run_store_tour(tmp_path / "tour", say=lines.append)

    assert result["plaintext_occurrences"] == 0
    assert result["old_passphrase_unlocks"] is False
    assert result["forgotten_key_occurrences"] == 0
    assert result["integrity_ok"] is True
    assert len(lines) >= 7
