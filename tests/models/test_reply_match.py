"""The context-to-reply term (models.reply_match): a neutral start, and an asymmetric
relation the shared projection's symmetric features cannot express."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from models.correction_shrinkage import ENSEMBLE_SCALES, scale_reply_match
from models.encoded import EncodedExamples
from models.reply_training import released_size, train_reply_term
from models.reranking_head import HeadConfig
from models.robust_head import (
    NULL_HEAD,
    OVERLAP_HEAD,
    REPLY_HEAD,
    train_reply_heads,
    with_shared_words,
)
from models.training import TrainConfig, new_head, score, train_head
from tests.models.test_head_and_training import _synthetic

DIM = 16


def test_an_untrained_head_with_the_term_scores_exactly_as_without_it():
    data = _synthetic()
    for base in (HeadConfig(), NULL_HEAD):
        without = new_head(base, seed=3)
        with_term = new_head(HeadConfig(**{**base.to_json(), "reply_match_rank": 8}), seed=3)

        shared = with_term.state_dict()
        assert all(torch.equal(shared[name], value) for name, value in without.state_dict().items())
        np.testing.assert_array_equal(score(with_term, data), score(without, data))


def _questions_and_answers(n: int, seed: int, turn: np.ndarray) -> EncodedExamples:
    """Each context c is answered by turn @ c (a fixed rotation, not symmetric). The first
    distractor is turn.T @ c, the turn that c itself answers: any score symmetric in context
    and reply (cosine, <W c, W r>, an MLP on W c * W r) gives it what it gives the gold,
    since (c, turn.T @ c) is the pair (y, turn @ y) for y = turn.T @ c, read backwards."""
    rng = np.random.default_rng(seed)
    context = rng.standard_normal((n, DIM)).astype(np.float32)
    context /= np.linalg.norm(context, axis=1, keepdims=True)
    answers = context @ turn.T
    asked = context @ turn
    others = answers[rng.permutation(n)]
    candidates = np.stack([answers, asked, others], axis=1)
    return EncodedExamples(
        context,
        candidates,
        np.ones((n, 3), np.float32),
        np.zeros((n, 1, DIM), np.float32),
        np.zeros((n, 1), np.float32),
        np.zeros(n, np.int64),
        np.ones(n, np.float32),
        np.ones(n, np.float32),
    )


def test_the_term_learns_which_reply_answers_a_turn_and_not_the_reverse():
    turn = np.linalg.qr(np.random.default_rng(0).standard_normal((DIM, DIM)))[0].astype(np.float32)
    config = HeadConfig(embedding_dim=DIM, hidden_dim=8, mlp_dim=8, reply_match_rank=DIM)
    model = new_head(config, seed=0)
    test = _questions_and_answers(200, seed=2, turn=turn)
    untrained = score(model, test)
    np.testing.assert_allclose(untrained[:, 0], untrained[:, 1], atol=1e-5)  # cos: a tie

    train_head(
        model,
        _questions_and_answers(400, seed=1, turn=turn),
        TrainConfig(epochs=30, learning_rate=1e-2, validation_fraction=0.0, seed=0),
    )

    assert (score(model, test).argmax(1) == 0).mean() >= 0.95
    asked, answered = test.context[:, None, :], test.candidates[:, :1, :]
    with torch.no_grad():
        forward = model.reply_match(torch.from_numpy(test.context), torch.from_numpy(answered))
        reverse = model.reply_match(torch.from_numpy(answered[:, 0]), torch.from_numpy(asked))
    assert float(forward.mean()) > float(reverse.mean()) + 1.0


def test_the_reply_heads_train_the_term_alone_then_the_rest_around_it():
    data = _synthetic(n=240, k=6, seed=6)
    users = [f"user{i % 24}" for i in range(len(data))]
    head = replace(NULL_HEAD, reply_match_rank=4)
    untrained = new_head(head, seed=0)

    heads = train_reply_heads(data, users, TrainConfig(epochs=2, seed=0), head)

    reply, result = heads["reply"]
    assert result.scale in ENSEMBLE_SCALES
    changed = {
        name
        for name, value in reply.state_dict().items()
        if not torch.equal(value, untrained.state_dict()[name])
    }
    assert changed <= {"reply_match.reply_side.weight", "reply_match.context_side.weight"}
    both, _ = heads["reply_then_correction"]
    for name in ("reply_match.reply_side.weight", "reply_match.context_side.weight"):
        assert torch.equal(both.state_dict()[name], reply.state_dict()[name])
    with pytest.raises(ValueError, match="no context-to-reply term"):
        train_reply_heads(data, users, TrainConfig(epochs=1, seed=0), NULL_HEAD)


def test_scaling_the_term_scales_its_share_of_the_scores():
    model = new_head(replace(NULL_HEAD, reply_match_rank=4), seed=0)
    with torch.no_grad():
        model.reply_match.reply_side.weight.normal_()
    data = _synthetic(n=8, k=5, seed=1)
    prior = score(new_head(NULL_HEAD, seed=0), data)
    full = score(model, data)

    scale_reply_match(model, 0.5)

    np.testing.assert_allclose(score(model, data) - prior, 0.5 * (full - prior), atol=1e-5)


def _sharing_words(n: int, seed: int) -> EncodedExamples:
    """_synthetic's rows, but the persona says nothing (masked out) and the only signal is
    shared words: the gold shares two with the turn, a distractor one, the rest none."""
    data = _synthetic(n=n, k=5, seed=seed)
    shared = np.zeros((n, 5), np.float32)
    shared[:, 0], shared[:, 1] = 2.0, 1.0
    order = np.random.default_rng(seed).permuted(np.tile(np.arange(5), (n, 1)), axis=1)
    rows = np.arange(n)[:, None]
    return replace(
        data,
        candidates=data.candidates[rows, order],
        persona_mask=np.zeros_like(data.persona_mask),
        labels=np.argsort(order, axis=1)[:, 0],
        shared_words=shared[rows, order],
    )


def test_the_shared_words_weight_starts_neutral_and_learns_what_the_counts_say():
    plain = new_head(REPLY_HEAD, seed=0)
    model = new_head(OVERLAP_HEAD, seed=0)
    data = _sharing_words(240, seed=3)
    np.testing.assert_array_equal(score(model, data), score(plain, data))
    with pytest.raises(ValueError, match="shared words"):
        model(
            *(torch.from_numpy(a) for a in (data.context, data.candidates, data.persona)),
            torch.from_numpy(data.persona_mask),
        )

    train_reply_term(model, data, TrainConfig(epochs=3, validation_fraction=0.0, seed=0))

    assert model.reply_match.overlap_weight is not None
    assert model.reply_match.overlap_weight.item() > 0.0
    test = _sharing_words(100, seed=4)
    assert (score(model, test).argmax(1) == test.labels).mean() > (
        score(plain, test).argmax(1) == test.labels
    ).mean() + 0.3
    assert released_size(OVERLAP_HEAD) == released_size(REPLY_HEAD) + 1


def test_a_head_trained_without_the_weight_extends_to_one_that_scores_the_same():
    trained = new_head(REPLY_HEAD, seed=0)
    with torch.no_grad():
        trained.reply_match.reply_side.weight.normal_()
    data = _sharing_words(20, seed=5)

    extended = with_shared_words(trained)

    assert extended.config == OVERLAP_HEAD
    assert extended.reply_match.overlap_weight is not None
    assert extended.reply_match.overlap_weight.item() == 0.0
    np.testing.assert_array_equal(score(extended, data), score(trained, data))
    with pytest.raises(ValueError, match="no context-to-reply term"):
        with_shared_words(new_head(NULL_HEAD, seed=0))


def test_scaling_the_term_scales_its_shared_words_weight_too():
    model = new_head(OVERLAP_HEAD, seed=0)
    weight = model.reply_match.overlap_weight
    assert weight is not None
    with torch.no_grad():
        weight.fill_(2.0)

    scale_reply_match(model, 0.25)

    assert weight.item() == pytest.approx(0.5)


def test_shared_words_never_count_against_a_reply():
    plain = new_head(REPLY_HEAD, seed=0)
    model = new_head(OVERLAP_HEAD, seed=0)
    data = _sharing_words(200, seed=6)
    # Here the words a candidate shares with the turn mark a wrong one.
    wrong = replace(data, labels=(data.labels + 2) % 5)

    train_reply_term(model, wrong, TrainConfig(epochs=3, validation_fraction=0.0, seed=0))
    weight = model.reply_match.overlap_weight
    assert weight is not None
    assert weight.item() < 0.0  # the data pushed it below zero...
    term = replace(data, shared_words=np.zeros_like(data.shared_words))
    # ...where it scores as zero: the counts no longer change any score.
    np.testing.assert_array_equal(score(model, data), score(model, term))
    assert not np.array_equal(score(model, data), score(plain, data))  # the term trained


def test_a_weight_below_zero_is_not_buried_and_comes_back_when_the_counts_help():
    data = _sharing_words(200, seed=6)
    wrong = replace(data, labels=(data.labels + 2) % 5)  # shared words mark a wrong reply
    config = TrainConfig(epochs=3, validation_fraction=0.0, seed=0)

    def trained_from(start: float, examples: EncodedExamples) -> float:
        model = new_head(OVERLAP_HEAD, seed=0)
        weight = model.reply_match.overlap_weight
        assert weight is not None
        with torch.no_grad():
            weight.fill_(start)
        train_reply_term(model, examples, config)
        return weight.item()

    # Below zero, data that wants it lower does not push it further down...
    assert trained_from(-0.2, wrong) >= -0.2
    # ...and data where sharing words marks the reply brings it back above zero.
    assert trained_from(-0.2, data) > 0.0
