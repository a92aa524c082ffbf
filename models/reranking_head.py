"""The preference/reranking head: scores candidates for one person.

Inputs are frozen all-MiniLM-L6-v2 embeddings (384-d, unit length): the context, the
candidates, and the person's persona facts. The encoder is never trained on the device;
only this head is, so it trains on a phone-class CPU in seconds and its update is small
enough to federate.

Architecture (hidden size H = 64, about 29.7k parameters by default):
- one shared projection W: 384 -> H (24.6k parameters) for context c, candidates r_k and
  persona facts p_j, so the three live in one learned space;
- persona attention: each candidate attends over the persona facts
  (softmax_j <W r_k, W p_j> / sqrt(H)), giving a candidate-specific persona summary a_k;
  facts that do not bear on a candidate do not dilute the ones that do;
- an MLP (2H [+3] -> 32 -> 1) on [W c * W r_k, a_k * W r_k] and, when
  ``use_handcrafted`` is set, three hand-made similarity features from the raw
  embeddings: cos(c, r_k), max_j cos(r_k, p_j) (what the zero-parameter
  ``persona_maxsim`` scorer uses) and mean_j cos(r_k, p_j);
- with the hand-made features, a linear "prior" on them, initialised to
  cos + max-cos (persona_maxsim with lambda 1), while the MLP's last layer starts at
  zero: an untrained head ranks exactly like persona_maxsim and training learns the
  correction. A user with five examples (local-only training, early federated rounds)
  then starts from a strong scorer instead of from noise;
- (issue 13) two stance features of the persona facts (models.polarity: a fact the
  person avoids counts *against* the candidates that match it) joining the prior with
  weight 1, and a gate (models.persona_gate) that scales every persona term by how well
  context and persona separate the row's candidates. Both start neutral (stance 0,
  gate 1), so an untrained head still ranks exactly like persona_maxsim; the inputs are
  the same four tensors as before;
- (issue 13, opt-in) ``persona_null``: the persona cosines are first centred per
  fact over the row's candidates (models.persona_null) and the prior starts at
  cos + max_j s - 0.75 mean_j s, so such an untrained head ranks like that scorer
  (``persona_null`` on bench/generalisation.py), not like persona_maxsim. Old checkpoints
  load with it off.
- (issue 13, opt-in) ``reply_match_rank`` R > 0: a context-to-reply bilinear term
  (models.reply_match, 2 x 384 x R parameters) added to the score; it starts at zero, so
  an untrained head with it ranks exactly as without it. With ``reply_overlap`` the term
  also weighs the content words each candidate shares with the context (one weight,
  starting at zero; a fifth input, ``shared_words``).
Why this size: the per-user data is tens of examples, so capacity goes into one
projection shared by all inputs rather than separate towers, and the attention replaces
a persona mean that would blur a 5-fact persona into one vector.
Scores point up: a higher score means a better candidate for this person.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from models.head_config import EMBEDDING_DIM as EMBEDDING_DIM
from models.head_config import HeadConfig as HeadConfig
from models.persona_gate import PersonaGate
from models.persona_null import centre_over_candidates
from models.polarity import StanceFeatures
from models.reply_match import ReplyMatch

HANDCRAFTED_FEATURES = 3
POLARITY_FEATURES = 2
STANCE_INPUT_FEATURES = 1


class RerankingHead(nn.Module):
    """``forward(context, candidates, persona, persona_mask[, shared_words]) -> scores``.

    Shapes: context (B, D); candidates (B, K, D); persona (B, P, D); persona_mask (B, P),
    1.0 for a real fact and 0.0 for padding (a user with no facts gets all zeros and the
    persona terms become zero); shared_words (B, K), each candidate's content words in
    common with the context (models.lexical_overlap), read only by a head with
    ``reply_overlap``. Returns scores (B, K).
    """

    def __init__(self, config: HeadConfig) -> None:
        super().__init__()
        self.config = config
        hidden = config.hidden_dim
        self.project = nn.Linear(config.embedding_dim, hidden)
        extra = self.feature_count
        last = nn.Linear(config.mlp_dim, 1)
        self.score = nn.Sequential(nn.Linear(2 * hidden + extra, config.mlp_dim), nn.ReLU(), last)
        if config.use_polarity:
            self.polarity = StanceFeatures(config.embedding_dim)
        if config.use_gate:
            self.gate = PersonaGate()
        if config.use_handcrafted:
            self.prior = nn.Linear(extra, 1, bias=False)
            with torch.no_grad():
                start = [1.0, config.persona_prior, config.persona_mean_prior]
                start += [1.0] * (extra - HANDCRAFTED_FEATURES)
                self.prior.weight.copy_(torch.tensor([start]))
                nn.init.zeros_(last.weight)
                nn.init.zeros_(last.bias)
        if config.reply_match_rank:
            # Built last: the other modules' initial weights are those of a head without it.
            self.reply_match = ReplyMatch(
                config.embedding_dim, config.reply_match_rank, overlap=config.reply_overlap
            )

    def learning_rate_scale(self, name: str) -> float:
        """The multiple of the learning rate parameter ``name`` trains at
        (models.reply_match: the shared-words weight's)."""
        if self.config.reply_match_rank:
            return self.reply_match.learning_rate_scale(name.removeprefix("reply_match."))
        return 1.0

    @property
    def feature_count(self) -> int:
        if not self.config.use_handcrafted:
            return 0
        return (
            HANDCRAFTED_FEATURES
            + (POLARITY_FEATURES if self.config.use_polarity else 0)
            + (STANCE_INPUT_FEATURES if self.config.stance_input else 0)
        )

    def forward(
        self,
        context: Tensor,
        candidates: Tensor,
        persona: Tensor,
        persona_mask: Tensor,
        shared_words: Tensor | None = None,
    ) -> Tensor:
        scores = self._persona_scores(context, candidates, persona, persona_mask)
        if self.config.reply_match_rank:
            scores = scores + self.reply_match(context, candidates, shared_words)
        return scores

    def _persona_scores(
        self, context: Tensor, candidates: Tensor, persona: Tensor, persona_mask: Tensor
    ) -> Tensor:
        c = self.project(context).unsqueeze(1)  # (B, 1, H)
        r = self.project(candidates)  # (B, K, H)
        p = self.project(persona)  # (B, P, H)
        attention = self._persona_attention(r, p, persona_mask)  # (B, K, P)
        persona_summary = attention @ p  # (B, K, H)
        if not self.config.use_handcrafted:
            plain: Tensor = self.score(torch.cat([c * r, persona_summary * r], dim=-1))
            return plain.squeeze(-1)
        context_cos, max_cos, mean_cos = _similarity_features(
            context, candidates, persona, persona_mask, null=self.config.persona_null
        )
        persona_parts = [max_cos, mean_cos]
        respecting: list[Tensor] = []
        if self.config.use_polarity:
            signed, respect = self.polarity(candidates, persona, persona_mask)
            persona_parts.append(signed)
            respecting.append(respect)
        gate = self.gate(candidates, context_cos, max_cos) if self.config.use_gate else 1.0
        if self.config.stance_input:
            persona_parts.append(_avoided_match(candidates, persona, persona_mask))
        persona_parts = [part * gate for part in persona_parts]
        features = [c * r, persona_summary * r * gate]
        similarity = torch.cat([context_cos, *persona_parts, *respecting], dim=-1)
        scores: Tensor = self.score(torch.cat([*features, similarity], dim=-1)) + self.prior(
            similarity
        )
        return scores.squeeze(-1)

    def _persona_attention(self, r: Tensor, p: Tensor, mask: Tensor) -> Tensor:
        logits = (r @ p.transpose(1, 2)) / math.sqrt(self.config.hidden_dim)  # (B, K, P)
        logits = logits + (mask.unsqueeze(1) - 1.0) * 1e4  # padding gets ~zero weight
        # All-padding rows: zero the weights instead of spreading them over padding.
        return torch.softmax(logits, dim=-1) * mask.unsqueeze(1)


def _similarity_features(
    context: Tensor, candidates: Tensor, persona: Tensor, mask: Tensor, *, null: bool = False
) -> tuple[Tensor, Tensor, Tensor]:
    """cos(c, r), max_j cos(r, p_j), mean_j cos(r, p_j): each (B, K, 1). Inputs are unit vectors.
    With ``null`` each fact's cosines are first centred over the row's candidates."""
    context_cos = candidates @ context.unsqueeze(-1)  # (B, K, 1)
    persona_cos = candidates @ persona.transpose(1, 2)  # (B, K, P)
    if null:
        persona_cos = centre_over_candidates(persona_cos, candidates)
    weights = mask.unsqueeze(1)  # (B, 1, P)
    masked = persona_cos * weights + (weights - 1.0) * 1e4
    has_facts = (mask.sum(dim=-1) > 0).to(persona_cos.dtype).view(-1, 1, 1)
    max_cos = masked.max(dim=-1, keepdim=True).values * has_facts
    mean_cos = (persona_cos * weights).sum(-1, keepdim=True) / weights.sum(-1, keepdim=True).clamp(
        min=1.0
    )
    return context_cos, max_cos, mean_cos


def _avoided_match(candidates: Tensor, persona: Tensor, mask: Tensor) -> Tensor:
    """min(0, min_j cos(r_k, p_j)): (B, K, 1). With the stance input an avoided thing is a
    negated vector, so a candidate that matches it has a strongly negative cosine; the
    max over facts would let any other fact hide that, so it gets a term of its own
    (prior weight 1: the untrained head already pushes such a candidate down)."""
    persona_cos = candidates @ persona.transpose(1, 2)  # (B, K, P)
    masked = persona_cos * mask.unsqueeze(1) + (1.0 - mask.unsqueeze(1)) * 1e4
    return masked.min(dim=-1, keepdim=True).values.clamp(max=0.0)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
