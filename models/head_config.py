"""The reranking head's shape and options (models.reranking_head), without torch.

Apart so that what only describes a head (protocol.round_instructions, a device's SecAgg+
key stages) loads without torch: a deployed device starts one process per message.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

EMBEDDING_DIM = 384


@dataclass(frozen=True, kw_only=True)
class HeadConfig:
    embedding_dim: int = EMBEDDING_DIM
    hidden_dim: int = 64
    mlp_dim: int = 32
    use_handcrafted: bool = True
    # Stance of each persona fact (models.polarity): needs the hand-made features. Stance and
    # gate are off by default: on bench/generalisation.py they gain only on PrefEval (+3.9)
    # and lose 0.6 on ConvAI2 later turns, and devices would train the stance on
    # conversations, which cost 2 points on MSC (docs/benchmarks.md, "Generalisation").
    use_polarity: bool = False
    # Initial weight of max_j cos(r, p_j) in the prior (persona_maxsim's lambda).
    persona_prior: float = 1.0
    # Scale the persona terms by a learned gate on how much context and persona evidence
    # discriminate among this row's candidates (models.persona_gate).
    use_gate: bool = False
    # Persona input with stance (models.stance_persona): an avoided thing enters as its
    # negated embedding. Data-side only (the same tensors, weights and ONNX graph); every
    # place that builds the head's persona input reads this flag. Off by default: it lifts
    # PrefEval and costs ConvAI2 a little (docs/benchmarks.md, "Generalisation").
    stance_input: bool = False
    # (issue 13) Score persona evidence against the row's own null: each fact's cosine to a
    # candidate minus that fact's mean cosine over the row's candidates (models.persona_null).
    # On bench/generalisation.py the untrained head gains 2.7 / 4.8 / 4.0 on ConvAI2 unseen /
    # later / MSC over persona_maxsim, and the central head trained with it
    # (models.robust_head) is above the previous one on both populations. Off by default:
    # federated from it, `make run` moved held-out hits@1 only 18.0 -> 18.7 (+-1.4) against
    # 18.3 -> 20.5 with the previous features (docs/benchmarks.md).
    persona_null: bool = False
    # Initial weight of mean_j cos(r, p_j) in the prior; with ``persona_null`` a negative
    # weight discounts a candidate that resembles every fact a little (models.persona_null).
    persona_mean_prior: float = 0.0
    # (issue 13, opt-in) Rank of a context-to-reply bilinear term (models.reply_match) added
    # to the score; 0: none. Its reply side starts at zero, so the untrained head ranks as
    # without it.
    reply_match_rank: int = 0
    # (issue 13) The term also weighs how many content words a candidate shares with the
    # context (models.lexical_overlap), with one learned weight that starts at zero. Needs
    # the term; the head then takes the counts as a fifth input.
    reply_overlap: bool = False

    def __post_init__(self) -> None:
        for name in ("embedding_dim", "hidden_dim", "mlp_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.reply_match_rank < 0:
            raise ValueError(f"reply_match_rank must be >= 0, got {self.reply_match_rank}")
        if self.reply_overlap and not self.reply_match_rank:
            raise ValueError("reply_overlap needs the context-to-reply term (reply_match_rank > 0)")
        if not self.use_handcrafted:
            # Stance and gate act on the hand-made features: without those, neither exists.
            object.__setattr__(self, "use_polarity", False)
            object.__setattr__(self, "use_gate", False)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HeadConfig:
        # Checkpoints written before the stance features existed describe a head without them.
        old = {"use_polarity": False, "use_gate": False, "stance_input": False}
        older = {"persona_null": False, "persona_mean_prior": 0.0, "reply_match_rank": 0}
        return cls(**{**old, **older, **data})
