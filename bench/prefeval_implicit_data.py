"""PrefEval's implicit forms (Zhao et al. 2025, arXiv 2502.09597) and what a device stores.

Files: ``prefeval/implicit_preference/<form>/<topic>.json``, one record per preference,
in the same order as ``prefeval/mcq_options/<topic>.json`` (the same preference and
question; checked on load). Forms:

- ``persona-driven``: ``conversation`` is ``{"0": {"user", "assistant"}, ...}``, a
  multi-turn chat in which the user states the preference in passing;
- ``choice-based``: ``conversation`` has ``query`` (user), ``assistant_options``,
  ``user_selection`` (user) and ``assistant_acknowledgment``: the preference is only
  revealed by which option the user picks.

Each item's conversation is played into a fresh device (``MemoryEngine`` over its own
encrypted profile) as one session; after the session ends and the persona update runs,
what the persona holds (its facts and their stance) is all the answer may use: the
``preference`` field is never read at answer time. The device runs with
``store_turns_as_memories=False`` (``ENGINE``): persona learning and the choice memory
are as on a phone, only the episodic copies of each turn, which the persona never reads,
are skipped to save encoder time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client.embedding.protocol import Embedder
from client.memory_engine import EngineConfig, MemoryEngine
from client.persona import persona_fact
from client.profile import Profile, ProfileSettings
from models.data.locations import DataFormatError
from models.data.prefeval import PrefEvalItem, load_prefeval_topic
from models.stance import StanceClause
from privacy.kdf import MIN_ITERATIONS, MIN_MEMORY_KIB, KdfParams

FORMS = ("persona-driven", "choice-based")
ENGINE = EngineConfig(store_turns_as_memories=False)
IMPLICIT = "implicit_preference"
MCQ = "mcq_options"


@dataclass(frozen=True)
class ImplicitItem:
    """One implicit-form record joined with its multiple-choice question."""

    mcq: PrefEvalItem  # question, shuffled options, gold index (preference: not for answers)
    turns: tuple[tuple[str, str], ...]  # (role, text) in order


@dataclass(frozen=True)
class Stored:
    """What a device's persona holds after the conversation: facts and their stance."""

    facts: tuple[str, ...]
    stances: tuple[tuple[StanceClause, ...], ...]


def conversation_turns(record: dict[str, Any], form: str) -> tuple[tuple[str, str], ...]:
    """The record's conversation as (role, text) turns, in order."""
    talk = record["conversation"]
    if form == "choice-based":
        keys = ("query", "assistant_options", "user_selection", "assistant_acknowledgment")
        roles = ("user", "assistant", "user", "assistant")
        return tuple((role, str(talk[key])) for role, key in zip(roles, keys, strict=True))
    if form == "persona-driven":
        order = sorted(talk, key=int)
        return tuple((role, str(talk[k][role])) for k in order for role in ("user", "assistant"))
    raise ValueError(f"form must be one of {FORMS}, got {form!r}")


def load_implicit_topic(root: Path, form: str, topic: str, *, seed: int) -> list[ImplicitItem]:
    """One topic's records of ``form``, with its mcq_options question shuffled by ``seed``."""
    path = root / IMPLICIT / form / f"{topic}.json"
    mcq = load_prefeval_topic(root / MCQ / f"{topic}.json", seed=seed)
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
        if len(records) != len(mcq):
            raise DataFormatError(f"{path}: {len(records)} records, mcq_options has {len(mcq)}")
        items = []
        for record, question in zip(records, mcq, strict=True):
            if str(record["question"]) != question.question:
                raise DataFormatError(f"{path}: record order differs from mcq_options")
            items.append(ImplicitItem(question, conversation_turns(record, form)))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise DataFormatError(f"{path}: not a PrefEval {form} file ({error})") from error
    return items


def load_implicit(root: Path, form: str, *, seed: int) -> list[ImplicitItem]:
    """Every topic of ``form``; each topic shuffled with the seed the explicit row uses
    (models.data.prefeval.load_prefeval: ``seed * 1000 + topic number``), so the options
    and gold of each question are the explicit row's."""
    paths = sorted((root / MCQ).glob("*.json"))
    if not paths:
        raise DataFormatError(f"{root / MCQ}: no PrefEval topic files")
    return [
        item
        for number, path in enumerate(paths)
        for item in load_implicit_topic(root, form, path.stem, seed=seed * 1000 + number)
    ]


def stored_persona(turns: tuple[tuple[str, str], ...], embedder: Embedder, folder: Path) -> Stored:
    """Play ``turns`` into a fresh device as one session and read back its persona."""
    profile = Profile.create(
        folder / "device.fpstore",
        "benchmark passphrase",
        kdf=KdfParams(memory_kib=MIN_MEMORY_KIB, iterations=MIN_ITERATIONS),
        settings=ProfileSettings(turn_capacity=200),
    )
    try:
        # Only the persona answers here, so the episodic turn items (each turn embedded
        # with its neighbours: most of the encoder time) are not written; facts are.
        engine = MemoryEngine(profile, embedder, config=ENGINE)
        for number, (role, text) in enumerate(turns):
            engine.add_turn("s0", text, role=role, at=1.0 + number)
        engine.end_session("s0")
        engine.update_persona_now()  # the k-session schedule would wait for more sessions
        attributes = profile.persona.attributes()
        return Stored(
            tuple(persona_fact(a) for a in attributes), tuple(a.clauses for a in attributes)
        )
    finally:
        profile.close()
