"""Issue 12, the store: every bad input is one line with its exit code, and nothing is lost."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from cli import store_commands
from client.memory import MemoryItem, Turn
from client.persona import AttributeKind
from client.profile import Profile
from client.store import EncryptedStore
from client.store.errors import KeyChangedError
from tests.cli.cli_harness import (
    as_unprivileged,
    digest,
    file_size_limit,
    one_line,
    run_cli_process,
    run_main,
)
from tests.conftest import PASSPHRASE, cli_env, fast_kdf

KEY = ("--passphrase-env", "FP_PASS")


def _args(store: Path) -> tuple[str, ...]:
    return ("--store", str(store), *KEY)


def _empty_store(path: Path) -> Path:
    Profile.create(path, PASSPHRASE, kdf=fast_kdf()).close()
    return path


def _turn(i: int) -> dict[str, Any]:
    return {"id": f"t{i}", "session_id": "s", "role": "user", "text": f"turn {i}", "at": i}


def _attribute(i: int, name: str | None = None) -> dict[str, Any]:
    return {
        "category": "preferences",
        "name": name or f"likes_{i}",
        "value": i,
        "kind": "dynamic",
        "confidence": 0.5,
        "evidence": [],
        "first_seen": 1.0,
        "last_updated": 1.0,
        "value_since": 1.0,
        "history": [],
    }


def _pair(pair_id: str) -> dict[str, Any]:
    return {
        "id": pair_id,
        "context": "c",
        "candidates": ["a", "b"],
        "chosen": 0,
        "signal": "picked",
        "weight": 1.0,
        "session_id": None,
        "created_at": 1.0,
    }


def _document(**sections: list[dict[str, Any]]) -> dict[str, Any]:
    return {"format": "fedpersona-export", "version": 1, **sections}


def _import(store: Path, document: object, tmp_path: Path) -> Any:
    file = tmp_path / "import.json"
    file.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return run_main(["store", "import", str(file), *_args(store)], cli_env())


def _counts(store: Path) -> dict[str, int]:
    with Profile.open(store, PASSPHRASE) as profile:
        return profile.counts()


# --- silent loss -------------------------------------------------------------------------


def test_import_of_more_turns_than_the_ring_keeps_is_refused_and_stores_nothing(tmp_path):
    store = _empty_store(tmp_path / "s.fpstore")

    result = _import(store, _document(turns=[_turn(i) for i in range(80)]), tmp_path)

    assert result.code == 2
    assert one_line(result.stderr)
    assert "80 turns" in result.stderr
    assert "50" in result.stderr
    assert set(_counts(store).values()) == {0}


@pytest.mark.parametrize(
    ("sections", "repeated"),
    [
        ({"persona": [_attribute(i) for i in range(19)] + [_attribute(0)]}, "likes_0"),
        ({"training_pairs": [_pair(f"p{i}") for i in range(4)] + [_pair("p1")]}, "p1"),
        ({"turns": [_turn(1)], "training_pairs": [_pair("t1")]}, "t1"),
    ],
)
def test_import_with_a_repeated_id_is_refused_not_half_kept(tmp_path, sections, repeated):
    store = _empty_store(tmp_path / "s.fpstore")

    result = _import(store, _document(**sections), tmp_path)

    assert result.code == 2
    assert one_line(result.stderr)
    assert repeated in result.stderr
    assert set(_counts(store).values()) == {0}


def test_import_reports_exactly_what_the_store_then_holds(tmp_path):
    store = _empty_store(tmp_path / "s.fpstore")
    document = _document(
        persona=[_attribute(i) for i in range(20)],
        turns=[_turn(i) for i in range(50)],
        training_pairs=[_pair(f"p{i}") for i in range(5)],
    )

    result = _import(store, document, tmp_path)

    assert result.code == 0, result.stderr
    assert "20 persona, 50 turns, 0 summaries, 0 memories, 5 training_pairs" in result.stdout
    counts = _counts(store)
    assert (counts["persona_attributes"], counts["turns"], counts["training_pairs"]) == (20, 50, 5)


def test_export_onto_an_existing_readable_file_replaces_it_owner_only(tmp_path):
    store = _empty_store(tmp_path / "s.fpstore")
    target = tmp_path / "me.json"
    target.write_text("old contents")
    target.chmod(0o644)
    old_inode = target.stat().st_ino

    result = run_main(["store", "export", *_args(store), "--out", str(target)], cli_env())

    assert result.code == 0, result.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.stat().st_ino != old_inode  # a new file renamed over it, not rewritten
    assert json.loads(target.read_text())["format"] == "fedpersona-export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["me.json", "s.fpstore"]


def test_two_passphrase_changes_at_once_the_later_one_is_refused(tmp_path):
    store = _empty_store(tmp_path / "s.fpstore")
    first = EncryptedStore.open(store, PASSPHRASE)
    second = EncryptedStore.open(store, PASSPHRASE)  # both unlocked before either changes

    first.change_passphrase("first new")
    with pytest.raises(KeyChangedError):
        second.change_passphrase("second new")
    first.close()
    second.close()

    EncryptedStore.open(store, "first new").close()


def test_passwd_that_loses_a_race_exits_4_and_the_winners_passphrase_works(tmp_path, monkeypatch):
    store = _empty_store(tmp_path / "s.fpstore")
    real_read = store_commands.read_passphrase

    def meanwhile_another_passwd(env_name: str | None, prompt: str, **kw: bool) -> str:
        # While this command waits for its new passphrase, another one changes it.
        if prompt.startswith("New"):
            with EncryptedStore.open(store, PASSPHRASE) as other:
                other.change_passphrase("winner")
        return real_read(env_name, prompt, **kw)

    monkeypatch.setattr(store_commands, "read_passphrase", meanwhile_another_passwd)

    result = run_main(
        ["store", "passwd", *_args(store), "--new-passphrase-env", "NEW"], cli_env(NEW="loser")
    )

    assert result.code == 4
    assert one_line(result.stderr)
    assert "another process" in result.stderr
    EncryptedStore.open(store, "winner").close()


# --- one line instead of a traceback -----------------------------------------------------


def test_a_store_path_under_a_regular_file_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")

    result = run_main(
        ["store", "init", "--store", str(blocker / "s.fpstore"), *KEY, "--kdf-memory-mib", "8"],
        cli_env(),
    )

    assert result.code == 2
    assert one_line(result.stderr)
    assert str(blocker) in result.stderr


@pytest.mark.parametrize("where", ["missing/out.json", "a-folder"])
def test_export_into_a_missing_folder_or_onto_a_folder_is_one_line(tmp_path, where):
    store = _empty_store(tmp_path / "s.fpstore")
    (tmp_path / "a-folder").mkdir()

    result = run_main(["store", "export", *_args(store), "--out", str(tmp_path / where)], cli_env())

    assert result.code == 2
    assert one_line(result.stderr)


@pytest.mark.parametrize(
    "kdf", [["--kdf-memory-mib", "10000000"], ["--kdf-iterations", "10000000"]]
)
def test_kdf_costs_no_machine_can_pay_are_refused_before_any_work(tmp_path, kdf):
    result = run_main(
        ["store", "init", "--store", str(tmp_path / "s.fpstore"), *KEY, *kdf], cli_env()
    )

    assert result.code == 2
    assert one_line(result.stderr)
    assert not (tmp_path / "s.fpstore").exists()


def _deep(depth: int) -> str:
    return (
        '{"format": "fedpersona-export", "version": 1, "persona": '
        + "[" * depth
        + "]" * depth
        + "}"
    )


@pytest.mark.parametrize(
    "document",
    [
        json.dumps(_document(persona=[{**_attribute(1), "history": ["oops"]}])),
        json.dumps(_document(turns=[{**_turn(1), "at": 10**400}])),
        json.dumps(_document(turns=[_turn(1)])).replace('"at": 1', '"at": 1' + "0" * 4999),
        _deep(100_000),
        json.dumps(_document(turns=[_turn(1)])).replace('"at": 1', '"at": NaN'),
        json.dumps(_document(turns=[{**_turn(1), "text": "\ud800"}])),
        json.dumps(
            _document(
                memories=[
                    {
                        "id": "m",
                        "text": "t",
                        "kind": "fact",
                        "links": [5],
                        "created_at": 1,
                        "updated_at": 1,
                    }
                ]
            )
        ),
        json.dumps(
            _document(
                memories=[
                    {
                        "id": "m",
                        "text": "t",
                        "kind": "fact",
                        "links": [],
                        "embedding": [[1.0, 2.0]],
                        "created_at": 1,
                        "updated_at": 1,
                    }
                ]
            )
        ),
        json.dumps({**_document(), "memorys": []}),
    ],
    ids=[
        "history-not-objects",
        "timestamp-10e400",
        "5000-digit-integer",
        "100000-deep",
        "nan",
        "lone-surrogate",
        "link-not-text",
        "embedding-2d",
        "unknown-section",
    ],
)
def test_malformed_import_documents_are_one_line_and_store_nothing(tmp_path, document):
    store = _empty_store(tmp_path / "s.fpstore")
    before = digest(store)

    result = _import(store, document, tmp_path)

    assert result.code == 2, result.stderr
    assert one_line(result.stderr), result.stderr
    assert digest(store) == before


# --- read-only file or folder ------------------------------------------------------------


def _store_with_records(path: Path, memories: int = 3) -> Path:
    with Profile.create(path, PASSPHRASE, kdf=fast_kdf()) as profile:
        profile.persona.observe("preferences", "tea", "green", kind=AttributeKind.DYNAMIC)
        for i in range(memories):
            profile.memory.remember(MemoryItem(text=f"memory {i} " + "x" * 200))
        profile.store.shred_residue()
    return path


def test_a_read_only_folder_still_reads_and_refuses_writes_as_read_only(tmp_path):
    folder = tmp_path / "ro"
    store = _store_with_records(folder / "s.fpstore")
    folder.chmod(0o555)
    user = as_unprivileged()

    status = run_cli_process("store", "status", *_args(store), env=cli_env(), **user)
    forget = run_cli_process(
        "store", "forget", "--everything", "--yes", *_args(store), env=cli_env(), **user
    )
    init = run_cli_process(
        "store", "init", "--store", str(folder / "new.fpstore"), *KEY,
        "--kdf-memory-mib", "8", env=cli_env(), **user,
    )  # fmt: skip
    folder.chmod(0o755)

    assert status.returncode == 0, status.stderr
    assert "integrity  ok" in status.stdout
    assert forget.returncode == 5
    assert one_line(forget.stderr)
    assert "read-only" in forget.stderr
    assert init.returncode == 5
    assert one_line(init.stderr)
    assert "permission denied" in init.stderr
    assert _counts(store)["memories"] == 3


def test_a_read_only_store_file_says_read_only_not_damaged(tmp_path):
    store = _store_with_records(tmp_path / "s.fpstore")
    store.chmod(0o444)
    user = as_unprivileged()

    status = run_cli_process("store", "status", *_args(store), env=cli_env(), **user)
    forget = run_cli_process(
        "store", "forget", "--tier", "memories", *_args(store), env=cli_env(), **user
    )

    assert status.returncode == 0, status.stderr
    assert forget.returncode == 5
    assert one_line(forget.stderr)
    assert "read-only" in forget.stderr
    assert "damaged" not in forget.stderr
    assert _counts(store)["memories"] == 3


# --- a full disk -------------------------------------------------------------------------


def _big_import(tmp_path: Path) -> Path:
    file = tmp_path / "big.json"
    memories = [
        {"id": f"m{i}", "text": "y" * 2000, "kind": "fact", "links": [], "created_at": 1,
         "updated_at": 1}
        for i in range(100)
    ]  # fmt: skip
    file.write_text(json.dumps(_document(memories=memories)))
    return file


@pytest.mark.parametrize("command", ["import", "passwd", "forget"])
def test_a_full_disk_is_one_line_and_leaves_the_store_as_it_was(tmp_path, command):
    store = _store_with_records(tmp_path / "s.fpstore", memories=0 if command == "import" else 60)
    before = digest(store)
    arguments = {
        "import": ["import", str(_big_import(tmp_path))],
        "passwd": ["passwd", "--new-passphrase-env", "NEW"],
        "forget": ["forget", "--everything", "--yes"],
    }[command]
    if command == "import":
        with Profile.open(store, PASSPHRASE) as profile:
            profile.forget_everything()
        before = digest(store)
    # No file may grow past 40 KiB: the store's write-ahead log hits it as it would a full disk.
    limit = file_size_limit(40 * 1024)

    result = run_cli_process(
        "store", *arguments[:1], *_args(store), *arguments[1:],
        env=cli_env(NEW="new passphrase"), preexec_fn=limit,
    )  # fmt: skip

    assert result.returncode == 5, result.stderr
    assert one_line(result.stderr), result.stderr
    assert "nothing was changed" in result.stderr
    assert digest(store) == before
    EncryptedStore.open(store, PASSPHRASE).close()  # the old passphrase still works


# --- a partly truncated file -------------------------------------------------------------


def test_a_truncated_store_reports_damage_and_exports_every_record_that_authenticates(tmp_path):
    store = tmp_path / "s.fpstore"
    with Profile.create(store, PASSPHRASE, kdf=fast_kdf()) as profile:
        for i in range(5):
            profile.persona.observe("preferences", f"thing_{i}", i)
            profile.memory.add_turn(Turn(session_id="s", role="user", text=f"turn {i}"))
        for i in range(200):
            profile.memory.remember(MemoryItem(text=f"memory {i}"))
        profile.store.shred_residue()
    with store.open("r+b") as handle:
        handle.truncate(store.stat().st_size // 2)

    status = run_main(["store", "status", *_args(store)], cli_env())
    salvage = run_main(["store", "export", "--skip-damaged", *_args(store)], cli_env())

    assert status.code == 3, status.stderr
    assert "integrity  damaged" in status.stdout
    assert "persona_attributes 5" in " ".join(status.stdout.split())
    assert salvage.code == 3, salvage.stderr
    document = json.loads(salvage.stdout)
    assert sorted(a["name"] for a in document["persona"]) == [f"thing_{i}" for i in range(5)]
    assert [t["text"] for t in document["turns"]] == [f"turn {i}" for i in range(5)]
    assert "memories" in document["damaged"]["tables"]
    assert one_line(salvage.stderr)


def test_forgetting_in_a_truncated_store_says_damaged_and_changes_nothing(tmp_path):
    store = tmp_path / "s.fpstore"
    with Profile.create(store, PASSPHRASE, kdf=fast_kdf()) as profile:
        for i in range(200):
            profile.memory.remember(MemoryItem(text=f"memory {i}"))
        profile.store.shred_residue()
    with store.open("r+b") as handle:
        handle.truncate(store.stat().st_size // 2)
    before = digest(store)

    result = run_main(["store", "forget", "--tier", "turns", *_args(store)], cli_env())

    assert result.code == 3
    assert one_line(result.stderr)
    assert "damaged" in result.stderr
    assert digest(store) == before
    assert os.path.getsize(store) > 0


def test_the_demo_never_deletes_a_folder_that_is_not_an_earlier_tour(tmp_path):
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")

    result = run_main(["demo", "--out", str(precious)])

    assert result.code == 2
    assert one_line(result.stderr)
    assert (precious / "thesis.tex").read_text() == "years of work"


def test_export_into_a_device_writes_into_it_and_leaves_the_device_in_place(tmp_path):
    store = _empty_store(tmp_path / "s.fpstore")

    result = run_main(["store", "export", *_args(store), "--out", os.devnull], cli_env())

    assert result.code == 0, result.stderr
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
