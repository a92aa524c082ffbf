"""The stance stage: the head's scores plus a small term for what the person avoids.

The reranking head ranks; this stage then adds, for each candidate,

    w . (avoided, avoided_named, avoided_negated)

from the parsed-stance features (models.stance_scorer): cosine to the most similar
avoided / ruled-out object (negated words removed), the share of an avoided item's
words the candidate names plainly, and whether it names one only under a negation.
All three are exactly zero for a person whose facts state no avoid / cannot clause, so
for that person the stage keeps the head's order exactly.

The head's scores are standardised per row (same order, a scale that does not depend on
the head), and the weights are fitted as a conditional logit with them as a fixed offset
(McFadden 1974; an offset as in a GLM, McCullagh & Nelder 1989 s. 6.2.3). The stage acts only on a
message that asks for a recommendation or a choice (``is_request``): in conversation a
reply about what the speaker hates is often the right one (docs/benchmarks.md, "A stance
stage after the head"). And it acts only on the requester's own persona
(``PERSONA_OWNERS``, ``stage_acts``): a partner's request says nothing about what the
persona's owner avoids.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from models.encoded import EmbedFn
from models.stance import parse_stance
from models.stance_scorer import FEATURES, StanceRow, stance_features

Array = npt.NDArray[np.float32]
STAGE_FEATURES = ("avoided", "avoided_named", "avoided_negated")
# A variant measured beside it (bench.generalisation_stage): likes too. Not zero for a
# person who only states likes, so only ever applied to requests.
LIKED_FEATURES = (*STAGE_FEATURES, "liked", "liked_named")
# The fit on all eight PrefEval development topics with a quick-run head (seed 0), rounded:
# they saw every dev topic, so a PrefEval figure with them is not topic-held-out.
STAGE_WEIGHTS = np.asarray([-12.8, -2.8, 0.35], np.float32)
# Whose persona the stage holds. It means "respect the requester's stated avoidances", so
# it acts only when the persona belongs to whoever made the request ("requester": on the
# device the persona is the user's and the user asks; PrefEval's preference and question
# are the same user's). In reply selection (ConvAI2, Multi-Session Chat) the persona is
# the *replier's* and the request the partner's: the partner asking "what should I cook?"
# says nothing about what the replier must avoid recommending ("replier").
PERSONA_OWNERS = ("requester", "replier")


def stage_features(features: Array, names: Sequence[str] = STAGE_FEATURES) -> Array:
    """(..., F) parsed-stance features (models.stance_scorer order) -> (..., len(names))."""
    if features.shape[-1] != len(FEATURES):
        raise ValueError(f"expected {len(FEATURES)} stance features, got {features.shape[-1]}")
    return np.asarray(features[..., [FEATURES.index(n) for n in names]], np.float32)


def standardised(head: Array) -> Array:
    """Each row of head scores (N, K) minus its mean, over its standard deviation: the same
    order, on a scale that does not depend on which head produced it."""
    spread = head.std(axis=-1, keepdims=True)
    return np.asarray((head - head.mean(axis=-1, keepdims=True)) / (spread + 1e-6), np.float32)


def staged_scores(
    head: Array,
    features: Array,
    weights: Array = STAGE_WEIGHTS,
    names: Sequence[str] = STAGE_FEATURES,
) -> Array:
    """Standardised head scores (N, K) plus the stance term over (N, K, F) features."""
    if head.shape != features.shape[:-1]:
        raise ValueError(f"head scores {head.shape} do not match features {features.shape}")
    term = stage_features(features, names) @ weights
    return np.asarray(standardised(head) + term, np.float32)


def fit_stage(
    head: Array,
    features: Array,
    labels: npt.NDArray[np.int64],
    *,
    l2: float = 1e-4,
    steps: int = 3000,
    learning_rate: float = 0.5,
    names: Sequence[str] = STAGE_FEATURES,
) -> Array:
    """Stage weights (len(names),) by gradient descent on the mean cross-entropy of
    softmax_k(z(head)_k + x_k . w) (z: ``standardised``) against the gold candidate,
    plus ``l2`` * |w|^2; starts from ``STAGE_WEIGHTS`` (zeros past them).
    Deterministic: no sampling."""
    every_row = [np.ones(len(head), bool)]
    (weights,) = fit_stage_on_subsets(
        head,
        features,
        labels,
        every_row,
        l2=l2,
        steps=steps,
        learning_rate=learning_rate,
        names=names,
    )
    return np.asarray(weights, np.float32)


def fit_stage_on_subsets(
    head: Array,
    features: Array,
    labels: npt.NDArray[np.int64],
    subsets: Sequence[npt.NDArray[np.bool_]],
    *,
    l2: float = 1e-4,
    steps: int = 3000,
    learning_rate: float = 0.5,
    names: Sequence[str] = STAGE_FEATURES,
) -> Array:
    """(S, len(names)): ``fit_stage`` on each subset of rows (boolean masks), the S fits
    run side by side, one pass over the rows a step instead of S (leave-one-topic-out
    fits share their rows). Each fit takes the steps it would take alone."""
    if not len(head) or not all(subset.any() for subset in subsets):
        raise ValueError("no rows to fit the stance stage on")
    x = stage_features(features, names).astype(np.float64)
    offset = standardised(head).astype(np.float64)
    gold = x[np.arange(len(x)), labels]
    start = np.zeros(len(names), np.float64)
    start[: len(STAGE_WEIGHTS)] = STAGE_WEIGHTS[: len(names)]
    weights = np.tile(start, (len(subsets), 1))
    share = np.stack(subsets).astype(np.float64)
    share /= share.sum(axis=1, keepdims=True)  # (S, N): each subset's mean over its rows
    for _ in range(steps):
        logits = offset[:, :, None] + x @ weights.T  # (N, K, S)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        expected = np.matmul(p.transpose(0, 2, 1), x)  # (N, S, F): sum_k p x
        gradient = np.einsum("sn,nsf->sf", share, expected - gold[:, None, :])
        weights -= learning_rate * (gradient + 2 * l2 * weights)
    return np.asarray(weights, np.float32)


def has_avoidance(facts: Sequence[str]) -> bool:
    """Whether any fact states an avoid / cannot clause (models.stance)."""
    return any(c.stance.negative for fact in facts for c in parse_stance(fact))


def stance_term(
    facts: Sequence[str],
    candidates: Sequence[str],
    embed: EmbedFn,
    weights: Array = STAGE_WEIGHTS,
) -> Array:
    """(K,) the stage's term for each candidate: all zeros, without calling the encoder,
    when no fact states an avoid / cannot clause."""
    if not candidates or not has_avoidance(facts):
        return np.zeros(len(candidates), np.float32)
    features = stance_features([StanceRow("", tuple(facts), tuple(candidates))], embed)
    return np.asarray(stage_features(features[0]) @ weights, np.float32)


def stage_acts(context: str, persona_owner: str = "requester") -> bool:
    """Whether the stage may act on a message: it asks for something (``is_request``) and
    the persona is the requester's own (``PERSONA_OWNERS``)."""
    if persona_owner not in PERSONA_OWNERS:
        raise ValueError(f"persona_owner must be one of {PERSONA_OWNERS}, got {persona_owner!r}")
    return persona_owner == "requester" and is_request(context)


def stage_order(
    head: Sequence[float],
    context: str,
    facts: Sequence[str],
    candidates: Sequence[str],
    embed: EmbedFn,
    weights: Array = STAGE_WEIGHTS,
    *,
    persona_owner: str = "requester",
) -> list[int]:
    """Candidate indices, best first: the head's order unless the stage acts
    (``stage_acts``: a request, on the requester's own persona) and a fact states an
    avoidance; then by standardised head score plus the stance term. Ties keep the
    head's order."""
    if len(head) != len(candidates):
        raise ValueError(f"{len(head)} head scores for {len(candidates)} candidates")
    scores = np.asarray(head, np.float32)
    if stage_acts(context, persona_owner) and has_avoidance(facts):
        term = stance_term(facts, candidates, embed, weights)
        scores = standardised(scores[None])[0] + term
    return [int(i) for i in np.argsort(-scores, kind="stable")]


# Written request forms (English): asking for a recommendation, a choice or a way to do
# something. Extended after reading the PrefEval development questions the first list
# missed ("what's the best way to...", "where can I find..."); chit-chat questions such as
# "can you swim?" or "which is why" must not match.
_REQUEST = re.compile(
    r"\b(recommend\w*|suggest\w*|advice|any ideas|ideas for|looking for|help me"
    r"|should i|what should|i should (?:try|consider)|(?:can|could) i try"
    r"|what(?:'s| is| are| would be) (?:some|a good|the best|good)"
    r"|would be (?:a good|the best)|the best (?:way|ways|option|place|places|resources)"
    r"|(?:good|effective\w*|innovative) ways? to|how (?:can|should|do) i|where can i)\b"
)


# A question about someone else: a third-person pronoun, or a capitalised name in a
# subject's place ("What does Melanie like?", "What advice did Tim give?", "Caroline has
# faced"). Read after two LoCoMo questions about what a speaker recommended were taken
# for the user's own requests (docs/benchmarks.md, "Evidence recall on LoCoMo").
_THIRD_PRONOUN = re.compile(r"\b(he|him|his|she|her|hers|they|them|their|theirs)\b")
_AUXILIARY = r"(?:does|did|do|has|have|had|is|was|are|were|would|will|can|could|should)"
# Not where a sentence starts ("What are ...", "Is it ..."): there a capital says nothing.
_NAME = r"(?<=[^.?!:\s]\s)(?!I\b)[A-Z][a-z]+"
_NAMED_SUBJECT = re.compile(
    rf"\b{_AUXILIARY}\s+{_NAME}\b|\b{_NAME}\s+{_AUXILIARY}\b|\bfor\s+{_NAME}\s+to\b"
)
# The person speaking or the assistant addressed: a request for the user even when it
# names someone else ("What should I get my mom? She loves tea.").
_SELF_OR_ASSISTANT = re.compile(
    r"\b(i|i'm|i've|i'd|i'll|me|my|mine|myself|we|us|our|ours|you|your)\b"
)


def is_request(context: str) -> bool:
    """Whether a message asks for a recommendation, a choice or a way to do something
    (written cues), as opposed to chit-chat: where a ranking acts for the person.

    A question about a third person ("What does Joanna recommend for a comfy living
    room?") is not one: it asks what someone else said or likes, not for the user's
    choice, unless the message also speaks of the user or addresses the assistant.
    """
    lowered = context.lower()
    if _REQUEST.search(lowered) is None:
        return False
    return not about_someone_else(context)


def about_someone_else(context: str) -> bool:
    """Whether a message speaks of a third person (a pronoun, or a capitalised name where a
    subject stands) and neither of the speaker nor to the assistant (English cues)."""
    lowered = context.lower()
    if _SELF_OR_ASSISTANT.search(lowered.replace("\u2019", "'")):
        return False
    return bool(_THIRD_PRONOUN.search(lowered) or _NAMED_SUBJECT.search(context))
