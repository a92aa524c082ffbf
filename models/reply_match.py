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
"""

from __future__ import annotations

from torch import Tensor, nn


class ReplyMatch(nn.Module):
    """``forward(context (B, D), candidates (B, K, D)) -> (B, K)``."""

    def __init__(self, embedding_dim: int, rank: int) -> None:
        super().__init__()
        if rank < 1:
            raise ValueError(f"rank must be positive, got {rank}")
        self.context_side = nn.Linear(embedding_dim, rank, bias=False)
        self.reply_side = nn.Linear(embedding_dim, rank, bias=False)
        nn.init.zeros_(self.reply_side.weight)

    def forward(self, context: Tensor, candidates: Tensor) -> Tensor:
        asked = self.context_side(context).unsqueeze(1)  # (B, 1, R)
        answered = self.reply_side(candidates)  # (B, K, R)
        match: Tensor = (asked * answered).sum(-1)
        return match
