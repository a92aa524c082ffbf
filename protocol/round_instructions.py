"""What the server asks of the devices in one round, and how it travels.

The server builds one ``RoundInstructions``; ``to_config`` turns it into the flat record
Flower carries (kebab-case keys, numbers and strings only) and the device reads it back
with ``from_config``. Neither end spells a key by hand. What a device sends back is fixed
by ``privacy.device_release``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from models.reranking_head import HeadConfig

ConfigValue = int | float | str


@dataclass(frozen=True, kw_only=True)
class RoundInstructions:
    """One round's instructions.

    Attributes:
        round: the round number; also seeds the device's local shuffling.
        clipping_norm: C, the L2 bound of a device's whole release.
        local_epochs, learning_rate, batch_size: the device's local training.
        noise_share_std: std of the noise each device adds to every coordinate (> 0 only
            under secure aggregation, where the noise is distributed).
        min_contributors: under secure aggregation, the fewest masked vectors the server
            may unmask (the noise shares are sized for it); devices ignore it.
        head: the architecture of the head whose weights come with the round.
        reference_facts: public facts common in a reference population; a device reports
            the share of its persona's facts outside them (client.monitoring.uniqueness).
        run_token: the run's random identity, the same across restarts of the server; a
            device counts the rounds it takes part in per run token.
        participation_cap: the most rounds of this run a device may take part in (0: no
            cap); under unamplified accounting the run's epsilon rests on it
            (client.participation).
    """

    round: int
    clipping_norm: float
    local_epochs: int = 3
    learning_rate: float = 3e-3
    batch_size: int = 16
    noise_share_std: float = 0.0
    min_contributors: int = 0
    head: HeadConfig = field(default_factory=HeadConfig)
    reference_facts: tuple[str, ...] = ()
    run_token: str = ""
    participation_cap: int = 0

    def to_config(self) -> dict[str, ConfigValue]:
        return {
            "round": self.round,
            "clipping-norm": self.clipping_norm,
            "local-epochs": self.local_epochs,
            "learning-rate": self.learning_rate,
            "batch-size": self.batch_size,
            "noise-share-std": self.noise_share_std,
            "min-contributors": self.min_contributors,
            "head": json.dumps(self.head.to_json(), sort_keys=True),
            "reference-facts": json.dumps(list(self.reference_facts)),
            "run-token": self.run_token,
            "participation-cap": self.participation_cap,
        }

    @classmethod
    def from_config(cls, config: Mapping[str, object]) -> RoundInstructions:
        """Read ``to_config``'s record back; a missing or mistyped key raises naming it."""
        head = config.get("head")
        if not isinstance(head, str):
            raise TypeError(f"the round config's 'head' should be JSON text, got {head!r}")
        token = config.get("run-token")
        if not isinstance(token, str):
            raise TypeError(f"the round config's 'run-token' should be text, got {token!r}")
        return cls(
            round=int(_number(config, "round")),
            clipping_norm=_number(config, "clipping-norm"),
            local_epochs=int(_number(config, "local-epochs")),
            learning_rate=_number(config, "learning-rate"),
            batch_size=int(_number(config, "batch-size")),
            noise_share_std=_number(config, "noise-share-std"),
            min_contributors=int(_number(config, "min-contributors")),
            head=HeadConfig.from_json(json.loads(head)),
            reference_facts=_texts(config, "reference-facts"),
            run_token=token,
            participation_cap=int(_number(config, "participation-cap")),
        )


def _number(config: Mapping[str, object], key: str) -> float:
    value = config.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"the round config's {key!r} should be a number, got {value!r}")
    return float(value)


def _texts(config: Mapping[str, object], key: str) -> tuple[str, ...]:
    """A JSON list of texts; an absent key (an older server) is an empty list."""
    value = json.loads(str(config.get(key, "[]")))
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"the round config's {key!r} should be a JSON list of texts")
    return tuple(value)
