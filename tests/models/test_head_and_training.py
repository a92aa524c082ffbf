from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from models.encoded import EncodedExamples
from models.reranking_head import HeadConfig, RerankingHead, parameter_count
from models.training import TrainConfig, listwise_loss, new_head, score, train_head
from models.weights import (
    flatten,
    get_weights,
    load_checkpoint,
    save_checkpoint,
    set_weights,
    unflatten,
)


def _unit(rng: np.random.Generator, *shape: int) -> np.ndarray:
    x = rng.standard_normal((*shape, 384)).astype(np.float32)
    unit: np.ndarray = x / np.linalg.norm(x, axis=-1, keepdims=True)
    return unit


def _synthetic(n: int = 64, k: int = 5, p: int = 3, seed: int = 0) -> EncodedExamples:
    """Examples where the gold candidate is the one closest to a persona fact."""
    rng = np.random.default_rng(seed)
    persona = _unit(rng, n, p)
    candidates = _unit(rng, n, k)
    candidates[:, 0] = persona[:, 0] * 0.8 + candidates[:, 0] * 0.2
    candidates /= np.linalg.norm(candidates, axis=-1, keepdims=True)
    return EncodedExamples(
        _unit(rng, n),
        candidates,
        np.ones((n, k), np.float32),
        persona,
        np.ones((n, p), np.float32),
        np.zeros(n, np.int64),
        np.ones(n, np.float32),
        np.ones(n, np.float32),
    )


@pytest.mark.parametrize("handcrafted", [True, False])
def test_head_scores_have_one_value_per_candidate_and_size_is_small(handcrafted):
    model = RerankingHead(HeadConfig(use_handcrafted=handcrafted))

    scores = model(
        torch.zeros(2, 384), torch.zeros(2, 7, 384), torch.zeros(2, 4, 384), torch.ones(2, 4)
    )

    assert scores.shape == (2, 7)
    assert 10_000 <= parameter_count(model) <= 100_000


def test_head_ignores_padded_persona_facts():
    model = new_head(HeadConfig(), seed=0)
    rng = np.random.default_rng(1)
    context, candidates, facts = (torch.from_numpy(_unit(rng, *s)) for s in ((1,), (1, 4), (1, 2)))
    padded = torch.cat([facts, torch.from_numpy(_unit(rng, 1, 3))], dim=1)

    plain = model(context, candidates, facts, torch.ones(1, 2))
    with_padding = model(context, candidates, padded, torch.tensor([[1.0, 1, 0, 0, 0]]))

    torch.testing.assert_close(plain, with_padding, atol=1e-5, rtol=0)


def test_listwise_loss_matches_hand_computed_values():
    scores = torch.tensor([[2.0, 1.0, 0.0]])
    mask = torch.ones(1, 3)
    log_z = math.log(math.exp(2) + math.exp(1) + 1)

    liked = listwise_loss(scores, mask, torch.tensor([1]), torch.tensor([1.0]), torch.ones(1))
    disliked = listwise_loss(scores, mask, torch.tensor([0]), torch.tensor([-1.0]), torch.ones(1))
    padded = listwise_loss(
        torch.tensor([[2.0, 1.0, 50.0]]),
        torch.tensor([[1.0, 1.0, 0.0]]),
        torch.tensor([0]),
        torch.tensor([1.0]),
        torch.ones(1),
    )

    assert liked.item() == pytest.approx(log_z - 1.0, abs=1e-6)
    p0 = math.exp(2 - log_z)
    assert disliked.item() == pytest.approx(-math.log(1 - p0), abs=1e-6)
    assert padded.item() == pytest.approx(math.log(1 + math.exp(-1)), abs=1e-6)


def test_training_is_deterministic_under_a_seed_and_learns():
    data = _synthetic(n=200)
    config = TrainConfig(epochs=20, seed=3)

    # Without the hand-made features the head has to learn the persona link itself.
    head = HeadConfig(use_handcrafted=False)
    first, second = new_head(head, seed=3), new_head(head, seed=3)
    before = float(np.mean(np.argmax(score(first, data), axis=1) == 0))
    train_head(first, data, config)
    train_head(second, data, config)

    for a, b in zip(get_weights(first), get_weights(second), strict=True):
        np.testing.assert_array_equal(a, b)
    after = float(np.mean(np.argmax(score(first, data), axis=1) == 0))
    assert before < 0.5
    assert after > 0.8  # chance is 0.2


def test_early_stopping_keeps_the_best_validation_epoch():
    data = _synthetic(n=300)
    model = new_head(HeadConfig(), seed=0)

    result = train_head(model, data, TrainConfig(epochs=60, patience=2, learning_rate=0.05))

    assert result.stopped_early
    assert result.best_epoch == 1 + int(np.argmin(result.validation_loss))
    assert result.epochs_run == result.best_epoch + 2


def test_weights_round_trip_through_arrays_vectors_and_checkpoints(tmp_path):
    model = new_head(HeadConfig(hidden_dim=16), seed=1)
    arrays = get_weights(model)
    other = new_head(HeadConfig(hidden_dim=16), seed=2)

    set_weights(other, unflatten(flatten(arrays), arrays))
    save_checkpoint(tmp_path / "head.npz", other, extra={"rounds": 3})
    loaded, extra = load_checkpoint(tmp_path / "head.npz")

    assert extra == {"rounds": 3}
    assert loaded.config == HeadConfig(hidden_dim=16)
    for a, b in zip(arrays, get_weights(loaded), strict=True):
        np.testing.assert_array_equal(a, b)


def test_set_weights_rejects_wrong_shapes_and_nan():
    model = new_head(HeadConfig(), seed=0)
    arrays = get_weights(model)
    bad = [a.copy() for a in arrays]
    bad[0][0, 0] = np.nan

    with pytest.raises(ValueError, match="NaN"):
        set_weights(model, bad)
    with pytest.raises(ValueError, match="shape"):
        set_weights(model, [arrays[1], arrays[0], *arrays[2:]])
    with pytest.raises(ValueError, match="expected"):
        set_weights(model, arrays[:-1])


def test_load_checkpoint_rejects_other_files(tmp_path):
    path = tmp_path / "x.npz"
    np.savez(path, a=np.zeros(2))

    with pytest.raises(ValueError, match="checkpoint"):
        load_checkpoint(path)
