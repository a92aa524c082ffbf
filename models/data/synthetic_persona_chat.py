"""Synthetic-Persona-Chat conversations (CSV: two persona cells and one conversation cell)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from models.data.locations import DataFormatError

_COLUMNS = ("user 1 personas", "user 2 personas", "Best Generated Conversation")


@dataclass(frozen=True)
class SpcConversation:
    personas: tuple[tuple[str, ...], tuple[str, ...]]
    turns: tuple[tuple[int, str], ...]  # (speaker 0 or 1, text), in order


def load_spc(path: Path) -> list[SpcConversation]:
    conversations = []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or tuple(reader.fieldnames[:3]) != _COLUMNS:
            raise DataFormatError(f"{path}: expected columns {_COLUMNS}")
        for row in reader:
            conversations.append(_conversation(row))
    return conversations


def _conversation(row: dict[str, str]) -> SpcConversation:
    personas = tuple(
        tuple(f.strip() for f in row[column].splitlines() if f.strip()) for column in _COLUMNS[:2]
    )
    turns: list[tuple[int, str]] = []
    for line in row[_COLUMNS[2]].splitlines():
        line = line.strip()
        if not line:
            continue
        speaker, colon, text = line.partition(":")
        speaker = speaker.strip(" *")  # a few conversations are written in Markdown bold
        if colon and speaker in ("User 1", "User 2"):
            turns.append((0 if speaker == "User 1" else 1, text.strip(" *")))
        elif turns:  # a turn that runs over several lines (a list, a recipe)
            turns[-1] = (turns[-1][0], f"{turns[-1][1]} {line}")
        # Lines before the first prefixed turn (a "* * *" rule, a preamble) are not turns.
    return SpcConversation((personas[0], personas[1]), tuple(turns))
