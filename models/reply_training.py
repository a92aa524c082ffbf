"""How a head with the context-to-reply term trains (issue 13): the term alone, its loss
taken on the head's whole score multiplied by ``TrainConfig.reply_sharpening``.

Why the term alone: on a population it was not tuned on, the rest of the head (the MLP's
persona correction) is what pulls Multi-Session Chat down, while the term carries
(docs/benchmarks.md, "A context-to-reply term"). Why sharpened: at softmax temperature 1
the listwise loss on cosine-sized scores rewards a larger score scale, and the term grew to
supply scale instead of ranking (held-out ConvAI2 users' hits@1 fell from 59.1 to 48; at
x 20 it rose to 60.4). Multiplying the whole score by s inside the block, and dividing it
back afterwards (the prior, the MLP's output and the term are each linear in one weight),
is an exact weight edit: the head trains at temperature 1 / s and leaves the block ranking
as it entered, with only the term changed.

The same function trains a head centrally (models.robust_head) and on a device
(client.federated_round, client.local_training): a head without the term trains there
exactly as models.training.train_head trains it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from models.correction_shrinkage import scale_correction, scale_reply_match
from models.encoded import EncodedExamples
from models.reranking_head import RerankingHead
from models.training import TrainConfig, TrainResult, train_head, training_only_under

REPLY_PREFIX = "reply_match."


def train_head_or_reply_term(
    model: RerankingHead,
    data: EncodedExamples,
    config: TrainConfig,
    *,
    validation: EncodedExamples | None = None,
) -> TrainResult:
    """Train in place: the term alone when the head has one (``train_reply_term``), every
    parameter as ``train_head`` otherwise."""
    if model.config.reply_match_rank:
        return train_reply_term(model, data, config, validation=validation)
    return train_head(model, data, config, validation=validation)


def train_reply_term(
    model: RerankingHead,
    data: EncodedExamples,
    config: TrainConfig,
    *,
    validation: EncodedExamples | None = None,
) -> TrainResult:
    """Only the term's parameters train, on the score x ``config.reply_sharpening``."""
    if not model.config.reply_match_rank:
        raise ValueError(f"the head has no context-to-reply term: {model.config}")
    with training_only_under(model, REPLY_PREFIX), sharpened(model, config.reply_sharpening):
        return train_head(model, data, config, validation=validation)


@contextmanager
def sharpened(model: RerankingHead, factor: float) -> Iterator[None]:
    """Within the block the head scores x ``factor``; afterwards / ``factor``."""
    _scale_scores(model, factor)
    try:
        yield
    finally:
        _scale_scores(model, 1.0 / factor)


def _scale_scores(model: RerankingHead, factor: float) -> None:
    """score = MLP output + prior + term, each scaled by one weight edit."""
    scale_correction(model, factor)
    if model.config.use_handcrafted:
        with torch.no_grad():
            model.prior.weight.mul_(factor)
    if model.config.reply_match_rank:
        scale_reply_match(model, factor)
