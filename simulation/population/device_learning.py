"""Simulated devices learn their persona through the memory engine, from their own sessions.

A real device is given no persona: it learns one from what its person says
(``client.memory_engine``: self-disclosures become persona attributes every k sessions,
a statement of change at once, the old value kept in the attribute's history). A
simulated device does the same: each synthetic user's sessions go turn by turn through
:class:`~client.memory_engine.MemoryEngine` (the library the chat client calls) into an
encrypted store of the device's own, and the persona the engine holds after them is the
device's persona. A scheduled change therefore reaches the device only when the user
said it in a way the engine understands, and only from the session it was said in.

What the simulation leaves out, because its devices only need the persona: verbatim
turn items and similarity links (``LEARNING``), and the summary is the session's first
sentences (:class:`LeadSummariser`) instead of the embedding-ranked one. None of these
changes what persona is learned: facts, their order and the k-session schedule (which
counts summaries) are the engine's own. Cost: the fact sentences of every user are
embedded in one batch through the shared embedding cache, and the learned personas are
kept on disk per population and code version (:func:`learned_personas`), so repeated
runs of the same population learn nothing again.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from client.embedding.protocol import Vectors, as_text_list
from client.memory_engine import EngineConfig, MemoryEngine, RuleExtractor, Summariser
from client.memory_engine.disclosure import split_sentences
from client.profile import Profile
from privacy.kdf import MIN_ITERATIONS, MIN_MEMORY_KIB, KdfParams
from simulation.population.entities import PersonaRow, SyntheticUser

LEARNING = EngineConfig(store_turns_as_memories=False, link_count=0)
_CODE = ("client/memory_engine", "client/persona.py", "simulation/population")
EmbedFn = Callable[[list[str]], Vectors]


class LeadSummariser:
    """The session's first sentences within the budget (no embedding needed)."""

    def summarise(self, lines: Sequence[str], budget: int) -> str:
        kept: list[str] = []
        used = 0
        for sentence in (s for line in lines for s in split_sentences(line)):
            used += len(sentence.split()) + 1
            if used > budget and kept:  # the first sentence always: a session has a summary
                break
            kept.append(sentence)
        return " ".join(kept)


class TableEmbedder:
    """An :class:`~client.embedding.protocol.Embedder` over vectors computed up front;
    a text not in the table is embedded by ``embed`` and kept."""

    def __init__(self, embed: EmbedFn, name: str, dimension: int) -> None:
        self._embed, self.name, self.dimension = embed, name, dimension
        self._table: dict[str, Vectors] = {}

    def prepare(self, texts: Iterable[str]) -> None:
        missing = sorted({t for t in texts if t not in self._table})
        if missing:
            self._table.update(zip(missing, self._embed(missing), strict=True))

    def embed(self, texts: Sequence[str]) -> Vectors:
        items = as_text_list(texts)
        self.prepare(items)
        if not items:
            return np.zeros((0, self.dimension), np.float32)
        return np.ascontiguousarray(np.stack([self._table[t] for t in items]), np.float32)


def learn_persona(
    user: SyntheticUser,
    sessions: Iterable[int],
    embedder: TableEmbedder,
    folder: Path,
    *,
    config: EngineConfig = LEARNING,
    summariser: Summariser | None = None,
) -> tuple[PersonaRow, ...]:
    """The persona ``user``'s device holds after hearing ``sessions`` through the engine
    (``config`` and ``summariser``: the simulation's light ones unless given)."""
    with Profile.create(
        folder / f"{user.user_id}.fpstore",
        "simulated device",
        kdf=KdfParams(memory_kib=MIN_MEMORY_KIB, iterations=MIN_ITERATIONS),
    ) as profile:
        engine = MemoryEngine(
            profile, embedder, config=config, summariser=summariser or LeadSummariser()
        )
        wanted = set(sessions)
        # One transaction for the whole history (the engine's own ones join it): a store
        # thrown away after learning needs no commit, and so no disk sync, per turn.
        with profile.store.transaction().write():
            for session in (s for s in user.sessions if s.index in wanted):
                session_id = f"sim-{session.index}"
                for offset, turn in enumerate(session.turns):
                    # Simulated time counts sessions (as simulation.conversation_records).
                    engine.add_turn(session_id, turn.text, at=session.index + offset / 1000)
                engine.end_session(session_id)
        return tuple(
            (a.category, a.name, str(a.value), a.kind.value) for a in profile.persona.attributes()
        )


def learned_personas(
    users: Sequence[SyntheticUser],
    sessions: Sequence[int],
    embedder: Callable[[], TableEmbedder],
    cache: Path | None,
) -> list[tuple[PersonaRow, ...]]:
    """Each user's learned persona (:func:`learn_persona`), from ``cache`` when it has them.

    ``embedder`` makes the encoder only when something must be learned (it costs about
    100 MiB and a second to load).
    """
    path = cache / f"{_key(users, sessions)}.json" if cache is not None else None
    if path is not None and path.is_file():
        saved = json.loads(path.read_text(encoding="utf-8"))
        return [tuple((c, n, v, k) for c, n, v, k in saved[u.user_id]) for u in users]
    table = embedder()
    table.prepare(_fact_sentences(users, sessions))
    with tempfile.TemporaryDirectory(prefix="fedpersona-learning-", dir=_scratch()) as folder:
        learned = [learn_persona(u, sessions, table, Path(folder)) for u in users]
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # parallel set-ups
        rows = {u.user_id: [list(r) for r in p] for u, p in zip(users, learned, strict=True)}
        staging.write_text(json.dumps(rows), encoding="utf-8")
        staging.replace(path)
    return learned


def _scratch() -> str | None:
    """Memory-backed /dev/shm where there is one: the learning stores are thrown away."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def _fact_sentences(users: Sequence[SyntheticUser], sessions: Sequence[int]) -> set[str]:
    """What the engine will embed: the sentence of every disclosure (one batch up front)."""
    extractor, wanted = RuleExtractor(), set(sessions)
    return {
        disclosure.sentence
        for user in users
        for session in user.sessions
        if session.index in wanted
        for turn in session.turns
        for disclosure in extractor.extract(turn.text)
    }


def _key(users: Sequence[SyntheticUser], sessions: Sequence[int]) -> str:
    """Users, sessions and the code that learns: any change learns again."""
    digest = hashlib.sha256(json.dumps([[u.user_id for u in users], list(sessions)]).encode())
    root = Path(__file__).resolve().parents[2]
    for part in _CODE:
        files = sorted((root / part).rglob("*")) if (root / part).is_dir() else [root / part]
        for file in files:
            if file.suffix in (".py", ".json"):
                digest.update(file.relative_to(root).as_posix().encode() + file.read_bytes())
    return digest.hexdigest()[:32]


def learned_key(
    key: tuple[str, str], value: str, rows: Sequence[tuple[str, str, object, str]]
) -> tuple[str, str] | None:
    """The learned attribute that holds the taxonomy attribute ``key``'s ``value``.

    The engine names attributes from the person's words ("favourite kind of holiday",
    or a statement in their words), not by the taxonomy's names; the one whose value
    (a statement: its text) names ``value`` stands for it. ``key`` itself when learned.
    """
    wanted = value.lower()
    for category, name, learned, _ in rows:
        if (category, name) == key or wanted in str(learned).lower():
            return category, name
    return None
