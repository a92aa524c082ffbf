"""Listwise training of the reranking head, deterministic under a seed, with early stopping.

Loss (per example, softmax over its K candidates, Cao et al. 2007 "ListNet"-style
top-one cross-entropy): -log p(label). For a thumbs-down (sign -1) the example pushes the
disliked candidate down instead, with the unlikelihood term -log(1 - p(label))
(Welleck et al. 2020). Examples are weighted; the loss is the weighted mean.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields

import numpy as np
import torch
from torch import Tensor

from models.adamw import AdamW, AdamWSettings
from models.encoded import EncodedExamples
from models.reply_match import REPLY_WEIGHT_SCALE
from models.reranking_head import HeadConfig, RerankingHead

STOP_ON = ("loss", "hits")


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    patience: int = 3
    validation_fraction: float = 0.1
    min_validation_examples: int = 20
    seed: int = 0
    # Early stopping may keep the untrained head (epoch 0) when no epoch beats it on the
    # validation examples: training then never ends below its own starting point.
    consider_untrained: bool = True
    # What early stopping watches on the validation rows: "loss" (the listwise loss) or
    # "hits" (hits@1, what the benchmarks report). The loss can keep falling while hits@1
    # on other users does not (issue 13: the quick benchmark's heads ended below their start).
    stop_on: str = "loss"
    # A head with the context-to-reply term trains the term alone, its loss on the score
    # multiplied by this (softmax temperature 1 / reply_sharpening; models.reply_training).
    # At x 1 the term learned score scale instead of ranking; x 20 was the one setting that
    # helped on held-out ConvAI2 users (seed 0; docs/benchmarks.md, "A context-to-reply
    # term"). Equal to the term's weight scale, so its stored weights are those it trains.
    reply_sharpening: float = REPLY_WEIGHT_SCALE

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be positive")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ValueError(
                f"validation_fraction must be in [0, 1), got {self.validation_fraction}"
            )
        if self.reply_sharpening <= 0:
            raise ValueError(f"reply_sharpening must be positive, got {self.reply_sharpening}")
        if self.stop_on not in STOP_ON:
            raise ValueError(f"stop_on must be one of {STOP_ON}, got {self.stop_on!r}")


@dataclass
class TrainResult:
    epochs_run: int
    best_epoch: int
    stopped_early: bool
    train_loss: list[float] = field(default_factory=list)
    validation_loss: list[float] = field(default_factory=list)


def new_head(config: HeadConfig, *, seed: int) -> RerankingHead:
    """A freshly initialised head; the same seed gives the same weights."""
    torch.manual_seed(seed)
    return RerankingHead(config)


def listwise_loss(
    scores: Tensor, candidate_mask: Tensor, labels: Tensor, signs: Tensor, weights: Tensor
) -> Tensor:
    """Weighted listwise loss; padded candidates (mask 0) take no part in the softmax."""
    scores = scores.masked_fill(candidate_mask <= 0, float("-inf"))
    log_p = torch.log_softmax(scores, dim=-1).gather(1, labels.unsqueeze(1)).squeeze(1)
    liked = -log_p
    disliked = -torch.log1p(-log_p.exp().clamp(max=1.0 - 1e-6))
    per_example = torch.where(signs > 0, liked, disliked)
    return (per_example * weights).sum() / weights.sum().clamp(min=1e-12)


@dataclass(frozen=True)
class Batch:
    """EncodedExamples as tensors."""

    context: Tensor
    candidates: Tensor
    candidate_mask: Tensor
    persona: Tensor
    persona_mask: Tensor
    labels: Tensor
    signs: Tensor
    weights: Tensor
    shared_words: Tensor

    @classmethod
    def of(cls, data: EncodedExamples) -> Batch:
        return cls(
            *(torch.from_numpy(np.ascontiguousarray(getattr(data, f.name))) for f in fields(data))
        )

    def rows(self, index: Tensor) -> Batch:
        return Batch(*(getattr(self, f.name)[index] for f in fields(self)))

    def loss(self, model: RerankingHead, sharpening: float = 1.0) -> Tensor:
        """The listwise loss at softmax temperature 1 / ``sharpening``."""
        scores = model(
            self.context, self.candidates, self.persona, self.persona_mask, self.shared_words
        )
        return listwise_loss(
            sharpening * scores, self.candidate_mask, self.labels, self.signs, self.weights
        )


def evaluate_loss(model: RerankingHead, data: EncodedExamples, sharpening: float = 1.0) -> float:
    model.eval()
    with torch.no_grad():
        return float(Batch.of(data).loss(model, sharpening))


def validation_error(
    model: RerankingHead, data: EncodedExamples, stop_on: str, sharpening: float = 1.0
) -> float:
    """Lower is better: the listwise loss, or 1 - hits@1 (rows whose label is the candidate
    to push down count as hits when it is not ranked first)."""
    if stop_on == "loss":
        return evaluate_loss(model, data, sharpening)
    top = score(model, data).argmax(axis=1)
    correct = (top == data.labels) == (data.signs > 0)
    return 1.0 - float(np.average(correct, weights=data.weights))


def score(model: RerankingHead, data: EncodedExamples, batch_size: int = 512) -> np.ndarray:
    """Scores (N, K) for every example, padded candidates at -inf (torch path)."""
    model.eval()
    batch = Batch.of(data)
    out = []
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            part = batch.rows(torch.arange(start, min(start + batch_size, len(data))))
            scores = model(
                part.context, part.candidates, part.persona, part.persona_mask, part.shared_words
            )
            out.append(scores.masked_fill(part.candidate_mask <= 0, float("-inf")).numpy())
    return np.concatenate(out) if out else np.zeros((0, data.candidates.shape[1]), np.float32)


def train_head(
    model: RerankingHead,
    data: EncodedExamples,
    config: TrainConfig,
    *,
    validation: EncodedExamples | None = None,
    groups: Sequence[str] | None = None,
    sharpening: float = 1.0,
) -> TrainResult:
    """Train in place, the loss at softmax temperature 1 / ``sharpening``. Early stopping
    watches ``validation`` (default: a seeded slice of ``data`` when it is large enough,
    whole ``groups`` (users) when given, so the head is chosen on people it did not train
    on; otherwise every epoch runs and the last one is kept). With ``consider_untrained``
    the untrained head is the first candidate (epoch 0)."""
    if len(data) == 0:
        return TrainResult(epochs_run=0, best_epoch=0, stopped_early=False)
    generator = torch.Generator().manual_seed(config.seed)
    if validation is None:
        data, validation = hold_out(data, config, groups)
    named = list(model.named_parameters())
    optimiser = AdamW(
        [p for _, p in named],
        AdamWSettings(learning_rate=config.learning_rate, weight_decay=config.weight_decay),
        [model.learning_rate_scale(name) for name, _ in named],
    )
    result = TrainResult(epochs_run=0, best_epoch=0, stopped_early=False)
    best_loss, best_state = float("inf"), copy.deepcopy(model.state_dict())
    if validation is not None and config.consider_untrained:
        best_loss = validation_error(model, validation, config.stop_on, sharpening)
    batch = Batch.of(data)
    for epoch in range(1, config.epochs + 1):
        result.train_loss.append(_epoch(model, batch, optimiser, config, generator, sharpening))
        result.epochs_run = epoch
        if validation is None:
            result.best_epoch, best_state = epoch, copy.deepcopy(model.state_dict())
            continue
        loss = validation_error(model, validation, config.stop_on, sharpening)
        result.validation_loss.append(loss)
        if loss < best_loss:
            best_loss, result.best_epoch = loss, epoch
            best_state = copy.deepcopy(model.state_dict())
        elif epoch - result.best_epoch >= config.patience:
            result.stopped_early = True
            break
    model.load_state_dict(best_state)
    return result


@contextmanager
def training_only_under(
    model: RerankingHead, prefix: str, *, inside: bool = True
) -> Iterator[None]:
    """Within the block only the parameters named ``prefix...`` train (``inside``), or all
    but them; afterwards each parameter trains as before."""
    before = {name: p.requires_grad for name, p in model.named_parameters()}
    for name, parameter in model.named_parameters():
        parameter.requires_grad = name.startswith(prefix) == inside
    try:
        yield
    finally:
        for name, parameter in model.named_parameters():
            parameter.requires_grad = before[name]


def hold_out(
    data: EncodedExamples, config: TrainConfig, groups: Sequence[str] | None = None
) -> tuple[EncodedExamples, EncodedExamples | None]:
    held = round(config.validation_fraction * len(data))
    if held < config.min_validation_examples:
        return data, None
    rng = np.random.default_rng(config.seed)
    if groups is None:
        order = rng.permutation(len(data))
        return data.subset(order[held:]), data.subset(order[:held])
    names = np.asarray(groups)
    distinct = np.unique(names)
    chosen = distinct[
        rng.permutation(len(distinct))[: round(config.validation_fraction * len(distinct))]
    ]
    inside = np.isin(names, chosen)
    if inside.sum() < config.min_validation_examples or inside.all():
        return data, None
    return data.subset(np.flatnonzero(~inside)), data.subset(np.flatnonzero(inside))


def _epoch(
    model: RerankingHead,
    data: Batch,
    optimiser: AdamW,
    config: TrainConfig,
    generator: torch.Generator,
    sharpening: float,
) -> float:
    model.train()
    count = data.context.shape[0]
    order = torch.randperm(count, generator=generator)
    total = 0.0
    for start in range(0, count, config.batch_size):
        rows = order[start : start + config.batch_size]
        optimiser.zero_grad()
        loss = data.rows(rows).loss(model, sharpening)
        loss.backward()  # type: ignore[no-untyped-call]
        optimiser.step()
        total += float(loss.detach()) * len(rows)
    return total / count
