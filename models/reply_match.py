"""A context-to-reply matching term: which reply follows this turn (issue 13, opt-in).

The head's other terms compare the context and the candidates through one shared,
symmetric projection (models.reranking_head): cos(c, r) and <W c, W r> score a reply
that *repeats* the turn as highly as one that *answers* it. Response selection rewards
the second ("what is your job?" is answered by "I teach", not by "what is your job?"),
and on Multi-Session Chat that is where the remaining signal is: the persona adds at most
about 2 points there (docs/benchmarks.md, "Generalisation beyond ConvAI2").

The term is a low-rank bilinear form on the frozen embeddings,

    m(c, r_k) = (U c) . (V r_k) = c^T U^T V r_k,   U, V: D -> R (rank R),

an asymmetric matrix U^T V (the "dual encoder" of Lowe et al. 2015, "The Ubuntu Dialogue
Corpus", s. 5.1: sigma(c^T M r), here with M low-rank). V starts at zero, so an untrained
head with the term scores exactly as one without it (and gets a gradient on V at once,
since U is random); U is the last module built, so the head's other initial weights
do not change with it.

The term scores (U c) . (V r) / ``REPLY_WEIGHT_SCALE``: its weights are stored at 20 times
the scale they score at, the scale at which it trains (models.reply_training: the loss at
softmax temperature 1/20). Why stored so: DP-FedAvg adds the same Gaussian noise to every
coordinate, and at the scale it scores at the term's reply side is tiny (std 0.0016 for the
central head of docs/benchmarks.md, against about 0.009 of noise a round on the --quick MSC
federation at epsilon 8): noise 20 times larger than it moved the federated term's scores
enough to undo it (73.5 -> 70.4, against 73.8 without noise). Stored at x 20, the same noise
moves the scores 20 times less, and a device's optimiser steps are the central training's.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

# Weights are stored at this multiple of the scale they score at (see the module docstring).
REPLY_WEIGHT_SCALE = 20.0


class ReplyMatch(nn.Module):
    """``forward(context (B, D), candidates (B, K, D), shared_words (B, K) | None) -> (B, K)``.

    With ``overlap``, the term adds ``overlap_weight`` / ``REPLY_WEIGHT_SCALE`` x the
    number of content words each candidate shares with the context (models.lexical_overlap).
    The weight starts at zero (a neutral start, as V's). It is stored at 20 times the scale
    it scores at, for the reason the term's weights are (DP noise moves it 20 times less),
    and trains at 20 times the learning rate (``learning_rate_scale``), so that it still
    moves as fast as a weight at its own scale: it is one number that every device pushes,
    and at its own learning rate it moved about 0.001 an epoch where its useful range is
    about 0.02-0.05 (docs/benchmarks.md, "Shared words").

    The weight scores floored at zero: a reply's sharing the turn's words counts only for
    it. The synthetic population's wrong replies are, by design, replies to the same request
    (simulation.population.ranking), and its federation learned a negative weight that then
    ranked Multi-Session Chat below plain cosine (65.6 against 69.3): what penalising
    echoes learns on one population is an artefact on the next. Below zero it scores as
    zero, so the head ranks as without it, and only a gradient that raises it passes
    (``_floored_at_zero``): a population that wants it lower cannot bury it, and one that
    wants it back can bring it back.
    """

    def __init__(self, embedding_dim: int, rank: int, *, overlap: bool = False) -> None:
        super().__init__()
        if rank < 1:
            raise ValueError(f"rank must be positive, got {rank}")
        self.context_side = nn.Linear(embedding_dim, rank, bias=False)
        self.reply_side = nn.Linear(embedding_dim, rank, bias=False)
        nn.init.zeros_(self.reply_side.weight)
        self.overlap_weight = nn.Parameter(torch.zeros(1)) if overlap else None

    def forward(
        self, context: Tensor, candidates: Tensor, shared_words: Tensor | None = None
    ) -> Tensor:
        asked = self.context_side(context).unsqueeze(1)  # (B, 1, R)
        answered = self.reply_side(candidates)  # (B, K, R)
        match: Tensor = (asked * answered).sum(-1) / REPLY_WEIGHT_SCALE
        if self.overlap_weight is not None:
            if shared_words is None:
                raise ValueError("this head weighs shared words: pass the counts (shared_words)")
            # Floored at zero: sharing the turn's words counts only for a reply (see above).
            weight = _floored_at_zero(self.overlap_weight)
            match = match + weight * shared_words / REPLY_WEIGHT_SCALE
        return match

    def learning_rate_scale(self, name: str) -> float:
        """The multiple of the learning rate parameter ``name`` (of this module) trains at."""
        return REPLY_WEIGHT_SCALE if name == "overlap_weight" else 1.0


class _FlooredAtZero(torch.autograd.Function):
    """max(w, 0), whose gradient below zero passes only when descent raises ``w``.

    A plain clamp gives no gradient below zero, so a weight that DP noise or one
    population's devices pushed under it would stay there for every later round.
    """

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, weight: Tensor) -> Tensor:
        ctx.save_for_backward(weight)
        return weight.clamp(min=0.0)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: Tensor) -> Tensor:
        (weight,) = ctx.saved_tensors  # type: ignore[attr-defined]
        lowering = (weight < 0.0) & (grad > 0.0)  # descent would push it further down
        return grad.masked_fill(lowering, 0.0)


def _floored_at_zero(weight: Tensor) -> Tensor:
    """max(w, 0); while training, with ``_FlooredAtZero``'s gradient (an exported head
    has only the clamp, which ONNX has as an operator)."""
    if torch.is_grad_enabled() and weight.requires_grad:
        floored: Tensor = _FlooredAtZero.apply(weight)  # type: ignore[no-untyped-call]
        return floored
    return weight.clamp(min=0.0)
