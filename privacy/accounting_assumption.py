"""What each epsilon rests on, in plain words: amplification by sampling, or a device's cap.

An epsilon amplified by sampling (``poisson``, ``fixed_size``) is only as true as the
sampling: it assumes the server draws each round's devices at random, secretly, from the
whole population. In a deployment devices take part when they are online and willing, and
no server can guarantee that draw. The ``unamplified`` figure assumes nothing about who is
chosen; it rests on each device taking part in at most k rounds of the run, a limit the
device keeps itself (privacy.calibration says why that bounds epsilon).
"""

from __future__ import annotations

from typing import Literal

from privacy.calibration import Sampling

AssumptionKind = Literal["amplified", "unamplified"]


def assumption_kind(sampling: Sampling) -> AssumptionKind:
    return "unamplified" if sampling.kind == "unamplified" else "amplified"


def describe_assumption(sampling: Sampling) -> str:
    """One sentence: what the epsilon assumes, and so when it holds."""
    if sampling.kind == "poisson":
        return (
            f"amplified by Poisson sampling (q = {sampling.sampling_probability:.3g}): holds "
            "only if every device is truly sampled at random, independently, each round"
        )
    if sampling.kind == "fixed_size":
        return (
            f"amplified by sampling {sampling.clients_per_round} of {sampling.population:,} "
            "devices: holds only if each round's devices are truly drawn uniformly at random"
        )
    cap = sampling.participation_cap
    rounds = "round" if cap == 1 else "rounds"
    return (
        f"no amplification: holds however devices are chosen, as long as each device "
        f"takes part in at most {cap} {rounds} of the run (the device enforces it)"
    )
