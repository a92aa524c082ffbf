"""A scripted store session: write, read, re-key and forget, checking each step on disk.

`make tour` (`fedpersona demo`) runs it. Every check is real: the bytes on disk are
searched for the plaintext, the old passphrase is tried after the change, and the forgotten
record's wrapped key is searched for after the forget.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from client.memory import MemoryItem, SessionSummary, Turn
from client.persona import AttributeKind
from client.profile import Profile
from client.store import WrongPassphraseError
from client.store.errors import StoreExistsError
from client.training_pairs import Signal, TrainingPair

SECRET_PHRASE = "my sister Maya lives in Lisbon"


def store_files(path: Path) -> list[Path]:
    """The store file and every SQLite side file beside it."""
    return [p for p in path.parent.iterdir() if p.name.startswith(path.name)]


def occurrences(path: Path, needle: bytes) -> int:
    """How many times ``needle`` appears in the store's files (main file, WAL, shared memory)."""
    return sum(p.read_bytes().count(needle) for p in store_files(path) if p.is_file())


OLD_PASSPHRASE, NEW_PASSPHRASE = "correct horse battery staple", "a longer, newer passphrase"


def _clear_earlier_tour(out_dir: Path, path: Path) -> None:
    """Remove an earlier tour's store; refuse a folder that holds anything else.

    ``--out ~`` must never delete a home folder: only the tour's own files are removed.
    """
    if not out_dir.is_dir():
        return  # missing: created below; a file in its way: mkdir names it
    others = [p.name for p in out_dir.iterdir() if not p.name.startswith(path.name)]
    if others:
        raise StoreExistsError(
            f"{out_dir} holds other files than an earlier tour ({others[0]}, ...); "
            "choose another --out"
        )
    for old in out_dir.iterdir():
        old.unlink()


def run_store_tour(out_dir: Path, say: Callable[[str], None] = print) -> dict[str, object]:
    """Run the scripted session in ``out_dir`` (replacing an earlier tour there)."""
    path = out_dir / "tour.fpstore"
    _clear_earlier_tour(out_dir, path)
    out_dir.mkdir(parents=True, exist_ok=True)
    profile = _create(path, say)
    sister, trip = _write(profile, say)
    found = _read_back(profile, path, trip, say)
    profile, old_works = _change_passphrase(profile, path, say)
    wrapped_key = _forget(profile, path, sister, trip, say)
    report = profile.store.verify()
    final_counts = profile.counts()
    say(
        f"7. verified every record and table digest: {'ok' if report.ok else 'DAMAGED'}; "
        f"now holding {final_counts}"
    )
    profile.close()
    return {
        "store": str(path),
        "plaintext_occurrences": found,
        "old_passphrase_unlocks": old_works,
        "forgotten_key_occurrences": occurrences(path, wrapped_key),
        "integrity_ok": report.ok,
        "records": final_counts,
    }


def _create(path: Path, say: Callable[[str], None]) -> Profile:
    started = time.perf_counter()
    profile = Profile.create(path, OLD_PASSPHRASE)
    kdf = profile.store.kdf
    say(
        f"1. created {path} ({kdf.algorithm}, {kdf.memory_kib // 1024} MiB, "
        f"{kdf.iterations} passes) in {time.perf_counter() - started:.2f} s"
    )
    return profile


def _write(profile: Profile, say: Callable[[str], None]) -> tuple[MemoryItem, MemoryItem]:
    """A session's turns, two linked memories, a summary, persona facts and a training pair."""
    session = "session-1"
    turn = profile.memory.add_turn(
        Turn(session_id=session, role="user", text=f"By the way, {SECRET_PHRASE}.")
    )
    profile.memory.add_turn(
        Turn(session_id=session, role="assistant", text="Noted. Lisbon is lovely in spring.")
    )
    sister = profile.memory.remember(
        MemoryItem(text=SECRET_PHRASE, kind="fact", source_session=session)
    )
    trip = profile.memory.remember(
        MemoryItem(
            text="plans to visit Lisbon in April",
            kind="event",
            source_session=session,
            links=(sister.id,),
        )
    )
    profile.memory.add_summary(
        SessionSummary(
            session_id=session, turn_count=2, text="User mentioned family in Lisbon and a trip."
        )
    )
    _observe_persona(profile, evidence=(turn.id, sister.id, trip.id))
    profile.training.add(
        TrainingPair(
            context="Any ideas for my trip?",
            candidates=("Try the pastéis in Belém.", "Buy a new laptop."),
            chosen=0,
            signal=Signal.PICKED,
            session_id=session,
        )
    )
    counts = profile.counts()
    say(f"2. wrote {sum(counts.values())} sealed records: {counts}")
    return sister, trip


def _observe_persona(profile: Profile, *, evidence: tuple[str, str, str]) -> None:
    turn, sister, trip = evidence
    persona = profile.persona
    persona.observe(
        "demographics",
        "home_city",
        "Porto",
        kind=AttributeKind.CORE,
        confidence=0.9,
        evidence=(turn,),
    )
    persona.observe("preferences", "coffee", "espresso", confidence=0.6)
    persona.observe("preferences", "coffee", "flat white", confidence=0.7)
    persona.observe("interests", "travel", "Portugal", confidence=0.8, evidence=(sister, trip))


def _read_back(profile: Profile, path: Path, trip: MemoryItem, say: Callable[[str], None]) -> int:
    coffee = profile.persona.get("preferences", "coffee")
    assert coffee is not None
    say(f"3. read back: persona {profile.persona.profile()}")
    say(f"   coffee preference evolved: {[p.value for p in coffee.history]} -> {coffee.value!r}")
    say(
        f"   memory {trip.text!r} links to {len(trip.links)} item(s); "
        f"{len(profile.memory.recent_turns())} recent turns"
    )
    found = occurrences(path, SECRET_PHRASE.encode())
    say(
        f"4. searched {len(store_files(path))} store files for {SECRET_PHRASE!r}: "
        f"{found} occurrence(s) of plaintext"
    )
    return found


def _change_passphrase(
    profile: Profile, path: Path, say: Callable[[str], None]
) -> tuple[Profile, bool]:
    started = time.perf_counter()
    profile.store.change_passphrase(NEW_PASSPHRASE)
    profile.close()
    say(
        f"5. changed the passphrase in {time.perf_counter() - started:.2f} s "
        "(data keys re-wrapped, no record re-encrypted)"
    )
    try:
        Profile.open(path, OLD_PASSPHRASE).close()
        old_works = True
    except WrongPassphraseError:
        old_works = False
    say(f"   old passphrase unlocks: {old_works}; new passphrase unlocks: True")
    return Profile.open(path, NEW_PASSPHRASE), old_works


def _forget(
    profile: Profile, path: Path, sister: MemoryItem, trip: MemoryItem, say: Callable[[str], None]
) -> bytes:
    """Forget one memory (and then a whole category); the wrapped key it had, to search for."""
    sealed = profile.store.tables["memories"].sealed(sister.id)
    wrapped_key = bytes(sealed.wrapped_key)  # type: ignore[union-attr]
    forgot = profile.forget_item(sister.id)
    remaining_trip = profile.memory.get(trip.id)
    travel = profile.persona.get("interests", "travel")
    assert remaining_trip is not None
    assert travel is not None
    say(
        f"6. forgot memory {sister.id[:8]}…: {forgot.records} record; links left on the trip "
        f"memory: {len(remaining_trip.links)}; evidence left on interests.travel: "
        f"{len(travel.evidence)}; its wrapped key found on disk: "
        f"{occurrences(path, wrapped_key)} time(s)"
    )
    forgot_category = profile.forget_category("preferences")
    say(f"   forgot category 'preferences': {forgot_category.records} attribute(s)")
    return wrapped_key
