"""The device's own limit on how many rounds of one federated run it takes part in.

Unamplified accounting (privacy.calibration) bounds a user's privacy loss by the rounds
they take part in, at most k per run. The server never samples a device beyond k, but its
count is keyed by node ids, which change when a device reconnects, and a server's
bookkeeping is not the device's to trust; so the device keeps its own count, sealed in
its encrypted store (a thief learns nothing from it), and refuses a round past its cap.
A round is counted *before* anything of it is computed or sent: a round that fails after
the count stays counted, which can only over-count, never under-count.
"""

from __future__ import annotations

import json

from client.store import EncryptedStore

SEALED_NAME = "participation"


class ParticipationCapError(RuntimeError):
    """This device has already taken part in its cap of rounds of this run."""


def effective_cap(server_cap: int, device_cap: int | None) -> int:
    """The cap the device keeps: the server's (0: none asked) or its own, the smaller."""
    if device_cap is not None and device_cap < 1:
        raise ValueError(f"a device's own participation cap should be >= 1, got {device_cap}")
    caps = [cap for cap in (server_cap, device_cap) if cap]
    return min(caps) if caps else 0


def participations(store: EncryptedStore, run_token: str) -> int:
    """Rounds of run ``run_token`` this device has taken part in."""
    return int(_counts(store).get(run_token, 0))


def claim_participation(store: EncryptedStore, run_token: str, cap: int) -> int:
    """Count one more round of ``run_token`` (committed), or refuse past ``cap``.

    ``cap`` 0 means no limit. Returns the count including this round.
    """
    if cap and not run_token:
        raise ValueError("a participation cap needs the run's token to count rounds against")
    counts = _counts(store)
    done = int(counts.get(run_token, 0))
    if cap and done >= cap:
        raise ParticipationCapError(
            f"this device has taken part in {done} rounds of run {run_token[:8]}, its cap of "
            f"{cap}; it sends nothing more in this run"
        )
    counts[run_token] = done + 1
    store.set_sealed_value(SEALED_NAME, json.dumps(counts, sort_keys=True).encode())
    return done + 1


def _counts(store: EncryptedStore) -> dict[str, int]:
    sealed = store.sealed_value(SEALED_NAME)
    return {} if sealed is None else dict(json.loads(sealed))
