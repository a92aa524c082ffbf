"""Stance of persona facts: a fact can say what a person likes or what they avoid.

Similarity to a persona fact is evidence *for* a candidate only when the fact is a liking;
for "I avoid X" / "I'm allergic to Y" the candidates that mention X are the wrong ones
(issue 13: 86% of PrefEval preferences are avoidances). The encoder is frozen, so the
stance is learned from the fact's embedding by the head itself, and the head's inputs
stay the same (no parser, no keyword list on the device).

For fact j with embedding p_j, stance logit z_j = v . p_j + b, stance s_j = tanh(z_j)
(+1 liking, -1 avoidance), avoidance weight a_j = max(-s_j, 0). Two features per
candidate r_k (each (B, K, 1)):

- signed persona match: sum_j w_kj s_j cos(r_k, p_j), with w_kj = softmax_j(cos(r_k, p_j)
  / tau) over real facts (a soft arg-max, tau = 0.1; Goodfellow et al. 2016, 6.2.2.3
  on softmax as a smooth arg-max), so the fact a candidate matches best decides the sign;
- avoidance-respecting candidate: (mean_j a_j) * u . (r_k - mean_l r_l), a learned
  direction over what distinguishes a candidate from the others offered with it (an
  option that steers around the avoided thing), active only for a person whose facts
  are avoidances.

At initialisation v, b and u are zero: every stance is 0, both features are 0, and the
head ranks exactly as without them; their prior weights start at 1 so training moves
v from the first step, and u as soon as some fact reads as an avoidance.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

SOFT_ARGMAX_TEMPERATURE = 0.1


class StanceFeatures(nn.Module):
    def __init__(self, embedding_dim: int) -> None:
        super().__init__()
        self.stance = nn.Linear(embedding_dim, 1)
        self.respecting = nn.Linear(embedding_dim, 1, bias=False)
        nn.init.zeros_(self.stance.weight)
        nn.init.zeros_(self.stance.bias)
        nn.init.zeros_(self.respecting.weight)

    def stances(self, persona: Tensor) -> Tensor:
        """s_j in (-1, 1) for each fact: (B, P)."""
        logits: Tensor = self.stance(persona).squeeze(-1)
        return logits.tanh()

    def forward(self, candidates: Tensor, persona: Tensor, mask: Tensor) -> list[Tensor]:
        logits = self.stance(persona).squeeze(-1)  # (B, P)
        cos = candidates @ persona.transpose(1, 2)  # (B, K, P)
        weights = mask.unsqueeze(1)  # (B, 1, P)
        soft = (cos / SOFT_ARGMAX_TEMPERATURE + (weights - 1.0) * 1e4).softmax(dim=-1) * weights
        signed = (soft * cos * logits.tanh().unsqueeze(1)).sum(-1, keepdim=True)  # (B, K, 1)
        real = (candidates.abs().sum(-1, keepdim=True) > 0).to(candidates.dtype)  # (B, K, 1)
        centre = (candidates * real).sum(1, keepdim=True) / real.sum(1, keepdim=True).clamp(
            min=1.0
        )  # (B, 1, D)
        # How much of the persona is avoidance: mean_j max(-s_j, 0); a liking persona (or
        # an untrained stance) gives 0 and leaves the candidate direction switched off.
        avoidance = torch.relu(-logits.tanh())
        avoiding = (avoidance * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)  # (B,)
        respecting = self.respecting(candidates - centre) * avoiding.view(-1, 1, 1) * real
        return [signed, respecting]
