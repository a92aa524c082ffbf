"""Training rows whose persona holds more facts than the conversation needs (issue 13).

ConvAI2 gives each person 3-5 facts, all of which the dialogue was written around; a real
device (and Multi-Session Chat, 12.2 facts a row) holds many facts of which most do not
bear on the next reply. A head trained only on the first learns to trust the best fact
match more than the second rewards. Dilution appends to a training row's persona facts of
*other* people (drawn from the other rows' personas, never from rows of the same group),
so the head sees rows with 3 to ``max_facts`` facts where the extra ones are noise, as
they are for a person with a long memory. Only training rows are diluted; validation and
test rows keep their own facts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from models.encoded import EncodedExamples


def dilute_personas(
    data: EncodedExamples,
    groups: Sequence[str],
    rng: np.random.Generator,
    *,
    max_facts: int = 15,
    fraction: float = 0.5,
) -> EncodedExamples:
    """A copy of ``data`` where a ``fraction`` of rows get extra facts of other groups, up to a
    total drawn uniformly between the row's own count and ``max_facts``."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    if len(groups) != len(data):
        raise ValueError(f"{len(groups)} groups for {len(data)} rows")
    own = data.persona_mask.sum(1).astype(np.int64)
    if max_facts < int(own.max(initial=0)):
        raise ValueError(f"max_facts {max_facts} is below a row's own {int(own.max())} facts")
    names = np.asarray(groups)
    pool_rows, pool_slots = np.nonzero(data.persona_mask > 0)
    persona = np.zeros((len(data), max_facts, data.persona.shape[2]), np.float32)
    mask = np.zeros((len(data), max_facts), np.float32)
    persona[:, : data.persona.shape[1]] = data.persona
    mask[:, : data.persona.shape[1]] = data.persona_mask
    for row in np.flatnonzero(rng.random(len(data)) < fraction):
        total = int(rng.integers(own[row], max_facts + 1))
        others = np.flatnonzero(names[pool_rows] != names[row])
        if total <= own[row] or len(others) == 0:
            continue
        drawn = rng.choice(others, size=total - own[row], replace=False)
        persona[row, own[row] : total] = data.persona[pool_rows[drawn], pool_slots[drawn]]
        mask[row, own[row] : total] = 1.0
    return replace(data, persona=persona, persona_mask=mask)
