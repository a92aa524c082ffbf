"""LoCoMo conversations read from the shared data folder, and their ingestion into an engine.

Each conversation is one device that hears both speakers: every turn is a user turn with
the speaker's name (LoCoMo's questions are about either person). A turn that shared a
photo carries the photo's caption, as a chat client that describes images would see it.
The session's date (``session_N_date_time``) is the time of its turns.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from client.memory_engine import MemoryEngine
from models.data.locations import DataFormatError, require

DEV_FILE = Path("locomo/locomo10-dev.json")
SAMPLE_FILE = Path("locomo/locomo10-sample.json")
CATEGORIES = (1, 2, 3, 4)  # 5 (adversarial) has no answer in the conversation


@dataclass(frozen=True)
class LocomoTurn:
    dia_id: str
    speaker: str
    text: str
    at: float


@dataclass(frozen=True)
class LocomoQuestion:
    question: str
    evidence: tuple[str, ...]
    category: int


@dataclass(frozen=True)
class Conversation:
    sample_id: str
    speakers: tuple[str, str]
    sessions: tuple[tuple[LocomoTurn, ...], ...]
    questions: tuple[LocomoQuestion, ...]

    def turns(self) -> list[LocomoTurn]:
        return [t for session in self.sessions for t in session]


def load_conversations(root: Path, relative: Path = DEV_FILE) -> list[Conversation]:
    return [_conversation(c) for c in raw_conversations(root, relative)]


# --quick: the first sessions of the first conversations, enough to exercise every path.
QUICK_CONVERSATIONS = 2
QUICK_SESSIONS = 6


def benchmark_conversations(root: Path, *, quick: bool) -> list[Conversation]:
    """The conversations a LoCoMo benchmark reads: all of them, or with ``quick`` the first
    ``QUICK_SESSIONS`` sessions of the first ``QUICK_CONVERSATIONS``, keeping only the
    questions whose evidence lies in those sessions."""
    conversations = load_conversations(root)
    if not quick:
        return conversations
    return [_first_sessions(c, QUICK_SESSIONS) for c in conversations[:QUICK_CONVERSATIONS]]


def _first_sessions(conversation: Conversation, count: int) -> Conversation:
    sessions = conversation.sessions[:count]
    known = {t.dia_id for s in sessions for t in s}
    questions = tuple(q for q in conversation.questions if set(q.evidence) <= known)
    return replace(conversation, sessions=sessions, questions=questions)


def raw_conversations(root: Path, relative: Path = DEV_FILE) -> list[dict[str, Any]]:
    """The file's conversations as LoCoMo writes them (JSON objects)."""
    path = require(root, relative)
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise DataFormatError(f"{path}: expected a list of conversations")
    return data


def session_numbers(conv: dict[str, Any]) -> list[int]:
    """The numbers of a raw conversation's sessions (its ``session_N`` turn lists), in order."""
    return sorted(
        int(key.split("_")[1])
        for key, value in conv.items()
        if key.startswith("session_") and key.count("_") == 1 and isinstance(value, list)
    )


def _conversation(raw: dict[str, Any]) -> Conversation:
    conv = raw["conversation"]
    sessions = tuple(_session(conv, n) for n in session_numbers(conv))
    questions = tuple(
        LocomoQuestion(str(q["question"]), evidence_ids(q.get("evidence", [])), int(q["category"]))
        for q in raw["qa"]
        if int(q["category"]) in CATEGORIES and evidence_ids(q.get("evidence", []))
    )
    return Conversation(
        raw["sample_id"], (conv["speaker_a"], conv["speaker_b"]), sessions, questions
    )


_DIA_ID = re.compile(r"D:?(\d+):(\d+)")


def evidence_ids(evidence: list[str]) -> tuple[str, ...]:
    """The dialogue ids of a question's evidence, as the turns spell them.

    Three of the dev set's evidence entries are malformed: "D8:6; D9:17" (two ids in one
    string), "D:11:26" (a stray colon) and "D" (no turn); read as written they name no
    turn and count as misses for every method. (A fourth, conv-42's "D10:19", is well
    formed but names a turn the conversation does not have; it stays, a miss for all.)
    """
    return tuple(f"D{m.group(1)}:{m.group(2)}" for e in evidence for m in _DIA_ID.finditer(e))


def _session(conv: dict[str, Any], number: int) -> tuple[LocomoTurn, ...]:
    start = parse_date(conv.get(f"session_{number}_date_time", ""), number)
    turns = []
    for offset, raw in enumerate(conv[f"session_{number}"]):
        text = str(raw["text"])
        if raw.get("blip_caption"):
            text = f"{text} [shares a photo of {raw['blip_caption']}]"
        turns.append(
            LocomoTurn(str(raw["dia_id"]), str(raw["speaker"]), text, start + 60.0 * offset)
        )
    return tuple(turns)


def parse_date(text: str, number: int) -> float:
    """'1:56 pm on 8 May, 2023' -> POSIX seconds; unreadable: day ``number`` of 1970."""
    try:
        moment = datetime.strptime(text.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)
    except ValueError:
        return 86400.0 * number
    return moment.timestamp()


def ingest(engine: MemoryEngine, conversation: Conversation) -> dict[str, str]:
    """Feed the conversation session by session; returns turn record id -> LoCoMo dia_id."""
    dia_of: dict[str, str] = {}
    for number, session in enumerate(conversation.sessions, start=1):
        session_id = f"{conversation.sample_id}:{number}"
        for turn in session:
            stored = engine.add_turn(session_id, turn.text, speaker=turn.speaker, at=turn.at)
            dia_of[stored.id] = turn.dia_id
        engine.end_session(session_id)
    return dia_of


def dia_ids_of(engine: MemoryEngine, item_ids: list[str], dia_of: dict[str, str]) -> list[str]:
    """The distinct dialogue ids behind ranked items (a fact maps to the turn it came from)."""
    seen: dict[str, None] = {}
    for item_id in item_ids:
        dia = dia_of.get(engine.index.entry(item_id).turn_id)
        if dia is not None:
            seen.setdefault(dia)
    return list(seen)
