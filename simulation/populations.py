"""Simulated devices' data: which user each client is and what its store is seeded with.

A population becomes a list of ``ClientData``: the persona rows, the training examples
the device has from its earlier conversations, and its later turns, which the device
keeps for evaluating a received model before training on anything (federated
evaluation). Users held out of the federation entirely (unseen users) are evaluated by
the simulator at the end; no client ever holds them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from client.embedding.factory import default_embedder
from client.embedding.manifest import default_cache_dir
from client.federated_round import EVALUATION_SESSION
from client.persona import STATEMENTS, fact_text
from client.records import JsonValue
from client.training_pairs import Signal, TrainingPair
from models.data.locations import MSC_SUMMARY_SESSIONS, PERSONACHAT_VALID, data_dir, require
from models.data.msc import MscSession, load_msc_session
from models.data.personachat import load_personachat
from models.embedding_cache import EmbeddingCache
from models.ranking_task import GOLD, RankingExample, Utterance, build_examples
from models.splits import HOLDOUT_FRACTION, split_users, split_utterances
from server.run_settings import POPULATIONS
from simulation.conversation_records import ConversationRecords, Key, conversation_records
from simulation.population import generate_population, iter_rankings
from simulation.population.device_learning import TableEmbedder, learned_key, learned_personas

PersonaRow = tuple[str, str, JsonValue, str]


@dataclass(frozen=True)
class ClientData:
    user_id: str
    persona: tuple[PersonaRow, ...]
    train: tuple[TrainingPair, ...]
    evaluation: tuple[TrainingPair, ...]
    # Memories and prompt records of the training sessions (synthetic users only).
    records: ConversationRecords = field(default_factory=ConversationRecords)


@dataclass(frozen=True)
class PopulationData:
    name: str
    clients: tuple[ClientData, ...]
    unseen_users: tuple[RankingExample, ...]

    def texts(self) -> set[str]:
        """Every text a device or the simulator will embed."""
        texts: set[str] = set()
        for client in self.clients:
            texts.update(_fact(row) for row in client.persona)
            for pair in client.train + client.evaluation:
                texts.add(pair.context)
                texts.update(pair.candidates)
        for example in self.unseen_users:
            texts.add(example.context)
            texts.update(example.candidates)
            texts.update(example.persona)
        return texts


def _fact(row: PersonaRow) -> str:
    category, name, value, _ = row
    return fact_text(category, name, value)


def _pair(example: RankingExample, session: str | None) -> TrainingPair:
    return TrainingPair(
        context=example.context,
        candidates=example.candidates,
        chosen=GOLD,
        signal=Signal.DATASET,
        session_id=session,
        created_at=0.0,
        id=f"{example.user_id}-{example.position}",
    )


def _statements(facts: Sequence[str]) -> tuple[PersonaRow, ...]:
    return tuple((STATEMENTS, f"statement_{i}", fact, "core") for i, fact in enumerate(facts))


def _from_utterances(
    name: str, utterances: Sequence[Utterance], clients: int, seed: int
) -> PopulationData:
    users = split_users({u.user_id for u in utterances}, seed=seed)
    splits = split_utterances(utterances, users)
    everyone = [(u.user_id, u.response) for u in utterances]
    train = build_examples(splits.train, seed=seed + 1)
    later = build_examples(splits.later_turns, distractor_pool=everyone, seed=seed + 2)
    unseen = build_examples(splits.unseen_users, distractor_pool=everyone, seed=seed + 3)
    personas = {u.user_id: u.persona for u in utterances}
    built = []
    for user_id in sorted(users.seen)[:clients]:
        built.append(
            ClientData(
                user_id,
                _statements(personas[user_id]),
                tuple(_pair(e, None) for e in train if e.user_id == user_id),
                tuple(_pair(e, EVALUATION_SESSION) for e in later if e.user_id == user_id),
            )
        )
    return PopulationData(name, tuple(built), tuple(unseen))


def personachat_population(clients: int, *, seed: int, root: Path | None = None) -> PopulationData:
    """ConvAI2 users (one dialogue each); a fifth more users are loaded and held out."""
    wanted = round(clients / (1 - HOLDOUT_FRACTION)) + 1
    dialogues = load_personachat(require(data_dir(root), PERSONACHAT_VALID), limit=wanted)
    if len(dialogues) * (1 - HOLDOUT_FRACTION) < clients:
        raise ValueError(
            f"PersonaChat has {len(dialogues)} users; at most "
            f"{int(len(dialogues) * (1 - HOLDOUT_FRACTION))} can be clients"
        )
    utterances = [
        Utterance(d.user_id, i, e.context, e.response, d.persona)
        for d in dialogues
        for i, e in enumerate(d.exchanges)
    ]
    return _from_utterances("personachat", utterances, clients, seed)


def _msc_utterances(sessions: Sequence[MscSession]) -> list[Utterance]:
    utterances = []
    for session in sessions:
        for speaker in (0, 1):
            user_id = f"msc-{session.pair_id}-{speaker}"
            for index, (who, text) in enumerate(session.turns):
                if index and who == speaker and session.turns[index - 1][0] != speaker:
                    utterances.append(
                        Utterance(
                            user_id,
                            1000 * session.session + index,
                            session.turns[index - 1][1],
                            text,
                            session.personas[speaker],
                            "msc",
                        )
                    )
    return utterances


def msc_population(clients: int, *, seed: int, root: Path | None = None) -> PopulationData:
    """MSC speakers over sessions 1-4: earlier sessions train, the later turns evaluate."""
    folder = data_dir(root)
    sessions = [
        s
        for n, path in enumerate(MSC_SUMMARY_SESSIONS, start=1)
        for s in load_msc_session(require(folder, path), n)
    ]
    wanted = round(clients / (1 - HOLDOUT_FRACTION)) + 1
    pairs = sorted({s.pair_id for s in sessions})[: (wanted + 1) // 2]
    chosen = [s for s in sessions if s.pair_id in set(pairs)]
    return _from_utterances("msc", _msc_utterances(chosen), clients, seed)


def synthetic_population(
    clients: int, *, seed: int, sessions: int = 6, learn_personas: bool = False
) -> PopulationData:
    """Generated users (simulation.population); the last two sessions are each device's later
    turns, and a fifth more users are generated and held out.

    With ``learn_personas`` each device holds the persona its memory engine learned from its
    training sessions (simulation.population.device_learning); otherwise the generated
    session-0 persona. Off by default: with it, 20 rounds of `make run` moved held-out
    hits@1 18.3 -> 19.5, within its +-1.4 interval, against 18.3 -> 20.5 without
    (docs/benchmarks.md, "Devices that learn their persona")."""
    held_out = max(1, round(clients * HOLDOUT_FRACTION / (1 - HOLDOUT_FRACTION)))
    users = generate_population(clients + held_out, seed=seed, sessions_per_user=sessions)
    built, unseen = [], []
    heard = range(sessions - 2)  # the training sessions: what each device has heard
    learned = (
        learned_personas(users[:clients], heard, _device_embedder, _learning_cache())
        if learn_personas
        else []
    )
    for index, user in enumerate(users):
        # A device's persona is what its engine learned; a held-out user has no device.
        gold = tuple((c, n, v, k) for c, n, v, k in user.persona_rows(session=0))
        rows = learned[index] if learn_personas and index < clients else gold
        train, later = [], []
        for item in iter_rankings([user]):
            example = RankingExample(
                user.user_id,
                item.turn.index + 100 * item.session.index,
                item.turn.text,
                tuple(_fact(r) for r in rows),
                _gold_first(item.ranking.candidates, item.ranking.gold),
            )
            if index >= clients:
                unseen.append(example)
            elif item.session.index >= sessions - 2:
                later.append(_pair(example, EVALUATION_SESSION))
            else:
                train.append(_pair(example, None))
        if index < clients:
            said = {(c, n): str(v) for c, n, v, _ in gold}
            records = conversation_records(user, said, heard)
            if learn_personas:
                records = _as_learned(records, said, rows)
            built.append(ClientData(user.user_id, rows, tuple(train), tuple(later), records))
    return PopulationData("synthetic", tuple(built), tuple(unseen))


def _as_learned(
    records: ConversationRecords, said: dict[Key, str], rows: Sequence[PersonaRow]
) -> ConversationRecords:
    """``records`` keyed by the learned attributes that hold what was said (learned_key);
    a disclosure the device did not learn leaves no evidence, a request stays unlinked."""

    def key(old: Key) -> Key | None:
        return learned_key(old, said[old], rows) if old in said else None

    disclosures = []
    for d in records.disclosures:
        new = key(d.key)
        if new is not None:
            disclosures.append(replace(d, key=new))
    prompts = [replace(p, key=key(p.key) or p.key) for p in records.prompts]
    return ConversationRecords(tuple(disclosures), tuple(prompts))


def _device_embedder() -> TableEmbedder:
    """The encoder behind the shared cache of public texts (synthetic users are public)."""
    encoder = default_embedder(export_if_missing=True)
    path = default_cache_dir() / "embeddings" / f"{encoder.name}.npz"
    return TableEmbedder(
        EmbeddingCache(path, encoder.name, encoder.embed), encoder.name, encoder.dimension
    )


def _learning_cache() -> Path:
    return default_cache_dir() / "learned_personas"


def _gold_first(candidates: Sequence[str], gold: int) -> tuple[str, ...]:
    return (candidates[gold], *candidates[:gold], *candidates[gold + 1 :])


def load_population(
    name: str, clients: int, *, seed: int, root: Path | None = None
) -> PopulationData:
    if name == "personachat":
        return personachat_population(clients, seed=seed, root=root)
    if name == "msc":
        return msc_population(clients, seed=seed, root=root)
    if name == "synthetic":
        return synthetic_population(clients, seed=seed)
    if name == "synthetic-learned":
        return synthetic_population(clients, seed=seed, learn_personas=True)
    raise ValueError(f"unknown population {name!r}; use one of {POPULATIONS}")
