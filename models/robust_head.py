"""The central head of issue 13: persona evidence against the row's null, trained on ConvAI2,
its learned correction shrunk toward the prior on held-out users.

Three pieces, each measured on bench/generalisation.py (docs/benchmarks.md,
"Generalisation beyond ConvAI2"):
- features: ``HeadConfig(persona_null=True, persona_mean_prior=-0.75)``
  (models.persona_null), so the untrained head is a better zero-parameter scorer on both
  populations than persona_maxsim;
- training: models.training's listwise loss and early stopping on *users* held out from
  training (whole people, not a slice of the same people's rows);
- selection: models.correction_shrinkage scales the MLP's output by the factor with the
  best hits@1 on those held-out users (``shrink="correction"``), or mixes the trained
  head's scores with the untrained head's (``shrink="ensemble"``: the prior's trained
  drift shrinks too, the weight 0-1 picked on the same users).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, replace

from models.correction_shrinkage import (
    FINE_SCALES,
    shrink_correction,
    shrink_reply_match,
    shrink_to_untrained,
)
from models.encoded import EncodedExamples
from models.reply_training import REPLY_PREFIX, train_reply_term
from models.reranking_head import HeadConfig, RerankingHead
from models.training import (
    TrainConfig,
    TrainResult,
    hold_out,
    new_head,
    train_head,
    training_only_under,
)

NULL_HEAD = HeadConfig(persona_null=True, persona_mean_prior=-0.75)
# The null head with the context-to-reply term (models.reply_match). Rank 32 was set
# before any measurement, not tuned (2 x 384 x 32 = 24,576 more parameters).
REPLY_RANK = 32
REPLY_HEAD = HeadConfig(**{**NULL_HEAD.to_json(), "reply_match_rank": REPLY_RANK})
# The reply head whose term also weighs the words a candidate shares with the context
# (models.lexical_overlap); untrained it scores exactly as REPLY_HEAD (the weight starts at 0).
OVERLAP_HEAD = HeadConfig(**{**REPLY_HEAD.to_json(), "reply_overlap": True})
# The reply heads (train_reply_heads): "reply" is the untrained null prior plus the trained
# term; "reply_then_correction" then trains the rest with the term fixed, as head_null.
REPLY_STAGES = ("reply", "reply_then_correction")


# How the trained head is pulled back toward its prior (models.correction_shrinkage):
# "correction" scales the MLP's output only (the prior keeps its trained weights);
# "ensemble" is the output-space ensemble with the untrained head (the prior's drift too).
# "ensemble_1se": the ensemble at the smallest weight within one standard error of the best
# on a grid of eighths (models.correction_shrinkage.FINE_SCALES).
SHRINKS = ("correction", "ensemble", "ensemble_1se")


@dataclass(frozen=True)
class RobustResult:
    training: TrainResult
    scale: float


def train_robust_head(
    data: EncodedExamples,
    users: Sequence[str],
    config: TrainConfig,
    head: HeadConfig = NULL_HEAD,
    shrink: str = "correction",
) -> tuple[RerankingHead, RobustResult]:
    """Train on ``data`` less a ``config.validation_fraction`` of its ``users``; shrink on them."""
    return train_robust_heads(data, users, config, head, (shrink,))[shrink]


def train_robust_heads(
    data: EncodedExamples,
    users: Sequence[str],
    config: TrainConfig,
    head: HeadConfig = NULL_HEAD,
    shrinks: Sequence[str] = SHRINKS,
) -> dict[str, tuple[RerankingHead, RobustResult]]:
    """One training, each of ``shrinks`` applied to its own copy of the trained head."""
    if len(users) != len(data):
        raise ValueError(f"{len(users)} user ids for {len(data)} rows")
    if unknown := set(shrinks) - set(SHRINKS):
        raise ValueError(f"shrink must be among {SHRINKS}, got {sorted(unknown)}")
    model = new_head(head, seed=config.seed)
    untrained = copy.deepcopy(model)
    train, validation = hold_out(data, config, users)
    result = train_head(model, train, config, validation=validation)
    heads = {}
    for shrink in shrinks:
        copied = copy.deepcopy(model)
        scale = 1.0
        if validation is not None and shrink == "correction":
            scale = shrink_correction(copied, validation)
        elif validation is not None and shrink == "ensemble":
            scale = shrink_to_untrained(copied, untrained, validation)
        elif validation is not None:
            scale = shrink_to_untrained(copied, untrained, validation, FINE_SCALES, rule="one_se")
        heads[shrink] = (copied, RobustResult(result, scale))
    return heads


def train_reply_heads(
    data: EncodedExamples, users: Sequence[str], config: TrainConfig, head: HeadConfig = REPLY_HEAD
) -> dict[str, tuple[RerankingHead, RobustResult]]:
    """The context-to-reply term first, alone on top of the untrained prior (the MLP's
    correction stays zero), its weight then picked on the held-out users ("reply"); from
    there every other parameter trains with the term fixed and the MLP's correction is
    shrunk on the same users, as for head_null ("reply_then_correction"). The term trains
    on sharpened scores (models.reply_training) and stops on held-out hits@1.

    Why the term first and alone: it is what carries to a new kind of conversation, while
    the full head's learned persona correction pulls Multi-Session Chat down (see the
    module docstring); trained together, the two would share one early-stopping epoch."""
    if not head.reply_match_rank:
        raise ValueError(f"the head has no context-to-reply term: {head}")
    if len(users) != len(data):
        raise ValueError(f"{len(users)} user ids for {len(data)} rows")
    model = new_head(head, seed=config.seed)
    train, validation = hold_out(data, config, users)
    first = _fit_reply_term(model, train, validation, config)
    heads = {"reply": (copy.deepcopy(model), first)}
    with training_only_under(model, REPLY_PREFIX, inside=False):
        second = train_head(model, train, config, validation=validation)
    scale = shrink_correction(model, validation) if validation is not None else 1.0
    heads["reply_then_correction"] = (model, RobustResult(second, scale))
    return heads


def fit_reply_term(
    model: RerankingHead, data: EncodedExamples, users: Sequence[str], config: TrainConfig
) -> RobustResult:
    """``train_reply_heads``' first stage from any head with the term (a trained one too):
    the term alone, stopped and its weight picked on a ``config.validation_fraction`` of
    ``users``, in place."""
    if len(users) != len(data):
        raise ValueError(f"{len(users)} user ids for {len(data)} rows")
    train, validation = hold_out(data, config, users)
    return _fit_reply_term(model, train, validation, config)


def _fit_reply_term(
    model: RerankingHead,
    train: EncodedExamples,
    validation: EncodedExamples | None,
    config: TrainConfig,
) -> RobustResult:
    result = train_reply_term(model, train, replace(config, stop_on="hits"), validation=validation)
    scale = shrink_reply_match(model, validation) if validation is not None else 1.0
    return RobustResult(result, scale)


def with_shared_words(model: RerankingHead) -> RerankingHead:
    """A copy of a head with the term whose term also weighs shared words
    (``reply_overlap``), that weight at zero: it scores exactly as ``model``. How a head
    trained without the weight becomes a start that can learn it (models.public_head)."""
    if not model.config.reply_match_rank:
        raise ValueError(f"the head has no context-to-reply term: {model.config}")
    extended = RerankingHead(replace(model.config, reply_overlap=True))
    missing, unexpected = extended.load_state_dict(model.state_dict(), strict=False)
    if unexpected or missing != ["reply_match.overlap_weight"]:
        raise ValueError(f"not a head this extends: missing {missing}, unexpected {unexpected}")
    return extended
