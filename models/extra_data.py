"""Turn Synthetic-Persona-Chat and MSC conversations into utterances of ConvAI2 users.

Each conversation is matched to the ConvAI2 dialogue of the same persona pair; the
replies of the speaker whose persona is that dialogue's "your persona" become extra
utterances of that user, labelled with their timing (models.splits.Timing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from models.data.msc import MscSession
from models.data.persona_matching import DialogueIndex
from models.data.synthetic_persona_chat import SpcConversation
from models.ranking_task import Utterance
from models.splits import Timing, UserSplit, admissible_extra


@dataclass(frozen=True)
class ExtraUtterance:
    utterance: Utterance
    timing: Timing


def _replies(
    turns: Sequence[tuple[int, str]],
    speaker: int,
    user_id: str,
    persona: tuple[str, ...],
    source: str,
    start: int,
) -> list[Utterance]:
    return [
        Utterance(user_id, start + index, turns[index - 1][1], text, persona, source)
        for index, (who, text) in enumerate(turns)
        if index > 0 and who == speaker and turns[index - 1][0] != speaker
    ]


def spc_utterances(
    conversations: Sequence[SpcConversation],
    index: DialogueIndex,
    personas: dict[str, tuple[str, ...]],
) -> list[ExtraUtterance]:
    """SPC replies of matched users; ``personas`` gives each user's ConvAI2 persona facts."""
    extra = []
    for number, conversation in enumerate(conversations):
        match = index.match(*conversation.personas)
        if match is None:
            continue
        speaker = 0 if match.first_is_user else 1
        for utterance in _replies(
            conversation.turns,
            speaker,
            match.user_id,
            personas[match.user_id],
            "spc",
            10_000 * (number + 1),
        ):
            extra.append(ExtraUtterance(utterance, Timing.PARALLEL))
    return extra


def msc_utterances(
    sessions: Sequence[MscSession],
    index: DialogueIndex,
    personas: dict[str, tuple[str, ...]],
) -> list[ExtraUtterance]:
    extra = []
    for session in sessions:
        match = index.match(*session.personas)
        if match is None:
            continue
        speaker = 0 if match.first_is_user else 1
        timing = Timing.SAME_DIALOGUE if session.session == 1 else Timing.AFTER_DIALOGUE
        for utterance in _replies(
            session.turns,
            speaker,
            match.user_id,
            personas[match.user_id],
            f"msc-{session.session}",
            1_000 * session.session,
        ):
            extra.append(ExtraUtterance(utterance, timing))
    return extra


def admissible_training(extra: Sequence[ExtraUtterance], users: UserSplit) -> list[Utterance]:
    """The extra utterances that may be trained on without leaking into either test split."""
    return [e.utterance for e in extra if admissible_extra(e.utterance.user_id, e.timing, users)]
