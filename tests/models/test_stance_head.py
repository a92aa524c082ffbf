"""The head's stance input (models.stance_persona) on real MiniLM embeddings, torch and ONNX."""

from __future__ import annotations

import numpy as np
import pytest

from models.encoded import encode
from models.onnx_export import head_onnx_bytes
from models.onnx_scorer import OnnxHeadScorer
from models.ranking_task import RankingExample
from models.reranking_head import HeadConfig
from models.stance_persona import encode_with_stance, signed_persona, signed_texts
from models.training import new_head, score

PERSONA = ("I avoid spicy food", "I have two cats")
CANDIDATES = (
    "A fiery chilli curry with extra hot peppers",
    "A mild creamy vegetable soup with bread",
)
CONTEXT = "What should I cook for dinner tonight?"


def example() -> RankingExample:
    return RankingExample("u", 0, CONTEXT, PERSONA, CANDIDATES)


def test_signed_texts_negate_only_avoided_things() -> None:
    assert signed_texts("I have two cats") == [("I have two cats", 1.0)]
    assert ("spicy food", -1.0) in signed_texts("I avoid spicy food")


@pytest.mark.parametrize(
    "config",
    [
        HeadConfig(stance_input=True, persona_null=True, persona_mean_prior=-0.75),
        HeadConfig(stance_input=True, persona_null=False, persona_mean_prior=0.0),
    ],
    ids=["null-features", "previous-features"],
)
def test_an_avoided_thing_ranks_below_what_the_person_can_have(onnx_embedder, config) -> None:
    model = new_head(config, seed=0)  # untrained: the prior decides
    plain = score(model, encode([example()], onnx_embedder.embed, dimension=384))[0]
    signed = score(model, encode_with_stance([example()], onnx_embedder.embed, dimension=384))[0]
    assert signed[1] > signed[0]
    # The stance input is what moves it: the mild soup gains on the curry.
    assert signed[1] - signed[0] > plain[1] - plain[0]
    if not config.persona_null:
        # Plain similarity to "I avoid spicy food" favours the curry.
        assert plain[0] > plain[1]


def test_the_onnx_head_ranks_the_same_with_the_signed_persona(onnx_embedder) -> None:
    model = new_head(HeadConfig(stance_input=True), seed=0)
    scorer = OnnxHeadScorer(head_onnx_bytes(model))
    persona = signed_persona(PERSONA, onnx_embedder.embed)
    candidates = np.asarray(onnx_embedder.embed(list(CANDIDATES)), np.float32)
    query = np.asarray(onnx_embedder.embed([CONTEXT]), np.float32)
    mask = np.ones(len(persona), np.float32)
    scores = scorer.scores(query, candidates[None], persona[None], mask[None])[0]
    assert scores[1] > scores[0]
