from __future__ import annotations

import numpy as np
import pytest

from client.feedback import memories_used, picked_reply, rated_replies, thumbs
from client.local_training import encode_pairs, local_training_step
from client.training_pairs import Signal
from models.reranking_head import HeadConfig
from models.training import new_head, score


def test_feedback_turns_chat_events_into_labelled_examples():
    candidates = ("try the ramen place", "stay home", "go bowling")

    picked = picked_reply("dinner ideas?", candidates, 2)
    rated = rated_replies("dinner ideas?", candidates, [2.0, 5.0, 4.0])
    flat = rated_replies("dinner ideas?", candidates, [3.0, 3.0, 3.0])
    down = thumbs("dinner ideas?", candidates, 1, up=False)
    used = memories_used(
        "what should I cook?",
        ("vegetarian", "owns a wok", "hates cilantro"),
        used=[0, 1],
        corrected=[1],
    )

    assert (picked.chosen, picked.signal) == (2, Signal.PICKED)
    assert rated is not None
    assert (rated.chosen, rated.signal) == (1, Signal.RATED)
    assert rated.weight == pytest.approx(1 / 3)
    assert flat is None
    assert (down.chosen, down.signal) == (1, Signal.THUMBS_DOWN)
    assert [(p.chosen, p.signal) for p in used] == [
        (0, Signal.MEMORY_USED),
        (1, Signal.THUMBS_DOWN),
    ]


def test_thumbs_down_examples_carry_a_negative_sign(onnx_embedder):
    pairs = [thumbs("hi", ("a", "b"), 0, up=False), picked_reply("hi", ("a", "b", "c"), 2)]

    data = encode_pairs(pairs, ["likes jazz"], onnx_embedder.embed, dimension=384)

    assert data.signs.tolist() == [-1.0, 1.0]
    assert data.labels.tolist() == [0, 2]
    assert data.candidate_mask.tolist() == [[1, 1, 0], [1, 1, 1]]


def test_local_training_step_learns_from_the_sealed_signals(profile, onnx_embedder):
    profile.persona.observe("preferences", "diet", "vegetarian", confidence=0.9)
    profile.persona.observe("interests", "music", "jazz", confidence=0.8)
    replies = (
        "How about a mushroom risotto tonight?",
        "A steakhouse has a great ribeye deal.",
        "There is a jazz trio playing downtown.",
        "The football match starts at eight.",
    )
    for index in range(12):
        context = f"Any plans you would suggest for evening {index}?"
        profile.training.add(picked_reply(context, replies, 0 if index % 2 else 2))
        profile.training.add(thumbs(context, replies, 1 if index % 2 else 3, up=False))
    model = new_head(HeadConfig(), seed=0)
    data = encode_pairs(
        profile.training.all(),
        ["diet: vegetarian", "music: jazz"],
        onnx_embedder.embed,
        dimension=384,
    )
    rows = np.arange(len(data))
    before = _softmax(score(model, data))[rows, data.labels]

    result = local_training_step(profile, model, onnx_embedder.embed)

    after = _softmax(score(model, data))[rows, data.labels]
    liked, disliked = data.signs > 0, data.signs < 0
    assert result.epochs_run > 0
    assert after[liked].mean() > before[liked].mean()
    assert after[disliked].mean() < before[disliked].mean()


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    probabilities: np.ndarray = shifted / shifted.sum(axis=1, keepdims=True)
    return probabilities
