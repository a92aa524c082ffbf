"""The output-space ensemble of the trained null head with its untrained start
(models.correction_shrinkage.ensemble_with_untrained, models.robust_head.SHRINKS)."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest

from models import correction_shrinkage
from models.correction_shrinkage import (
    ENSEMBLE_SCALES,
    ensemble_with_untrained,
    scale_correction,
    shrink_to_untrained,
)
from models.reranking_head import HeadConfig, RerankingHead
from models.robust_head import NULL_HEAD, train_robust_heads
from models.training import TrainConfig, new_head, score, train_head
from tests.models.test_head_and_training import _synthetic


def _trained_pair(head: HeadConfig = NULL_HEAD) -> tuple[RerankingHead, RerankingHead]:
    untrained = new_head(head, seed=0)
    model = copy.deepcopy(untrained)
    train_head(model, _synthetic(n=96, k=6, seed=3), TrainConfig(epochs=3, seed=0))
    return model, untrained


@pytest.mark.parametrize("reply_rank", [0, 4], ids=["null", "null_reply_match"])
def test_the_ensemble_scores_are_the_mix_of_the_two_heads_scores(reply_rank):
    model, untrained = _trained_pair(replace(NULL_HEAD, reply_match_rank=reply_rank))
    data = _synthetic(n=12, k=6, seed=4)
    trained, start = score(model, data), score(untrained, data)
    assert not np.allclose(trained, start, atol=1e-3)

    for scale in (0.0, 0.25, 1.0):
        mixed = copy.deepcopy(model)
        ensemble_with_untrained(mixed, untrained, scale)
        np.testing.assert_allclose(
            score(mixed, data), (1 - scale) * start + scale * trained, atol=1e-5
        )


def test_shrinking_the_mlp_alone_keeps_the_prior_drift_that_the_ensemble_removes():
    # The training moves the prior's weights too: at scale 0 the MLP-only shrinkage is the
    # *trained* prior, not the head the training started from.
    model, untrained = _trained_pair()
    data = _synthetic(n=12, k=6, seed=4)
    mlp_only = copy.deepcopy(model)
    scale_correction(mlp_only, 0.0)
    assert not np.allclose(score(mlp_only, data), score(untrained, data), atol=1e-4)


def test_the_chosen_ensemble_scale_is_never_worse_than_the_start_on_the_held_out_rows():
    model, untrained = _trained_pair()
    validation = _synthetic(n=40, k=6, seed=5)

    scale = shrink_to_untrained(model, untrained, validation)

    assert scale in ENSEMBLE_SCALES
    hits = float((score(model, validation).argmax(1) == 0).mean())
    assert hits >= float((score(untrained, validation).argmax(1) == 0).mean())


def test_the_ensemble_refuses_what_it_cannot_express_with_the_reason():
    model, untrained = _trained_pair()
    with pytest.raises(ValueError, match=r"scale must be in \[0, 1\], got 1.5"):
        ensemble_with_untrained(model, untrained, 1.5)
    with pytest.raises(ValueError, match="MLP output is not zero"):
        ensemble_with_untrained(model, model, 0.5)
    gated = new_head(HeadConfig(use_gate=True), seed=0)
    with pytest.raises(ValueError, match="only for a plain prior head"):
        ensemble_with_untrained(gated, copy.deepcopy(gated), 0.5)


def test_one_training_gives_both_shrinkages_and_unknown_ones_are_named():
    data = _synthetic(n=240, k=6, seed=6)
    users = [f"user{i % 24}" for i in range(len(data))]
    config = TrainConfig(epochs=2, seed=0)

    heads = train_robust_heads(data, users, config)

    assert set(heads) == {"correction", "ensemble", "ensemble_1se"}
    assert heads["correction"][1].training is heads["ensemble"][1].training
    assert heads["ensemble"][1].scale in ENSEMBLE_SCALES
    with pytest.raises(ValueError, match=r"\['wise'\]"):
        train_robust_heads(data, users, config, shrinks=("wise",))


@pytest.mark.parametrize(("rule", "expected"), [("best", 1.0), ("one_se", 0.5)])
def test_the_one_se_rule_takes_the_smallest_weight_within_a_standard_error(
    monkeypatch, rule, expected
):
    # Held-out errors 0.30 / 0.25 / 0.24 at weights 0 / 0.5 / 1 over 100 rows: one standard
    # error of the best is sqrt(0.24 x 0.76 / 100) = 0.043, so 0.5 is within it and 0 is not.
    model, untrained = _trained_pair()
    errors = iter([0.30, 0.25, 0.24])
    monkeypatch.setattr(correction_shrinkage, "validation_error", lambda *_: next(errors))

    scale = shrink_to_untrained(
        model, untrained, _synthetic(n=100, k=6, seed=7), (1.0, 0.0, 0.5), rule=rule
    )

    assert scale == expected


def test_an_unknown_rule_is_named():
    model, untrained = _trained_pair()
    with pytest.raises(ValueError, match="got 'median'"):
        shrink_to_untrained(model, untrained, _synthetic(n=10, k=6, seed=7), rule="median")
