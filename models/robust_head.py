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
from dataclasses import dataclass

from models.correction_shrinkage import FINE_SCALES, shrink_correction, shrink_to_untrained
from models.encoded import EncodedExamples
from models.reranking_head import HeadConfig, RerankingHead
from models.training import TrainConfig, TrainResult, hold_out, new_head, train_head

NULL_HEAD = HeadConfig(persona_null=True, persona_mean_prior=-0.75)


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
