"""Multi-Session Chat sessions 1-4 (validation), from the persona-summary files.

Each line is a JSON episode: one session of one speaker pair, with ``dialog`` turns whose
``id`` is ``bot_0`` or ``bot_1`` (the index into ``init_personachat.init_personas``).
"""

from __future__ import annotations

import json
import lzma
from dataclasses import dataclass
from pathlib import Path

from models.data.locations import DataFormatError


@dataclass(frozen=True)
class MscSession:
    pair_id: str  # initial_data_id, shared by every session of one speaker pair
    session: int  # 1-based; session 1 is the ConvAI2 conversation itself
    personas: tuple[tuple[str, ...], tuple[str, ...]]
    turns: tuple[tuple[int, str], ...]
    # Each speaker's crowd-annotated persona facts revealed in this session (the union of
    # ``agg_persona_list`` over the speaker's turns, first-seen order).
    facts: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())


def load_msc_session(path: Path, session: int) -> list[MscSession]:
    sessions = []
    with lzma.open(path, "rt", encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            try:
                episode = json.loads(line)
                pair = episode["init_personachat"]["init_personas"]
                turns = tuple(
                    (int(turn["id"].removeprefix("bot_")), str(turn["text"]))
                    for turn in episode["dialog"]
                )
                sessions.append(
                    MscSession(
                        str(episode["initial_data_id"]),
                        session,
                        (tuple(pair[0]), tuple(pair[1])),
                        turns,
                        _revealed_facts(episode["dialog"]),
                    )
                )
            except (json.JSONDecodeError, KeyError, TypeError, ValueError, IndexError) as error:
                raise DataFormatError(
                    f"{path}:{line_number}: not an MSC episode ({error})"
                ) from error
    return sessions


def _revealed_facts(dialog: list[dict[str, object]]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    found: tuple[dict[str, None], dict[str, None]] = ({}, {})
    for turn in dialog:
        speaker = int(str(turn["id"]).removeprefix("bot_"))
        facts = turn.get("agg_persona_list")
        for fact in facts if isinstance(facts, list) else []:
            found[speaker][str(fact)] = None
    return tuple(found[0]), tuple(found[1])
