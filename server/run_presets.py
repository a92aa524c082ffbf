"""Per-epsilon presets: the training configuration measured to suit each privacy budget.

A preset fixes the budget and the settings that were tuned for it (rounds, cohort,
sampling, clipping, the devices' and the server's step, head averaging); it leaves the
population, the number of devices, secure aggregation and the seed to the run. Flags given
on the command line override a preset's values (`fedpersona simulate --preset eps3
--rounds 30`); without ``--preset`` nothing changes (``make run`` keeps RunSettings'
defaults).

Where the values come from (docs/benchmarks.md, "Federated head under user-level DP"):
``bench.head_averaging --config conservative`` on PersonaChat's 800 seen users, 100
expected a round (Poisson, q = 0.125), 60 rounds, clipping norm 0.5, 3 local epochs at lr
3e-3, server step 1, the last round's head published; three seeds, hits@1 on unseen users
/ later turns against the central head's 64.4 / 53.9:

- ``eps8``: 64.1 / 51.3 (the large step, 5 epochs at lr 0.01 and server step 5 with a
  beta 0.8 average, gave 62.0 / 51.0: the conservative step wins at epsilon 8 too);
- ``eps3``: 64.0 / 51.5;
- ``eps1``: 62.5 / 49.1 (later turns 4.8 behind the central head: issue 14's 3-point
  target is not met at epsilon 1).

The three presets thus share one training configuration and differ in the budget (and so
in the calibrated noise: 0.908, 1.590, 3.598 at 800 devices). None of them was searched
per epsilon beyond the two configurations above.

What a preset does not promise: these figures hold for that population and cohort rate; on
another population (the synthetic one, other N) the same values are a starting point, not
a measured optimum. The privacy guarantee does not depend on the preset: the noise is
calibrated to the preset's epsilon for whatever population the run has.
"""

from __future__ import annotations

from typing import Any

from server.run_settings import RunSettings

# The settings every preset shares (bench.federated's ROUNDS and cohort).
_MEASURED_SETUP: dict[str, Any] = {
    "rounds": 60,
    "clients_per_round": 100,
    "sampling": "poisson",
    "clipping_norm": 0.5,
    "server_momentum": 0.0,
}
# The conservative step: 3 local epochs at lr 3e-3, server step 1 (bench.head_averaging's
# "conservative" configuration is this one); the presets publish the last head.
CONSERVATIVE_STEP: dict[str, float] = {
    "local_epochs": 3,
    "learning_rate": 3e-3,
    "server_learning_rate": 1.0,
}
_CONSERVATIVE: dict[str, Any] = {**CONSERVATIVE_STEP, "head_averaging": 0.0}

PRESETS: dict[str, dict[str, Any]] = {
    f"eps{epsilon:g}": {**_MEASURED_SETUP, **_CONSERVATIVE, "epsilon": epsilon}
    for epsilon in (8.0, 3.0, 1.0)
}


def preset_values(name: str | None) -> dict[str, Any]:
    """The settings preset ``name`` fixes (none for ``None``)."""
    if name is None:
        return {}
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; presets: {', '.join(PRESETS)}")
    return dict(PRESETS[name])


def settings_with_preset(name: str | None, given: dict[str, Any]) -> RunSettings:
    """RunSettings' defaults, then the preset's values, then the values given explicitly."""
    return RunSettings(**{**preset_values(name), **given})


def describe(name: str) -> str:
    """One line for ``--help``: the preset's values as flags."""
    return " ".join(
        f"--{key.replace('_', '-')} {value:g}"
        if isinstance(value, float)
        else f"--{key.replace('_', '-')} {value}"
        for key, value in PRESETS[name].items()
    )
