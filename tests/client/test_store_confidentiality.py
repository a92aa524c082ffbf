"""Plaintext never touches disk, and forgetting destroys the key (crypto-shredding)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

from client.memory import MemoryItem, SessionSummary, Turn
from client.profile import Profile
from client.training_pairs import Signal, TrainingPair
from tests.client.store_writer import spawn_script
from tests.conftest import PASSPHRASE, fast_kdf, store_files

MARKER = "zebra-quartz-7731 secret"
# Written from a separate process with TMPDIR pointing into the test folder, so temp files
# SQLite or Python might create are searched too.
WRITER = f"""
import sys
import numpy as np
from pathlib import Path
from client.memory import MemoryItem, SessionSummary, Turn
from client.persona import AttributeKind
from client.profile import Profile
from client.training_pairs import Signal, TrainingPair
from tests.conftest import PASSPHRASE, fast_kdf
path = Path(sys.argv[1])
marker = {MARKER!r}
profile = Profile.create(path, PASSPHRASE, kdf=fast_kdf())
item = profile.memory.remember(MemoryItem(text=marker + " memory",
    embedding=np.full(384, 1234.5, dtype=np.float32)))
profile.memory.add_turn(Turn(session_id="s", role="user", text=marker + " turn"))
profile.memory.add_summary(SessionSummary(session_id="s", text=marker + " summary"))
profile.persona.observe("preferences", marker, marker + " value", kind=AttributeKind.CORE)
profile.training.add(TrainingPair(context=marker, candidates=(marker + " reply",), chosen=0,
                                  signal=Signal.PICKED))
print("written", flush=True)
if sys.argv[2] == "keep-open":
    sys.stdin.readline()  # hold the store open so the WAL is not checkpointed yet
profile.close()
"""


def _run_writer(store_path: Path, tmp_dir: Path, mode: str) -> subprocess.Popen[str]:
    return spawn_script(WRITER, [str(store_path), mode], tmp_dir)


def _every_file(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def _needles() -> list[bytes]:
    return [
        MARKER.encode(),
        MARKER.encode("utf-16-le"),
        np.full(4, 1234.5, dtype=np.float32).tobytes(),
    ]


def test_no_plaintext_in_database_wal_or_temp_files(tmp_path):
    store_path = tmp_path / "device" / "user.fpstore"
    temp_dir = tmp_path / "tmp"
    temp_dir.mkdir()
    writer = _run_writer(store_path, temp_dir, "keep-open")
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "written"

    open_files = _every_file(tmp_path)  # while open: main file, WAL, shared memory
    assert any(p.name.endswith("-wal") and p.stat().st_size > 0 for p in open_files)
    contents_open = [p.read_bytes() for p in open_files]
    writer.communicate("\n", timeout=60)
    contents_closed = [p.read_bytes() for p in _every_file(tmp_path)]

    for content in contents_open + contents_closed:
        for needle in _needles():
            assert needle not in content
    # Control: the same text in a plain file is found, so the search itself works.
    (tmp_path / "control.txt").write_text(MARKER)
    assert any(_needles()[0] in p.read_bytes() for p in _every_file(tmp_path))


def test_crypto_shred_forget_item_leaves_no_key_even_in_a_copy_taken_afterwards(
    profile, store_path, tmp_path
):
    keep = profile.memory.remember(MemoryItem(text="keep"))
    doomed = profile.memory.remember(MemoryItem(text=MARKER, links=(keep.id,)))
    profile.persona.observe("interests", "x", "y", evidence=(doomed.id, keep.id))
    sealed = profile.store.tables["memories"].sealed(doomed.id)
    assert sealed is not None
    on_disk_before = b"".join(p.read_bytes() for p in store_files(store_path))
    assert sealed.wrapped_key in on_disk_before  # control: the key was on disk

    forgotten = profile.forget_item(doomed.id)

    copy_dir = tmp_path / "copy-after-forget"
    copy_dir.mkdir()
    for path in store_files(store_path):
        shutil.copy(path, copy_dir / path.name)
    on_disk_after = b"".join(p.read_bytes() for p in copy_dir.iterdir())
    assert forgotten.residue_flushed
    assert sealed.wrapped_key not in on_disk_after
    assert sealed.ciphertext not in on_disk_after
    kept = profile.memory.get(keep.id)
    assert kept is not None
    assert kept.links == ()
    attribute = profile.persona.get("interests", "x")
    assert attribute is not None
    assert attribute.evidence == (keep.id,)
    assert profile.memory.get(doomed.id) is None
    assert profile.store.verify().ok


def test_crypto_shred_forget_category_and_everything(profile, store_path):
    profile.persona.observe("preferences", "coffee", "espresso")
    profile.persona.observe("preferences", "tea", "green")
    profile.persona.observe("goals", "run", "marathon")
    table = profile.store.tables["persona_attributes"]
    keys = [table.sealed(table.ids()[i]) for i in range(2)]

    forgotten = profile.forget_category("preferences")

    assert forgotten.records == 2
    assert profile.persona.profile() == {"goals": {"run": "marathon"}}
    on_disk = b"".join(p.read_bytes() for p in store_files(store_path))
    for sealed in keys:
        assert sealed is not None
        assert sealed.wrapped_key not in on_disk

    profile.memory.add_turn(Turn(session_id="s", role="user", text="hi"))
    profile.memory.add_summary(SessionSummary(session_id="s", text="sum"))
    profile.training.add(
        TrainingPair(context="c", candidates=("a",), chosen=0, signal=Signal.RATED)
    )
    everything = profile.forget_everything()
    assert everything.records == 4
    assert set(profile.counts().values()) == {0}
    profile.close()
    with Profile.open(store_path, PASSPHRASE) as reopened:  # still usable, same passphrase
        reopened.persona.observe("goals", "new", "start")
        assert reopened.store.verify().ok


def test_store_files_are_private_to_the_owner(store_path):
    Profile.create(store_path, PASSPHRASE, kdf=fast_kdf()).close()

    assert store_path.stat().st_mode & 0o077 == 0
