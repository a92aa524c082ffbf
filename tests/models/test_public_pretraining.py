"""Public pretraining: what counts as public (on the real data sets) and the head it gives."""

from __future__ import annotations

import math
import zlib
from functools import cache

import numpy as np
import numpy.typing as npt
import pytest

from models.data.locations import PERSONACHAT_VALID, SPC_VALID, data_dir, require
from models.data.persona_matching import MIN_JACCARD, jaccard, words
from models.data.personachat import Dialogue, load_personachat
from models.data.synthetic_persona_chat import SpcConversation, load_spc
from models.public_pretraining import (
    PersonaExclusion,
    pretrain_head,
    public_spc_conversations,
    spc_examples,
    spc_utterances,
)
from models.ranking_task import RankingExample
from models.reranking_head import HeadConfig
from models.training import TrainConfig, new_head
from models.weights import flatten, get_weights


@cache
def _dialogues() -> tuple[Dialogue, ...]:
    return tuple(load_personachat(require(data_dir(), PERSONACHAT_VALID)))


@cache
def _spc() -> tuple[SpcConversation, ...]:
    return tuple(load_spc(require(data_dir(), SPC_VALID)))


def _personas(dialogues: tuple[Dialogue, ...]) -> list[frozenset[str]]:
    return [words(p) for d in dialogues for p in (d.persona, d.partner_persona)]


def test_spc_validation_holds_no_conversation_outside_the_convai2_users():
    # SPC's validation file re-tells the persona pairs of the 1,000 ConvAI2 validation
    # dialogues, seen and unseen users alike: none of it is public for this federation.
    public = public_spc_conversations(_spc(), _dialogues())

    assert len(_dialogues()) == 1000
    assert public.kept == ()
    assert public.dropped == len(_spc()) == 1000


def test_kept_conversations_share_no_persona_with_the_excluded_dialogues():
    # ConvAI2 persona cards recur across dialogues with other partners, so even a small
    # excluded set reaches many conversations: a persona match on either side is enough.
    excluded, others = _dialogues()[:20], _dialogues()[20:]

    public = public_spc_conversations(_spc(), excluded)

    assert 0 < len(public.kept) < len(_spc())  # the filter keeps some and drops some
    assert len(public.kept) + public.dropped == len(_spc())
    banned = _personas(excluded)
    allowed = _personas(others)
    for conversation in public.kept:
        for persona in conversation.personas:
            bag = words(persona)
            assert max(jaccard(bag, other) for other in banned) < MIN_JACCARD
            assert max(jaccard(bag, other) for other in allowed) >= MIN_JACCARD
    # And what was dropped did touch an excluded persona.
    kept = set(public.kept)
    exclusion = PersonaExclusion(excluded)
    assert all(exclusion.excludes(c) for c in _spc() if c not in kept)


def test_one_matching_persona_is_enough_to_drop_a_conversation():
    dialogue = _dialogues()[0]
    stranger = ("I collect antique typewriters.", "My boat is called the Marigold.")
    own = tuple(fact.capitalize() for fact in dialogue.persona)  # cased, as SPC writes them
    exclusion = PersonaExclusion([dialogue])

    assert not exclusion.excludes(SpcConversation((stranger, stranger), ()))
    assert exclusion.excludes(SpcConversation((stranger, own), ()))
    assert exclusion.excludes(SpcConversation((dialogue.partner_persona, stranger), ()))
    assert exclusion.excludes(SpcConversation((dialogue.partner_persona, own), ()))


def test_both_speakers_become_users_with_their_own_persona_and_distractors_stay_public():
    conversations = list(_spc()[:40])

    utterances = spc_utterances(conversations)
    examples = spc_examples(conversations, seed=3)

    first = conversations[0]
    mine = [u for u in utterances if u.user_id == "spc-public-0-1"]
    assert mine
    assert all(u.persona == first.personas[1] for u in mine)
    turns = dict(enumerate(first.turns))
    for u in mine:
        assert turns[u.position] == (1, u.response)
        assert turns[u.position - 1] == (0, u.context)
    assert {u.user_id for u in utterances} >= {"spc-public-0-0", "spc-public-0-1"}
    replies = {u.response for u in utterances}
    assert len(examples) == len(utterances)
    assert all(len(e.candidates) == 20 and set(e.candidates) <= replies for e in examples)
    assert examples == spc_examples(conversations, seed=3)


def _fake_embed(texts: list[str]) -> npt.NDArray[np.float32]:
    vectors = np.stack(
        [np.random.default_rng(zlib.crc32(t.encode())).normal(size=384) for t in texts]
    )
    unit: npt.NDArray[np.float32] = (
        vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    ).astype(np.float32)
    return unit


def test_pretraining_trains_a_head_from_the_seeded_start_and_refuses_nothing_to_train_on():
    examples = [
        RankingExample(
            "u", i, f"context {i}", (f"fact {i}",), tuple(f"reply {i} {k}" for k in range(5))
        )
        for i in range(40)
    ]

    model, result = pretrain_head(
        examples, _fake_embed, seed=1, config=TrainConfig(epochs=3, validation_fraction=0.0)
    )

    assert result.epochs_run == 3
    assert result.train_loss[-1] < result.train_loss[0]
    untrained = flatten(get_weights(new_head(HeadConfig(), seed=1)))
    assert not np.allclose(flatten(get_weights(model)), untrained)
    with pytest.raises(ValueError, match="no public examples"):
        pretrain_head([], _fake_embed)


def test_a_federation_from_a_public_head_starts_there_and_pays_every_round(
    tmp_path, encoder_cache, monkeypatch
):
    from bench.federated import federate
    from server.run_settings import RunSettings
    from simulation.populations import load_population

    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    population = load_population("synthetic", 6, seed=0)
    start = new_head(HeadConfig(), seed=99)
    settings = RunSettings(
        population="synthetic",
        clients=6,
        clients_per_round=6,
        sampling="fixed_size",
        rounds=2,
        epsilon=math.inf,
        learning_rate=1e-7,  # the head barely moves: the result is the start
        local_epochs=1,
        secure_noise=False,
    )

    model, _, facts = federate(settings, population, tmp_path / "run", start)

    final = flatten(get_weights(model))
    assert facts["rounds"] == 2  # the ledger drives the loop, not the checkpoint
    assert np.allclose(final, flatten(get_weights(start)), atol=1e-4)
    assert not np.allclose(final, flatten(get_weights(new_head(HeadConfig(), seed=0))), atol=1e-2)
    with pytest.raises(ValueError, match="already holds a run"):
        federate(settings, population, tmp_path / "run", start)
