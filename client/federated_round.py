"""One federated round on a device: evaluate the received head, train it, clip the change.

What leaves the device is built here and nowhere else: one vector
(``privacy.device_release``) holding the clipped model update and bounded statistics
(whether it trained, its training loss, whether it had later turns, the share of them the
received head ranked first, whether the update was within its clipping bound, and the
personalisation monitoring values of ``client.monitoring``), clipped
together to the round's norm C, plus, under distributed DP, this device's share of the
Gaussian noise on every coordinate. No text, embedding, persona value, example count or
update norm is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from client.local_training import encode_pairs
from client.monitoring import device_monitoring
from client.participation import claim_participation, effective_cap
from client.persona import persona_fact
from client.profile import Profile
from client.training_pairs import TrainingPair
from models.encoded import EmbedFn
from models.ranking_metrics import expected_hits_and_reciprocal_ranks
from models.reply_training import released_mask, train_head_or_reply_term
from models.reranking_head import RerankingHead
from models.training import TrainConfig, score
from models.weights import flatten, get_weights, set_weights
from privacy.device_release import release
from privacy.noise import GaussianNoise
from protocol.round_instructions import RoundInstructions

EVALUATION_SESSION = "later-turns"  # pairs kept back to evaluate received models


@dataclass(frozen=True)
class RoundOutcome:
    payload: npt.NDArray[np.float64]  # what leaves: update and statistics, clipped (and noised)
    update_norm: float  # before clipping; for the device's own log, never sent


def split_pairs(pairs: Sequence[TrainingPair]) -> tuple[list[TrainingPair], list[TrainingPair]]:
    """(pairs to train on, later turns kept back for evaluation)."""
    train = [p for p in pairs if p.session_id != EVALUATION_SESSION]
    held = [p for p in pairs if p.session_id == EVALUATION_SESSION]
    return train, held


def run_round(
    profile: Profile,
    global_weights: Sequence[npt.NDArray[np.float32]],
    instructions: RoundInstructions,
    embed: EmbedFn,
    noise: GaussianNoise,
    *,
    device_cap: int | None = None,
) -> RoundOutcome:
    """Train and release; past the run's participation cap (the server's or the device's
    own ``device_cap``, the smaller) raise ``ParticipationCapError`` before any work."""
    cap = effective_cap(instructions.participation_cap, device_cap)
    if cap:
        claim_participation(profile.store, instructions.run_token, cap)
    # A head this small trains fastest on one thread; more threads only contend (a phone
    # runs it on one core, and a simulation runs many devices on a few).
    torch.set_num_threads(1)
    config = instructions.head
    model = RerankingHead(config)
    set_weights(model, global_weights)
    train, held = split_pairs(profile.training.all())
    facts = [persona_fact(a) for a in profile.persona.attributes()]
    hits = 0.0
    if held:
        held_data = encode_pairs(
            held, facts, embed, dimension=config.embedding_dim, stance_input=config.stance_input
        )
        hits = float(
            expected_hits_and_reciprocal_ranks(score(model, held_data), held_data.labels)[0].sum()
        )
    loss = float("nan")
    if train:
        result = train_head_or_reply_term(
            model,
            encode_pairs(
                train,
                facts,
                embed,
                dimension=config.embedding_dim,
                stance_input=config.stance_input,
            ),
            TrainConfig(
                epochs=instructions.local_epochs,
                batch_size=instructions.batch_size,
                learning_rate=instructions.learning_rate,
                validation_fraction=0.0,
                seed=instructions.round,
            ),
        )
        loss = result.train_loss[-1] if result.train_loss else float("nan")
    # Only what the device trained crosses (models.reply_training.released_mask).
    change = (flatten(get_weights(model)) - flatten(global_weights))[released_mask(config)]
    released = release(
        change,
        instructions.clipping_norm,
        train_loss=loss,
        hits=hits,
        evaluated=len(held),
        monitoring=device_monitoring(profile, instructions.reference_facts),
    )
    payload = released.payload
    if instructions.noise_share_std > 0:
        payload = payload + noise.sample(payload.size, instructions.noise_share_std)
    return RoundOutcome(payload, released.update_norm)
