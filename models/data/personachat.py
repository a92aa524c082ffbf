"""ConvAI2 / PersonaChat dialogues in ParlAI's FbDialog text format.

Each dialogue is one "user": the speaker of "your persona", whose responses are the
targets. A line is ``<n> <text>``; ``n`` restarts at 1 with each dialogue; persona lines
come first, then ``partner utterance<TAB>response`` exchanges.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from models.data.locations import DataFormatError

_YOUR = "your persona: "
_PARTNER = "partner's persona: "


@dataclass(frozen=True)
class Exchange:
    """The partner's utterance (the context) and the user's reply to it."""

    context: str
    response: str


@dataclass(frozen=True)
class Dialogue:
    user_id: str
    persona: tuple[str, ...]
    partner_persona: tuple[str, ...]
    exchanges: tuple[Exchange, ...]


def load_personachat(path: Path, *, limit: int | None = None) -> list[Dialogue]:
    """Read dialogues from ``path`` (at most ``limit``); malformed lines raise DataFormatError."""
    dialogues: list[Dialogue] = []
    persona: list[str] = []
    partner: list[str] = []
    exchanges: list[Exchange] = []

    def close() -> None:
        if persona or exchanges:
            dialogues.append(
                Dialogue(
                    f"personachat-{len(dialogues)}",
                    tuple(persona),
                    tuple(partner),
                    tuple(exchanges),
                )
            )

    with path.open(encoding="utf-8") as handle:
        for line_number, raw in enumerate(handle, start=1):
            number, _, text = raw.rstrip("\n").partition(" ")
            if not number.isdigit():
                raise DataFormatError(f"{path}:{line_number}: expected '<n> <text>'")
            if number == "1":
                close()
                if limit is not None and len(dialogues) >= limit:
                    return dialogues
                persona, partner, exchanges = [], [], []
            if text.startswith(_YOUR):
                persona.append(text[len(_YOUR) :])
            elif text.startswith(_PARTNER):
                partner.append(text[len(_PARTNER) :])
            else:
                context, tab, response = text.partition("\t")
                if not tab or not response:
                    raise DataFormatError(f"{path}:{line_number}: expected 'context<TAB>response'")
                exchanges.append(Exchange(context, response.split("\t")[0]))
    close()
    return dialogues
