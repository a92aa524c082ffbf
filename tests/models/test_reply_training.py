"""How a head with the context-to-reply term trains (models.reply_training), centrally and
on a device: the term alone, on sharpened scores; any other head exactly as train_head."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest
import torch

from models.encoded import EncodedExamples
from models.reply_match import REPLY_WEIGHT_SCALE
from models.reply_training import train_head_or_reply_term, train_reply_term
from models.reranking_head import HeadConfig, RerankingHead
from models.robust_head import NULL_HEAD
from models.training import TrainConfig, evaluate_loss, new_head, score, train_head
from tests.models.test_head_and_training import _synthetic

DEVICE_STEP = TrainConfig(epochs=3, batch_size=16, validation_fraction=0.0, seed=1)


def _trained_looking(head: HeadConfig) -> RerankingHead:
    """A head whose MLP output and term are not zero, as after some rounds."""
    model = new_head(head, seed=0)
    last = model.score[-1]
    assert isinstance(last, torch.nn.Linear)
    with torch.no_grad():
        last.weight.normal_(0.0, 0.5)
        last.bias.fill_(0.3)
        if head.reply_match_rank:
            model.reply_match.reply_side.weight.normal_(0.0, 0.5)
    return model


@pytest.mark.parametrize("head", [HeadConfig(), NULL_HEAD, HeadConfig(use_handcrafted=False)])
def test_a_head_without_the_term_trains_exactly_as_train_head(head):
    data = _synthetic(n=48, seed=2)
    plain, routed = _trained_looking(head), _trained_looking(head)

    expected = train_head(plain, data, DEVICE_STEP)
    result = train_head_or_reply_term(routed, data, DEVICE_STEP)

    assert result.train_loss == expected.train_loss
    for name, value in plain.state_dict().items():
        assert torch.equal(routed.state_dict()[name], value), name


def test_with_the_term_only_the_term_moves_and_its_loss_is_at_the_sharpened_temperature():
    model = _trained_looking(replace(NULL_HEAD, reply_match_rank=4))
    data = _synthetic(n=48, seed=4)
    start = copy.deepcopy(model.state_dict())
    sharpened_loss = evaluate_loss(model, data, DEVICE_STEP.reply_sharpening)
    barely = copy.deepcopy(model)

    train_head_or_reply_term(model, data, DEVICE_STEP)
    first = train_head_or_reply_term(barely, data, replace(DEVICE_STEP, learning_rate=1e-12))

    for name, value in model.state_dict().items():
        moved = not torch.equal(value, start[name])
        assert moved == name.startswith("reply_match."), name
    assert DEVICE_STEP.reply_sharpening == 20.0
    assert first.train_loss[0] == pytest.approx(sharpened_loss, rel=1e-5)
    assert sharpened_loss != pytest.approx(evaluate_loss(model, data), rel=1e-2)
    with pytest.raises(ValueError, match="no context-to-reply term"):
        train_reply_term(new_head(NULL_HEAD, seed=0), data, DEVICE_STEP)


def test_the_terms_weights_are_stored_at_20_times_the_scale_they_score_at():
    """So the DP noise, the same on every coordinate, moves the term's scores 20 times less."""
    model = new_head(replace(NULL_HEAD, reply_match_rank=4), seed=0)
    noise = torch.randn_like(model.reply_match.reply_side.weight)
    with torch.no_grad():
        model.reply_match.reply_side.weight.copy_(noise)
    context, candidates = torch.randn(3, 384), torch.randn(3, 5, 384)

    with torch.no_grad():
        scores = model.reply_match(context, candidates)
        raw = (model.reply_match.context_side(context).unsqueeze(1) * (candidates @ noise.T)).sum(
            -1
        )

    torch.testing.assert_close(scores, raw / REPLY_WEIGHT_SCALE)
    assert REPLY_WEIGHT_SCALE == 20.0


DIM = 16


def _unit(x: np.ndarray) -> np.ndarray:
    unit: np.ndarray = (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)
    return unit


def _orthogonal_to(rng: np.random.Generator, context: np.ndarray) -> np.ndarray:
    x = rng.standard_normal(context.shape)
    return _unit(x - (x * context).sum(-1, keepdims=True) * context)


def _persona_and_reply_rows(n: int, seed: int, turn: np.ndarray) -> EncodedExamples:
    """Half the rows are decided by the persona, against a distractor closer to the turn
    (the prior ranks them right); in the other half the gold answers the turn (turn @ c)
    and the first distractor is the turn c answers (turn.T @ c): cosine ties the two.
    Every other distractor is less similar to the turn than the gold: a term that merely
    enlarges cosine lowers the loss and breaks the persona rows."""
    rng = np.random.default_rng(seed)
    context = _unit(rng.standard_normal((n, DIM)))
    persona = _orthogonal_to(rng, context)
    candidates = np.stack([_unit(0.2 * context + 0.98 * _orthogonal_to(rng, context))] * 6, 1)
    for j in range(2, 6):
        candidates[:, j] = _unit(0.2 * context + 0.98 * _orthogonal_to(rng, context))
    half = n // 2
    candidates[:half, 0] = _unit(0.6 * context[:half] + 0.8 * persona[:half])
    candidates[:half, 1] = _unit(0.7 * context[:half] + 0.714 * _orthogonal_to(rng, context[:half]))
    candidates[half:, 0] = context[half:] @ turn.T
    candidates[half:, 1] = context[half:] @ turn
    persona_mask = np.ones((n, 1), np.float32)
    persona_mask[half:] = 0.0
    return EncodedExamples(
        context,
        candidates,
        np.ones((n, 6), np.float32),
        persona[:, None, :],
        persona_mask,
        np.zeros(n, np.int64),
        np.ones(n, np.float32),
        np.ones(n, np.float32),
    )


def _hits(model: RerankingHead, data: EncodedExamples) -> tuple[float, float]:
    """hits@1 on (the persona half, the reply half)."""
    top = score(model, data).argmax(1) == data.labels
    half = len(data) // 2
    return float(top[:half].mean()), float(top[half:].mean())


def test_sharpened_the_term_learns_the_reply_relation_where_at_temperature_1_it_learns_scale():
    turn = np.linalg.qr(np.random.default_rng(0).standard_normal((DIM, DIM)))[0]
    train = _persona_and_reply_rows(96, seed=1, turn=turn.astype(np.float32))
    test = _persona_and_reply_rows(400, seed=2, turn=turn.astype(np.float32))
    head = replace(NULL_HEAD, embedding_dim=DIM, hidden_dim=8, mlp_dim=8, reply_match_rank=DIM)
    sharp, at_one = new_head(head, seed=0), new_head(head, seed=0)
    persona_before, reply_before = _hits(sharp, test)
    config = TrainConfig(epochs=10, batch_size=16, learning_rate=1e-2, validation_fraction=0.0)

    train_head_or_reply_term(sharp, train, config)
    # At temperature 1, with steps as large in the scale the term scores at.
    plain_steps = replace(config, learning_rate=REPLY_WEIGHT_SCALE * config.learning_rate)
    train_reply_term(at_one, train, replace(plain_steps, reply_sharpening=1.0))

    persona_sharp, reply_sharp = _hits(sharp, test)
    persona_at_one, _ = _hits(at_one, test)
    assert persona_before >= 0.95
    assert reply_before <= 0.1
    assert reply_sharp >= reply_before + 0.1
    assert persona_sharp >= 0.9
    assert persona_at_one <= 0.6
