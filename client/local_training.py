"""The on-device training step: the person's sealed signals -> a few epochs of the head.

Everything happens in this process: pairs are decrypted from the store, embedded with the
device encoder, and the head is trained with torch. Only the resulting weights may leave
the device (as a clipped, noised update; see the federation).
"""

from __future__ import annotations

from collections.abc import Sequence

from client.persona import persona_fact
from client.profile import Profile
from client.training_pairs import Signal, TrainingPair
from models.encoded import EmbedFn, EncodedExamples, encode
from models.ranking_task import RankingExample
from models.reply_training import train_head_or_reply_term
from models.reranking_head import RerankingHead
from models.stance_persona import encode_with_stance
from models.training import TrainConfig, TrainResult

LOCAL_TRAINING = TrainConfig(
    epochs=10, batch_size=16, validation_fraction=0.2, min_validation_examples=20, patience=2
)


def encode_pairs(
    pairs: Sequence[TrainingPair],
    persona_facts: Sequence[str],
    embed: EmbedFn,
    *,
    dimension: int,
    stance_input: bool = False,
) -> EncodedExamples:
    """The pairs as head examples; ``stance_input`` (HeadConfig.stance_input): the persona
    enters with stance (models.stance_persona)."""
    examples = [
        RankingExample(
            user_id="me",
            position=i,
            context=p.context,
            persona=tuple(persona_facts),
            candidates=p.candidates,
        )
        for i, p in enumerate(pairs)
    ]
    return (encode_with_stance if stance_input else encode)(
        examples,
        embed,
        dimension=dimension,
        labels=[p.chosen for p in pairs],
        signs=[-1.0 if p.signal is Signal.THUMBS_DOWN else 1.0 for p in pairs],
        weights=[p.weight for p in pairs],
    )


def local_training_step(
    profile: Profile, model: RerankingHead, embed: EmbedFn, config: TrainConfig = LOCAL_TRAINING
) -> TrainResult:
    """Train ``model`` in place on every training pair in ``profile`` (a head with the
    context-to-reply term trains the term alone: models.reply_training)."""
    pairs = profile.training.all()
    facts = [persona_fact(a) for a in profile.persona.attributes()]
    data = encode_pairs(
        pairs,
        facts,
        embed,
        dimension=model.config.embedding_dim,
        stance_input=model.config.stance_input,
    )
    return train_head_or_reply_term(model, data, config)
