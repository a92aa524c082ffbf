"""The head's stance features and persona gate, on a PrefEval record and a ConvAI2 exchange."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bench.rerank_personachat import cosine, persona_maxsim
from models.data.locations import data_dir
from models.encoded import EncodedExamples, encode
from models.ranking_task import RankingExample
from models.reranking_head import HeadConfig, RerankingHead
from models.stance_training import train_stance, training_only
from models.training import TrainConfig, new_head, score, train_head
from tests.models.test_head_and_training import _synthetic

PREFEVAL_SAMPLE = "prefeval/prefeval-sample.json"
# Persona features without the row's null (models.persona_null): untrained = persona_maxsim.
STANCE_HEAD = HeadConfig(
    use_polarity=True, use_gate=True, persona_null=False, persona_mean_prior=0.0
)


@pytest.fixture(scope="module")
def hotel(onnx_embedder) -> EncodedExamples:
    """'I absolutely avoid hotels with a bustling nightlife atmosphere.', its question and
    its four options, the preference-following one first (PrefEval's own sample file)."""
    sample = json.loads((data_dir() / PREFEVAL_SAMPLE).read_text(encoding="utf-8"))
    record = sample["records"]["mcq_options"][0]
    example = RankingExample(
        "hotel",
        0,
        record["question"],
        (record["preference"],),
        tuple(record["classification_task_options"]),
    )
    return encode([example], onnx_embedder.embed, dimension=384)


def _with_stance(bias: float) -> RerankingHead:
    model = new_head(STANCE_HEAD, seed=0)
    with torch.no_grad():
        model.polarity.stance.bias.fill_(bias)
    return model


def test_an_untrained_head_reads_no_stance_and_ranks_like_persona_maxsim(hotel):
    model = new_head(STANCE_HEAD, seed=0)

    scores = score(model, hotel)

    with torch.no_grad():
        stances = model.polarity.stances(torch.from_numpy(hotel.persona))
    assert float(stances.abs().max()) == 0.0
    np.testing.assert_allclose(scores, cosine(hotel) + persona_maxsim(hotel), atol=1e-5)


def test_an_avoided_thing_pushes_down_the_options_that_mention_it(hotel):
    nearest = int(np.argmax(persona_maxsim(hotel)[0]))  # the option closest to "nightlife"

    avoid = score(_with_stance(-6.0), hotel)[0]  # the fact read as "I avoid ..."
    like = score(_with_stance(6.0), hotel)[0]  # the same fact read as "I like ..."

    shift = avoid - like
    assert nearest != 0  # similarity alone points at a violating option
    assert int(np.argmin(shift)) == nearest  # the stance costs the nearest option most
    assert avoid[0] - avoid[1:].max() > like[0] - like[1:].max()  # the gold pulls ahead


def test_the_gate_starts_open_and_closing_it_falls_back_to_the_context(exchange):
    model = new_head(STANCE_HEAD, seed=0)
    np.testing.assert_allclose(
        score(model, exchange), cosine(exchange) + persona_maxsim(exchange), atol=1e-5
    )

    with torch.no_grad():
        model.gate.weights.bias.fill_(-30.0)  # persona evidence judged worthless
    closed = score(model, exchange)

    np.testing.assert_allclose(closed, cosine(exchange), atol=1e-5)


def test_the_gate_closes_when_persona_similarity_does_not_separate_the_candidates():
    model = new_head(STANCE_HEAD, seed=0)
    with torch.no_grad():
        model.gate.weights.weight.copy_(torch.tensor([[0.0, 1.0]]))  # trust persona spread
    rng = np.random.default_rng(0)
    candidates = torch.from_numpy(rng.standard_normal((2, 4, 384)).astype(np.float32))
    context_cos = torch.rand(2, 4, 1)
    flat = torch.full((1, 4, 1), 0.3)  # every candidate equally close to the persona
    spread = torch.tensor([[[0.1], [0.5], [0.2], [0.9]]])

    with torch.no_grad():
        gate = model.gate(candidates, context_cos, torch.cat([flat, spread]))

    assert gate.shape == (2, 1, 1)
    assert float(gate[0]) < 0.01 < 1.0 < float(gate[1]) < 2.0


def test_padded_candidates_do_not_move_the_stance_features(hotel):
    model = _with_stance(-6.0)
    with torch.no_grad():
        model.polarity.respecting.weight.normal_()
    padded = EncodedExamples(
        hotel.context,
        np.concatenate([hotel.candidates, np.zeros((1, 3, 384), np.float32)], axis=1),
        np.concatenate([hotel.candidate_mask, np.zeros((1, 3), np.float32)], axis=1),
        hotel.persona,
        hotel.persona_mask,
        hotel.labels,
        hotel.signs,
        hotel.weights,
    )

    np.testing.assert_allclose(score(model, padded)[0, :4], score(model, hotel)[0], atol=1e-5)


def test_old_checkpoints_describe_a_head_without_stance_or_gate():
    old = HeadConfig.from_json(
        {"embedding_dim": 384, "hidden_dim": 64, "mlp_dim": 32, "use_handcrafted": True}
    )

    assert not old.use_polarity
    assert not old.use_gate
    assert STANCE_HEAD.use_polarity
    assert STANCE_HEAD.use_gate
    assert not HeadConfig().use_polarity  # off by default (models.reranking_head says why)


def test_stance_training_moves_only_the_stance_and_restores_the_rest():
    model = new_head(STANCE_HEAD, seed=0)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    conversations, preferences = _synthetic(n=80, seed=1), _synthetic(n=40, k=4, p=1, seed=2)

    train_stance(
        model,
        conversations,
        preferences,
        validation_users=None,
        config=TrainConfig(epochs=3, consider_untrained=False, seed=0),
    )

    for name, parameter in model.named_parameters():
        assert parameter.requires_grad
        moved = not torch.equal(parameter.detach(), before[name])
        if not name.startswith("polarity."):
            assert not moved, name
    assert not torch.equal(model.polarity.stance.weight.detach(), before["polarity.stance.weight"])


def test_conversation_training_keeps_the_stance_neutral():
    model = new_head(STANCE_HEAD, seed=0)

    with training_only(model, stance=False):
        train_head(model, _synthetic(n=80, seed=3), TrainConfig(epochs=2, seed=0))

    assert float(model.polarity.stance.weight.detach().abs().max()) == 0.0
    assert all(p.requires_grad for p in model.parameters())
