"""Second training stage: teach the head's stance features from stated preferences.

The next-utterance data the head trains on first (ConvAI2) has no avoidances to learn
from: a reply that mentions a thing the speaker hates is still a good reply. Stated
preferences with options (PrefEval's multiple choice) do. Only the stance parameters
(models.polarity) train in this stage, so what the head learned about conversations
stays; the conversation examples stay in the loss, weighted to balance the preference
examples (Japkowicz & Stephen 2002 on re-weighting for class imbalance), so the stance
does not learn to read every fact as an avoidance.

Early stopping watches a seeded fifth of the preference examples together with held-out
conversation users. (Holding out a whole topic instead was tried: with four topics to
train on, one held-out topic stopped training after one epoch on one fold and scored
32.6% on unseen topics against 37.9% for item-level validation, both seed 0 with 30
epochs in the exploration; docs/benchmarks.md.)
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import replace

import numpy as np

from models.encoded import EncodedExamples, concatenate
from models.reranking_head import RerankingHead
from models.training import TrainConfig, TrainResult, train_head, training_only_under

STANCE_PREFIX = "polarity."
STANCE_TRAINING = TrainConfig(epochs=10, patience=3, weight_decay=1e-2)


def balanced(preferences: EncodedExamples, total_weight: float) -> EncodedExamples:
    """``preferences`` with weights scaled so that they sum to ``total_weight``."""
    scale = total_weight / max(float(preferences.weights.sum()), 1e-12)
    return replace(preferences, weights=preferences.weights * scale)


def train_stance(
    model: RerankingHead,
    conversations: EncodedExamples,
    preferences: EncodedExamples,
    *,
    validation_users: EncodedExamples | None,
    config: TrainConfig = STANCE_TRAINING,
) -> TrainResult:
    """Train ``model``'s stance parameters in place; a fifth of ``preferences`` (drawn
    with the config's seed) is held out for early stopping with ``validation_users``."""
    if not getattr(model.config, "use_polarity", False):
        raise ValueError("the head has no stance features (HeadConfig.use_polarity)")
    order = np.random.default_rng(config.seed).permutation(len(preferences))
    held_rows, train_rows = order[: len(order) // 5], order[len(order) // 5 :]
    weight = float(conversations.weights.sum())
    data = concatenate([conversations, balanced(preferences.subset(train_rows), weight)])
    held = preferences.subset(held_rows)
    validation = (
        held
        if validation_users is None
        else concatenate([validation_users, balanced(held, float(validation_users.weights.sum()))])
    )
    with training_only(model, stance=True):
        return train_head(model, data, config, validation=validation)


def training_only(model: RerankingHead, *, stance: bool) -> AbstractContextManager[None]:
    """Within the block only the stance parameters train (``stance``) or all but them.

    Stage 1 keeps the stance neutral: trained on conversations, where nothing is avoided,
    the stance features learned ConvAI2's topics and cost 2 points on Multi-Session Chat
    (69.5 -> 67.6 for seed 0; docs/benchmarks.md)."""
    return training_only_under(model, STANCE_PREFIX, inside=stance)
