"""Persona evidence against the row's own null, persona dilution, and early stopping on hits@1
(issue 13), on a real ConvAI2 exchange embedded by the real encoder."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from bench.rerank_personachat import cosine
from models.correction_shrinkage import scale_correction, shrink_correction
from models.encoded import EncodedExamples
from models.onnx_export import export_head_onnx
from models.onnx_scorer import OnnxHeadScorer
from models.persona_dilution import dilute_personas
from models.reranking_head import HeadConfig
from models.robust_head import NULL_HEAD
from models.training import TrainConfig, new_head, score, train_head
from tests.models.test_head_and_training import _synthetic


def _centred_reference(data: EncodedExamples) -> np.ndarray:
    """cos + max_j s - 0.75 mean_j s with s each fact's cosines centred over the candidates,
    computed in numpy (one row, no padding)."""
    cos = data.candidates[0] @ data.context[0]
    facts = data.candidates[0] @ data.persona[0].T  # (K, P)
    centred = facts - facts.mean(axis=0, keepdims=True)
    reference: np.ndarray = (cos + centred.max(axis=1) - 0.75 * centred.mean(axis=1))[None, :]
    return reference


def test_an_untrained_null_head_scores_centred_persona_evidence(exchange):
    scores = score(new_head(NULL_HEAD, seed=0), exchange)

    np.testing.assert_allclose(scores, _centred_reference(exchange), atol=1e-5)


def _generic_fact(candidates: np.ndarray) -> np.ndarray:
    """A unit vector with the same cosine to every candidate: the least-norm g with
    R g = 1, normalised (the real candidates are linearly independent)."""
    g = candidates.T @ np.linalg.solve(candidates @ candidates.T, np.ones(len(candidates)))
    unit: np.ndarray = (g / np.linalg.norm(g)).astype(np.float32)
    return unit


def test_facts_that_separate_no_candidate_leave_the_context_ordering(exchange):
    generic = _generic_fact(exchange.candidates[0])
    flat = replace(
        exchange,
        persona=np.stack([generic, generic])[None],
        persona_mask=np.ones((1, 2), np.float32),
    )
    same = flat.candidates[0] @ generic
    assert np.ptp(same) < 1e-4 < float(same.mean())  # equally like every candidate

    scores = score(new_head(NULL_HEAD, seed=0), flat)

    np.testing.assert_allclose(scores, cosine(flat), atol=1e-5)
    assert np.argmax(scores) == np.argmax(cosine(flat))


def test_padded_candidates_take_no_part_in_the_null(exchange):
    model = new_head(NULL_HEAD, seed=0)
    padded = replace(
        exchange,
        candidates=np.concatenate([exchange.candidates, np.zeros((1, 5, 384), np.float32)], 1),
        candidate_mask=np.concatenate([exchange.candidate_mask, np.zeros((1, 5), np.float32)], 1),
    )

    np.testing.assert_allclose(score(model, padded)[0, :20], score(model, exchange)[0], atol=1e-5)


def test_onnx_scores_of_the_null_head_match_torch(tmp_path, exchange):
    model = new_head(NULL_HEAD, seed=0)
    train_head(model, _synthetic(n=64, k=20, seed=4), TrainConfig(epochs=2, seed=0))
    scorer = OnnxHeadScorer(export_head_onnx(model, tmp_path / "head.onnx"))

    onnx_scores = scorer.scores(
        exchange.context, exchange.candidates[:, :9], exchange.persona, exchange.persona_mask
    )

    # Nine candidates, not the export example's count: the null is taken over these nine.
    np.testing.assert_allclose(onnx_scores, _torch(model, exchange, 9), atol=1e-5)


def _torch(model: torch.nn.Module, data: EncodedExamples, k: int) -> np.ndarray:
    with torch.no_grad():
        out = model(
            torch.from_numpy(data.context),
            torch.from_numpy(data.candidates[:, :k]),
            torch.from_numpy(data.persona),
            torch.from_numpy(data.persona_mask),
        )
    scores: np.ndarray = out.numpy()
    return scores


def test_checkpoints_without_the_null_describe_the_old_head():
    old = HeadConfig.from_json(
        {"embedding_dim": 384, "hidden_dim": 64, "mlp_dim": 32, "use_handcrafted": True}
    )

    assert not old.persona_null
    assert old.persona_mean_prior == 0.0


def _groups(n: int, users: int) -> list[str]:
    return [f"user-{i % users}" for i in range(n)]


def test_dilution_adds_only_other_peoples_facts_up_to_the_limit():
    data = _synthetic(n=40, p=3, seed=5)
    groups = _groups(40, 8)

    diluted = dilute_personas(data, groups, np.random.default_rng(0), max_facts=9, fraction=1.0)

    counts = diluted.persona_mask.sum(1)
    assert diluted.persona.shape[1] == 9
    assert counts.min() == 3
    assert 3 < counts.max() <= 9
    np.testing.assert_array_equal(diluted.persona[:, :3], data.persona)
    owner = {tuple(np.round(f, 6)): groups[r] for r in range(40) for f in data.persona[r]}
    for row in range(40):
        for fact in diluted.persona[row, 3 : int(counts[row])]:
            assert owner[tuple(np.round(fact, 6))] != groups[row]


def test_dilution_rejects_a_limit_below_the_rows_own_facts():
    with pytest.raises(ValueError, match="max_facts 2"):
        dilute_personas(_synthetic(n=8, p=3), _groups(8, 2), np.random.default_rng(0), max_facts=2)


def test_early_stopping_on_hits_keeps_the_untrained_head_when_training_only_hurts():
    """Training rows whose label points at a random candidate, validation rows whose gold is
    the persona match: every epoch ranks the validation rows worse than the start."""
    validation = _synthetic(n=60, seed=6)
    noise = _synthetic(n=200, seed=7)
    wrong = replace(noise, labels=np.random.default_rng(0).integers(1, 5, 200))
    model = new_head(HeadConfig(), seed=0)
    start = [p.detach().clone() for p in model.parameters()]

    result = train_head(
        model, wrong, TrainConfig(epochs=4, stop_on="hits", seed=0), validation=validation
    )

    assert result.best_epoch == 0
    assert result.epochs_run >= 3
    assert all(torch.equal(p.detach(), s) for p, s in zip(model.parameters(), start, strict=True))


def test_stop_on_names_the_bad_value():
    with pytest.raises(ValueError, match="'accuracy'"):
        TrainConfig(stop_on="accuracy")


def test_a_zero_correction_scale_leaves_the_prior(exchange):
    model = new_head(NULL_HEAD, seed=0)
    train_head(model, _synthetic(n=64, k=20, seed=8), TrainConfig(epochs=2, seed=0))
    assert not np.allclose(score(model, exchange), _centred_reference(exchange), atol=1e-3)
    with torch.no_grad():
        model.prior.weight.copy_(torch.tensor([[1.0, 1.0, -0.75]]))

    scale_correction(model, 0.0)

    np.testing.assert_allclose(score(model, exchange), _centred_reference(exchange), atol=1e-5)


def test_shrinking_picks_the_smallest_of_equally_good_scales_and_keeps_the_rest():
    data = _synthetic(n=60, seed=9)
    model = new_head(HeadConfig(), seed=0)
    train_head(model, _synthetic(n=200, seed=10), TrainConfig(epochs=3, seed=0))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}

    scale = shrink_correction(model, data, scales=(1.0, 0.5))

    hits = {}
    for s in (0.5, 1.0):
        trial = new_head(HeadConfig(), seed=0)
        trial.load_state_dict({n: p.clone() for n, p in before.items()}, strict=False)
        scale_correction(trial, s)
        hits[s] = float((score(trial, data).argmax(1) == 0).mean())
    assert scale == (0.5 if hits[0.5] >= hits[1.0] else 1.0)
    for name, parameter in model.named_parameters():
        factor = scale if name.startswith("score.2.") else 1.0
        torch.testing.assert_close(parameter.detach(), before[name] * factor)
