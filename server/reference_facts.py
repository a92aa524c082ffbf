"""The public reference facts a round ships for the devices' uniqueness statistic.

A fact is "common" when at least two and at least ``min_share`` of a public reference
population's personas hold it (compared as protocol.persona_schema.normalised_fact
says: case and spacing ignored). A device then reports the share of its own facts outside this list
(client.monitoring.uniqueness). The reference must be public: in a simulation it is the
held-out users, who never take part; a deployment would use a public persona corpus. The
list is capped at ``limit`` facts, most common first, to keep the round's instructions small.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from protocol.persona_schema import normalised_fact

MIN_SHARE = 0.05
LIMIT = 500


def common_facts(
    personas: Iterable[Sequence[str]], *, min_share: float = MIN_SHARE, limit: int = LIMIT
) -> tuple[str, ...]:
    """Facts held by at least ``min_share`` of ``personas``, most common first (ties by text)."""
    if not 0.0 < min_share <= 1.0:
        raise ValueError(f"min_share must be within (0, 1], got {min_share}")
    if limit < 0:
        raise ValueError(f"limit must be non-negative, got {limit}")
    counts: Counter[str] = Counter()
    people = 0
    for persona in personas:
        people += 1
        counts.update({normalised_fact(fact) for fact in persona})
    if not people:
        return ()
    # One person's fact is never "common", however small the reference.
    common = [(n, fact) for fact, n in counts.items() if n >= max(2.0, min_share * people)]
    return tuple(fact for _, fact in sorted(common, key=lambda c: (-c[0], c[1]))[:limit])
