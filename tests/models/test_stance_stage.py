"""The stance stage after the head (models.stance_stage) on real MiniLM embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from models.stance_scorer import FEATURES, StanceRow, stance_features
from models.stance_stage import (
    STAGE_WEIGHTS,
    fit_stage,
    fit_stage_on_subsets,
    has_avoidance,
    is_request,
    stage_order,
    staged_scores,
    standardised,
)

CONTEXT = "Which bakery should I visit this weekend?"
CANDIDATES = (
    "A patisserie known for its butter croissants and cheesecake",
    "A bakery famous for dairy-free cakes and fruit tarts",
    "A cafe serving cream puffs and milkshakes",
)
# The head prefers the cheesecake, then the milkshakes: what similarity alone would do.
HEAD = [2.0, 1.0, 1.5]


def test_an_option_naming_the_avoided_thing_ranks_below(onnx_embedder) -> None:
    facts = ("I keep a strict dairy-free diet", "I have two cats")
    order = stage_order(HEAD, CONTEXT, facts, CANDIDATES, onnx_embedder.embed)
    assert order[0] == 1
    assert (
        stage_order(HEAD, CONTEXT, ("I avoid cheesecake",), CANDIDATES, onnx_embedder.embed)[-1]
        == 0
    )


def test_a_person_without_avoidances_is_ranked_exactly_as_by_the_head(onnx_embedder) -> None:
    facts = ("I love cheesecake", "I have two cats")
    assert not has_avoidance(facts)
    assert stage_order(HEAD, CONTEXT, facts, CANDIDATES, onnx_embedder.embed) == [0, 2, 1]
    row = StanceRow(CONTEXT, facts, CANDIDATES)
    features = stance_features([row], onnx_embedder.embed)
    head = np.asarray([HEAD], np.float32)
    staged = staged_scores(head, features)
    np.testing.assert_array_equal(np.argsort(-staged), np.argsort(-head))
    np.testing.assert_allclose(staged, standardised(head))


def test_the_fit_learns_to_push_down_what_is_named() -> None:
    # Two candidates per row; the gold one (index 1) never names the avoided thing, and
    # the head slightly prefers the other one: only a negative weight on naming can fix it.
    features = np.zeros((40, 2, len(FEATURES)), np.float32)
    features[:, 0, FEATURES.index("avoided_named")] = 1.0
    head = np.tile(np.asarray([[0.2, 0.0]], np.float32), (40, 1))
    weights = fit_stage(head, features, np.ones(40, np.int64))
    assert weights[1] < STAGE_WEIGHTS[1]
    assert (staged_scores(head, features, weights).argmax(1) == 1).all()


def test_fits_side_by_side_equal_each_fit_alone() -> None:
    rng = np.random.default_rng(0)
    head = rng.normal(size=(60, 4)).astype(np.float32)
    features = (0.3 * rng.normal(size=(60, 4, len(FEATURES)))).astype(np.float32)
    labels = rng.integers(0, 4, 60)
    topics = rng.integers(0, 3, 60)
    subsets = [topics != topic for topic in range(3)] + [np.ones(60, bool)]

    together = fit_stage_on_subsets(head, features, labels, subsets, steps=300)

    for subset, weights in zip(subsets, together, strict=True):
        alone = fit_stage(head[subset], features[subset], labels[subset], steps=300)
        np.testing.assert_allclose(weights, alone, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="no rows"):
        fit_stage_on_subsets(head, features, labels, [np.zeros(60, bool)])


def test_bad_shapes_are_refused_with_the_sizes() -> None:
    with pytest.raises(ValueError, match=r"2 head scores for 3 candidates"):
        stage_order(
            [1.0, 2.0], CONTEXT, (), CANDIDATES, lambda texts: np.zeros((len(texts), 4), np.float32)
        )
    with pytest.raises(ValueError, match="expected 7 stance features, got 3"):
        staged_scores(np.zeros((1, 2), np.float32), np.zeros((1, 2, 3), np.float32))


def test_chit_chat_is_ranked_as_by_the_head(onnx_embedder) -> None:
    facts = ("I keep a strict dairy-free diet",)
    message = "i just had cheesecake with my cat."
    assert stage_order(HEAD, message, facts, CANDIDATES, onnx_embedder.embed) == [0, 2, 1]


def test_requests_are_told_from_chit_chat() -> None:
    assert is_request("Can you recommend a hotel in Lisbon?")
    assert is_request("Which laptop should I buy?")
    assert not is_request("i just got back from walking my dog.")


def test_a_question_about_someone_else_is_no_request() -> None:
    # LoCoMo questions about what a speaker said; the validator read them as the user's
    # own requests and ranked last the memories naming what the persona avoids.
    assert not is_request("What advice does Caroline give for getting started with adoption?")
    assert not is_request("What does Joanna recommend to make a living room comfy like hers?")
    assert not is_request("What are some changes Caroline has faced during her transition?")
    assert not is_request("What would be a good hobby for Tim to pick up?")
    assert not is_request("What does she suggest for beginners?")
    assert not is_request("Which restaurants would they recommend?")


def test_the_users_own_request_naming_someone_else_stays_a_request() -> None:
    assert is_request("Can you recommend a present for her?")
    assert is_request("What should I get my mom? She loves tea.")
    assert is_request("Any ideas for my trip with Tom?")
    assert is_request("What would be a good hobby for me?")
    assert is_request("What are some good hotels in Tokyo?")  # a capital starting no subject
    assert is_request("What are some must-try dishes when in Bali?")


def _no_encoder(texts: list[str]) -> np.ndarray:
    raise AssertionError(f"the encoder was called on {texts}")
