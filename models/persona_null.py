"""Persona evidence scored against the row's own null (issue 13).

The persona term of ``persona_maxsim`` is max_j cos(r_k, p_j) over the person's facts.
Two things inflate it without saying anything about candidate k:

- a fact that resembles *every* candidate (the conversation's topic, a generic fact such
  as "I like music") lifts them all, and with the max it can still decide between them
  by small differences that are noise;
- the more facts a person has, the larger the max over them is by chance alone (the
  expected maximum of P draws grows with P; for Gaussian draws about sigma sqrt(2 ln P),
  Cramer 1946, section 28.6), which is why Multi-Session Chat (12.2 facts a row) rewards
  about half the persona weight that ConvAI2 (4.5 facts) does.

The correction reads both from the row itself, with no parameter: each fact's cosines are
centred over the row's real candidates,

    s_kj = cos(r_k, p_j) - mean_k' cos(r_k', p_j),

so a fact is evidence for candidate k only as far as it is *more* like k than like the
other candidates (a per-fact null, as in the "z-score against the background" of
retrieval-score normalisation; Arampatzis & Kamps 2009 review the family). The head then
takes max_j s_kj and mean_j s_kj; a negative prior weight on the mean discounts a
candidate that is mildly like many facts, which is what the max over many facts rewards by
chance. A row whose facts separate no candidate gets s = 0 and ranks by the context.
On the generalisation benchmark's full sets (seed 0), the zero-parameter scorer
cos + max_j s - 0.75 mean_j s gives ConvAI2 unseen / later 62.2 / 51.0 and MSC 71.1,
against 60.0 / 46.3 / 68.1 for persona_maxsim at lambda 1 and 43.6 / 43.7 / 69.4 for
cosine (docs/benchmarks.md, "Generalisation beyond ConvAI2").
"""

from __future__ import annotations

from torch import Tensor


def real_candidates(candidates: Tensor) -> Tensor:
    """(B, K, D) -> (B, K, 1): 1.0 for a candidate, 0.0 for padding (an all-zero vector)."""
    return (candidates.abs().sum(-1, keepdim=True) > 0).to(candidates.dtype)


def centre_over_candidates(persona_cos: Tensor, candidates: Tensor) -> Tensor:
    """persona_cos (B, K, P) minus each fact's mean over the row's real candidates; padded
    candidates stay at 0. The ONNX graph sees no candidate mask, so padding is read from
    the embeddings (padded rows are all zeros, models.encoded)."""
    real = real_candidates(candidates)  # (B, K, 1)
    count = real.sum(1, keepdim=True).clamp(min=1.0)  # (B, 1, 1)
    mean = (persona_cos * real).sum(1, keepdim=True) / count  # (B, 1, P)
    return (persona_cos - mean) * real
