"""A gate on the persona terms: fall back to the context when the persona does not help.

On ConvAI2 the persona is what the conversation is about and persona similarity is the
strongest evidence; on a new population (Multi-Session Chat, issue 13) the previous turn
already names the topic and the same persona weight makes ranking worse than plain
cosine. Whether to trust the persona is a property of the row, so the gate reads how
well each source separates this row's candidates:

    g = 2 * sigmoid(w_c * S(cos(c, r)) + w_p * S(max_j cos(r, p_j)) + b),

with S(x) the standard deviation of x over the row's real candidates (scaled by 10, as
cosine spreads are about 0.1, so the weights move at Adam's step size; Kingma & Ba 2015).
The persona features and the persona summary are multiplied by g (B, 1, 1). At
initialisation w = b = 0 and g = 1: the head ranks as it did without the gate.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from models.persona_null import real_candidates

SPREAD_SCALE = 10.0


class PersonaGate(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weights = nn.Linear(2, 1)
        nn.init.zeros_(self.weights.weight)
        nn.init.zeros_(self.weights.bias)

    def forward(self, candidates: Tensor, context_cos: Tensor, max_cos: Tensor) -> Tensor:
        """candidates (B, K, D), context_cos and max_cos (B, K, 1) -> gate (B, 1, 1)."""
        real = real_candidates(candidates)  # (B, K, 1)
        spreads = torch.cat([_spread(context_cos, real), _spread(max_cos, real)], dim=-1)
        gate: Tensor = 2.0 * torch.sigmoid(self.weights(torch.log(SPREAD_SCALE * spreads)))
        return gate


def _spread(values: Tensor, real: Tensor) -> Tensor:
    """Standard deviation over the real candidates: (B, K, 1) -> (B, 1, 1)."""
    count = real.sum(1, keepdim=True).clamp(min=1.0)
    mean = (values * real).sum(1, keepdim=True) / count
    variance = (((values - mean) ** 2) * real).sum(1, keepdim=True) / count
    return (variance + 1e-12).sqrt()
