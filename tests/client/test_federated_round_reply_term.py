"""A device given a head with the context-to-reply term trains the term alone and releases
its update alone (models.reply_training.released_mask)."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np

from client.federated_round import run_round
from client.feedback import picked_reply
from client.profile import Profile
from models.reply_training import REPLY_PREFIX, released_size
from models.robust_head import NULL_HEAD
from models.training import new_head
from models.weights import get_weights
from privacy.device_release import payload_size
from privacy.noise import SeededGaussian
from protocol.round_instructions import RoundInstructions


def _embed(texts: list[str]) -> np.ndarray:
    """A fixed unit vector per text (no encoder needed)."""
    rows = []
    for text in texts:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        row = np.random.default_rng(seed).standard_normal(384)
        rows.append(row / np.linalg.norm(row))
    return np.asarray(rows, np.float32)


def test_a_device_releases_the_update_of_the_term_alone(profile: Profile):
    profile.persona.observe("interests", "music", "jazz", confidence=0.8)
    replies = ("I teach music.", "What is your job?", "The match starts at eight.")
    for index in range(12):
        profile.training.add(picked_reply(f"What is your job, friend {index}?", replies, 0))
    head = replace(NULL_HEAD, reply_match_rank=4)
    model = new_head(head, seed=0)
    weights = get_weights(model)
    instructions = RoundInstructions(round=1, clipping_norm=100.0, head=head, local_epochs=2)

    outcome = run_round(
        profile, weights, instructions, _embed, SeededGaussian(np.random.default_rng(0))
    )

    term = sum(
        a.size
        for n, a in zip(model.state_dict(), weights, strict=True)
        if n.startswith(REPLY_PREFIX)
    )
    assert released_size(head) == term
    assert outcome.payload.size == payload_size(term)  # the term's update, then statistics
    assert np.any(outcome.payload[:term] != 0.0)  # the term trained
