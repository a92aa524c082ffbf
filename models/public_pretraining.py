"""Public pretraining: a head trained centrally on data that holds none of the federation's users.

A federated run may start from such a head instead of the untrained one (which ranks like
``persona_maxsim``): the server trains it on public data before any device is asked
anything, so the start costs no privacy. The guarantee rests on the data being public and
on it containing none of the people who will be federated or evaluated.

Two sources:
- Synthetic-Persona-Chat (SPC) conversations whose personas match none of the ConvAI2
  dialogues given (``public_spc_conversations``). Matching reuses
  ``models.data.persona_matching`` (bags of words, Jaccard >= ``MIN_JACCARD``) and is
  stricter than a pair match: a conversation is dropped when *either* of its personas
  matches *either* persona of *any* dialogue, because a ConvAI2 persona recurs across
  dialogues with other partners. The SPC validation file re-tells exactly the persona
  pairs of the ConvAI2 validation dialogues, so against those 1,000 dialogues it leaves
  nothing (the tests check that on the real files). SPC's train file re-tells
  PersonaChat's train pairs, whose persona cards are not the validation ones, so it would
  be the natural source; it is not in the data folder.
- Ranking examples built elsewhere from any other public source, e.g. generated users
  (``simulation.population``), who are nobody: ``pretrain_head`` takes examples from any
  source.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from models.data.persona_matching import MIN_JACCARD, DialogueIndex, jaccard, words
from models.data.personachat import Dialogue
from models.data.synthetic_persona_chat import SpcConversation
from models.encoded import EmbedFn, encode
from models.ranking_task import RankingExample, Utterance, build_examples
from models.reranking_head import EMBEDDING_DIM, HeadConfig, RerankingHead
from models.training import TrainConfig, TrainResult, new_head, train_head

PUBLIC_TRAINING = TrainConfig()  # the central head's schedule (bench.rerank_personachat)


@dataclass(frozen=True)
class PublicConversations:
    """The conversations that may be used, and how many were dropped as someone's."""

    kept: tuple[SpcConversation, ...]
    dropped: int


class PersonaExclusion:
    """Which personas belong to the excluded dialogues (both sides of each)."""

    def __init__(self, dialogues: Sequence[Dialogue]) -> None:
        self._pairs = DialogueIndex(dialogues)
        self._bags = [
            bag for d in dialogues for bag in (words(d.persona), words(d.partner_persona)) if bag
        ]

    def matches_persona(self, facts: Sequence[str]) -> bool:
        bag = words(facts)
        return bool(bag) and any(jaccard(bag, other) >= MIN_JACCARD for other in self._bags)

    def excludes(self, conversation: SpcConversation) -> bool:
        first, second = conversation.personas
        return (
            self._pairs.match(first, second) is not None
            or self.matches_persona(first)
            or self.matches_persona(second)
        )


def public_spc_conversations(
    conversations: Sequence[SpcConversation], excluded: Sequence[Dialogue]
) -> PublicConversations:
    """The SPC conversations none of whose personas is one of ``excluded``'s."""
    exclusion = PersonaExclusion(excluded)
    kept = tuple(c for c in conversations if not exclusion.excludes(c))
    return PublicConversations(kept, len(conversations) - len(kept))


def spc_utterances(conversations: Sequence[SpcConversation]) -> list[Utterance]:
    """Both speakers' replies, each speaker one user with their own persona."""
    utterances = []
    for number, conversation in enumerate(conversations):
        for speaker in (0, 1):
            turns = conversation.turns
            utterances += [
                Utterance(
                    f"spc-public-{number}-{speaker}",
                    index,
                    turns[index - 1][1],
                    text,
                    conversation.personas[speaker],
                    "spc",
                )
                for index, (who, text) in enumerate(turns)
                if index > 0 and who == speaker and turns[index - 1][0] != speaker
            ]
    return utterances


def spc_examples(conversations: Sequence[SpcConversation], *, seed: int) -> list[RankingExample]:
    """Ranking examples whose distractors come from the same public conversations only."""
    return build_examples(spc_utterances(conversations), seed=seed)


def pretrain_head(
    examples: Sequence[RankingExample],
    embed: EmbedFn,
    *,
    seed: int = 0,
    config: TrainConfig = PUBLIC_TRAINING,
    head: HeadConfig | None = None,
) -> tuple[RerankingHead, TrainResult]:
    """A head trained centrally on ``examples``, from the seeded untrained head, with the
    central benchmark's schedule (early stopping on a seeded slice of the public data)."""
    if not examples:
        raise ValueError("no public examples to pretrain on")
    model = new_head(head or HeadConfig(), seed=seed)
    dimension = model.config.embedding_dim
    if dimension != EMBEDDING_DIM:
        raise ValueError(f"the encoder gives {EMBEDDING_DIM}-d vectors, the head takes {dimension}")
    result = train_head(model, encode(examples, embed, dimension=dimension), config)
    return model, result
