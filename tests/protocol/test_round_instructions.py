"""The round instructions travel as a flat record and come back the same."""

from __future__ import annotations

import pytest

from models.reranking_head import HeadConfig
from protocol.round_instructions import RoundInstructions


def test_instructions_survive_the_round_trip_through_a_config_record():
    sent = RoundInstructions(
        round=7,
        clipping_norm=0.5,
        local_epochs=5,
        learning_rate=0.01,
        batch_size=8,
        noise_share_std=0.25,
        min_contributors=4,
        head=HeadConfig(hidden_dim=32, mlp_dim=16),
        reference_facts=("cuisine: thai", "i have two dogs"),
        run_id="8812",
    )

    config = sent.to_config()

    assert all(isinstance(v, int | float | str) for v in config.values())  # what Flower carries
    assert RoundInstructions.from_config(config) == sent


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("clipping-norm", "0.5", "clipping-norm"),
        ("round", None, "round"),
        ("head", 3, "head"),
        ("run-id", 5, "run-id"),
    ],
)
def test_a_missing_or_mistyped_key_is_named(key, value, message):
    config = RoundInstructions(round=1, clipping_norm=1.0).to_config()
    if value is None:
        del config[key]
    else:
        config[key] = value

    with pytest.raises(TypeError, match=message):
        RoundInstructions.from_config(config)


def test_an_older_server_without_reference_facts_ships_none():
    config = RoundInstructions(round=1, clipping_norm=1.0).to_config()
    del config["reference-facts"]

    assert RoundInstructions.from_config(config).reference_facts == ()


def test_reference_facts_that_are_not_a_list_of_texts_are_refused_by_key():
    config = RoundInstructions(round=1, clipping_norm=1.0).to_config()
    config["reference-facts"] = "[1, 2]"

    with pytest.raises(TypeError, match="reference-facts"):
        RoundInstructions.from_config(config)


def test_a_reply_is_bound_to_its_run_and_round_and_nothing_else():
    instructions = RoundInstructions(round=2, clipping_norm=1.0, run_id="77")

    assert instructions.binding_mismatch(instructions.binding()) is None
    replayed = RoundInstructions(round=1, clipping_norm=1.0, run_id="77").binding()
    assert "round 1, not run '77' round 2" in str(instructions.binding_mismatch(replayed))
    elsewhere = RoundInstructions(round=2, clipping_norm=1.0, run_id="13").binding()
    assert "run '13'" in str(instructions.binding_mismatch(elsewhere))
    assert "no binding" in str(instructions.binding_mismatch(None))
    assert instructions.binding_mismatch({}) is not None
