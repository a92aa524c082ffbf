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
  best hits@1 on those held-out users.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from models.correction_shrinkage import shrink_correction
from models.encoded import EncodedExamples
from models.reranking_head import HeadConfig, RerankingHead
from models.training import TrainConfig, TrainResult, hold_out, new_head, train_head

NULL_HEAD = HeadConfig(persona_null=True, persona_mean_prior=-0.75)


@dataclass(frozen=True)
class RobustResult:
    training: TrainResult
    scale: float


def train_robust_head(
    data: EncodedExamples,
    users: Sequence[str],
    config: TrainConfig,
    head: HeadConfig = NULL_HEAD,
) -> tuple[RerankingHead, RobustResult]:
    """Train on ``data`` less a ``config.validation_fraction`` of its ``users``; shrink on them."""
    if len(users) != len(data):
        raise ValueError(f"{len(users)} user ids for {len(data)} rows")
    model = new_head(head, seed=config.seed)
    train, validation = hold_out(data, config, users)
    result = train_head(model, train, config, validation=validation)
    scale = 1.0 if validation is None else shrink_correction(model, validation)
    return model, RobustResult(result, scale)
