"""`fedpersona chat` beside another writer of the same store (a federated round of
`client join` is one): a short write lock is waited out; one held past the store's busy
timeout costs that line only, says so, and the session goes on; nothing is lost or
written twice."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from client.profile import Profile
from client.store.database import BUSY_TIMEOUT_MS
from tests.cli.chat_driver import end, new_store, say, spawn_chat, unlock
from tests.conftest import PASSPHRASE


def hold_write_lock(store: Path, released: threading.Event) -> threading.Thread:
    """Another process's write transaction on the store file, until ``released``."""
    locked = threading.Event()

    def hold() -> None:
        connection = sqlite3.connect(store, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        locked.set()
        released.wait()
        connection.execute("ROLLBACK")
        connection.close()

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert locked.wait(timeout=30)
    return holder


def remembered(store: Path) -> list[str]:
    with Profile.open(store, PASSPHRASE) as profile:
        return [item.text for item in profile.memory.items()]


def test_chat_waits_out_a_short_lock_and_survives_a_long_one(tmp_path, encoder_cache):
    store = new_store(tmp_path)
    chat = spawn_chat(store, encoder_cache, "--offline", timeout=BUSY_TIMEOUT_MS / 1000 + 60)
    unlock(chat)

    released = threading.Event()
    holder = hold_write_lock(store, released)
    threading.Timer(1.0, released.set).start()  # a round's short write
    assert "Remembered" in say(chat, "/remember I keep bees in the garden")
    holder.join()

    released = threading.Event()
    holder = hold_write_lock(store, released)  # held past the busy timeout
    refused = say(chat, "/remember My sister plays the oboe")
    released.set()
    holder.join()
    again = say(chat, "/remember My sister plays the oboe")
    end(chat)

    assert "is busy: another process holds its write lock" in refused
    assert "that line may not have been saved: send it again" in refused
    assert "Traceback" not in refused
    assert "Remembered" in again
    texts = remembered(store)
    assert sum("bees" in text for text in texts) == 1
    assert sum("oboe" in text for text in texts) == 1
