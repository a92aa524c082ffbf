"""The chat's local training step: enough new signals -> the person's head, retrained, sealed.

Signals are the sealed training pairs chat writes (``/good``, ``/bad``, ``/pick`` and the
memories a reply used that the person did not correct). When ``train_after`` of them have
gathered since the last step, the head is trained on all of them
(``client.local_training``: torch, in this process), exported to ONNX in memory and stored
sealed (``client.personal_head``); the next turn's reranking scores with it on
onnxruntime (``client.chat.head_order``). Nothing of it is written unsealed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from client.personal_head import PersonalHead, new_personal_head
from client.profile import Profile
from models.encoded import EmbedFn

# Eight signals: about two sessions of occasional /good or /bad plus the memories replies
# used; fewer would retrain on nearly the same data after every rating.
DEFAULT_TRAIN_AFTER = 8


@dataclass(frozen=True)
class TrainingOutcome:
    head: PersonalHead
    signals: int
    kept_start: bool  # no epoch beat the start (the public head) on held-back signals


@dataclass
class LocalTraining:
    """When to train and how.

    Args:
        profile: The unlocked profile whose signals train the head and which stores it.
        embed: The device encoder (the same vectors the memory engine searches with).
        train_after: New signals that trigger a step; 0 never trains.
        seed: Seeds the training order (reproducible steps).
    """

    profile: Profile
    embed: EmbedFn
    train_after: int = DEFAULT_TRAIN_AFTER
    seed: int = 0

    def __post_init__(self) -> None:
        if self.train_after < 0:
            raise ValueError(f"train_after must be 0 (never) or positive, got {self.train_after}")
        head = self.profile.heads.load()
        self._trained_on = head.signals if head is not None else 0

    def waiting(self) -> int:
        """Signals gathered since the last step; all of them once the head was forgotten."""
        trained_on = self._trained_on if self.profile.heads.exists() else 0
        return max(0, self.profile.training.count() - trained_on)

    def due(self) -> bool:
        return self.train_after > 0 and self.waiting() >= self.train_after

    def train(self) -> TrainingOutcome:
        """Train a fresh head on every signal held, and store it sealed."""
        # torch is imported only when a step runs: chatting alone never loads it.
        from client.local_training import LOCAL_TRAINING, local_training_step
        from models.onnx_export import head_onnx_bytes
        from models.public_head import load_public_head
        from models.weights import get_weights

        signals = self.profile.training.count()
        # From the shipped public head (models.public_head), as a federation starts: the
        # person's signals then train its context-to-reply term (models.reply_training).
        model = load_public_head()
        result = local_training_step(
            self.profile, model, self.embed, replace(LOCAL_TRAINING, seed=self.seed)
        )
        head = new_personal_head(
            head_onnx_bytes(model), get_weights(model), model.config.to_json(), signals
        )
        self.profile.heads.save(head)
        self._trained_on = signals
        return TrainingOutcome(head, signals, kept_start=result.best_epoch == 0)
