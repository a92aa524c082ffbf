"""How a head with the context-to-reply term trains (issue 13): the term alone, its
listwise loss at softmax temperature 1 / ``TrainConfig.reply_sharpening``.

Why the term alone: on a population it was not tuned on, the rest of the head (the MLP's
persona correction) is what pulls Multi-Session Chat down, while the term carries
(docs/benchmarks.md, "A context-to-reply term"). Why sharpened: at temperature 1 the
listwise loss on cosine-sized scores rewards a larger score scale, and the term grew to
supply scale instead of ranking (held-out ConvAI2 users' hits@1 fell from 59.1 to 48; at
x 20 it rose to 60.4). With the sharpening equal to the term's weight scale
(models.reply_match.REPLY_WEIGHT_SCALE) this is exactly the central recipe those figures
came from: the prior x 20 and the term's raw weights trained against it.

The same function trains a head centrally (models.robust_head) and on a device
(client.federated_round, client.local_training): a head without the term trains there
exactly as models.training.train_head trains it. What a device's round releases is what
it trains (``released_mask``): a head with the term sends the term's update alone.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import numpy.typing as npt

from models.encoded import EncodedExamples
from models.reranking_head import HeadConfig, RerankingHead
from models.training import TrainConfig, TrainResult, train_head, training_only_under

REPLY_PREFIX = "reply_match."


@cache
def released_mask(config: HeadConfig) -> npt.NDArray[np.bool_]:
    """Over a head's flattened weights (models.weights order): the coordinates a device's
    round trains, and so releases: the term's alone for a head with one, every one
    otherwise. The rest never moves on a device; releasing its zeros would only have the
    noise of each round added to parameters that nothing then corrects, and double the
    vector every device masks and sends. Read-only (shared between calls)."""
    state = RerankingHead(config).state_dict()
    every = not config.reply_match_rank
    mask = np.concatenate(
        [np.full(t.numel(), every or name.startswith(REPLY_PREFIX)) for name, t in state.items()]
    )
    mask.setflags(write=False)
    return mask


def released_size(config: HeadConfig) -> int:
    """How many update coordinates a device's round releases (before its statistics)."""
    return int(released_mask(config).sum())


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
    """Only the term's parameters train, the loss on the score x ``config.reply_sharpening``."""
    if not model.config.reply_match_rank:
        raise ValueError(f"the head has no context-to-reply term: {model.config}")
    with training_only_under(model, REPLY_PREFIX):
        return train_head(
            model, data, config, validation=validation, sharpening=config.reply_sharpening
        )
