"""A federated run's settings: parsed once, validated, frozen, saved beside the run.

Keys are snake_case here and kebab-case in ``[tool.flwr.app.config]`` / ``--run-config``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

SAMPLING = ("poisson", "fixed_size")
POPULATIONS = ("personachat", "msc", "synthetic")
# The default delta is 1 / (DEFAULT_DELTA_FACTOR * N): the chance that the epsilon
# guarantee fails for a person is then at most a tenth of one person's share.
DEFAULT_DELTA_FACTOR = 10


@dataclass(frozen=True, kw_only=True)
class RunSettings:
    population: str = "synthetic"
    clients: int = 100
    rounds: int = 20
    clients_per_round: int = 20  # expected count under Poisson sampling (q = this / clients)
    sampling: str = "poisson"
    epsilon: float = 8.0  # budget; math.inf trains without noise and claims no privacy
    delta: float | None = None  # default 1 / (10 * clients); must stay below 1 / clients
    noise_multiplier: float | None = None  # default: calibrated so `rounds` fit the budget
    clipping_norm: float = 1.0  # the starting norm when adaptive_clipping is on
    adaptive_clipping: bool = False  # track a quantile of update norms (Andrew et al. 2021)
    target_quantile: float = 0.5
    clipping_learning_rate: float = 0.2
    # Conservative defaults: small steps barely move the head from its persona_maxsim
    # start, so a small cohort's noise cannot wreck it either. With ~100 devices a round,
    # 5 local epochs at lr 0.01 and a server step of 5 learn much more (docs/benchmarks.md).
    local_epochs: int = 3
    learning_rate: float = 3e-3
    server_learning_rate: float = 1.0
    # SecAgg+: the server sees only the sum of each round's updates; the noise is then
    # distributed, each device adding its share (docs/privacy.md).
    secure_aggregation: bool = True
    dropout_tolerance: float = 0.2  # share of a round's devices that may drop out
    seed: int = 0
    secure_noise: bool = True  # OS-entropy noise; False: seeded (tests, reproducible benches)

    def __post_init__(self) -> None:
        if self.clients < 2:
            raise ValueError(f"clients must be at least 2, got {self.clients}")
        if not 1 <= self.clients_per_round <= self.clients:
            raise ValueError(
                f"clients_per_round must be in [1, {self.clients}], got {self.clients_per_round}"
            )
        if self.rounds < 1:
            raise ValueError(f"rounds must be positive, got {self.rounds}")
        if self.sampling not in SAMPLING:
            raise ValueError(f"sampling must be one of {SAMPLING}, got {self.sampling!r}")
        if not self.epsilon > 0:
            raise ValueError(f"The privacy budget epsilon must be positive, got {self.epsilon}")
        if self.delta is not None and not 0 < self.delta < 1:
            raise ValueError(f"delta must be in (0, 1), got {self.delta}")
        if self.target_delta >= 1.0 / self.clients:
            # Publishing each person's data outright with probability delta is (0, delta)-DP;
            # at delta >= 1/N it is expected to publish someone in full (docs/privacy.md).
            raise ValueError(
                f"delta must be below 1/clients = {1.0 / self.clients:.3g} (a delta of "
                f"1/N allows releasing one person's data outright), got {self.delta}"
            )
        if not self.clipping_norm > 0:
            raise ValueError(
                f"The clipping norm should be a positive value, got {self.clipping_norm}"
            )
        if not 0 < self.target_quantile < 1:
            raise ValueError(f"target_quantile must be in (0, 1), got {self.target_quantile}")
        if not 0 <= self.dropout_tolerance < 0.5:
            # SecAgg+ needs more than half of each device's neighbours to unmask.
            raise ValueError(f"dropout_tolerance must be in [0, 0.5), got {self.dropout_tolerance}")
        if self.noise_multiplier is not None and self.noise_multiplier < 0:
            raise ValueError(f"noise_multiplier must be >= 0, got {self.noise_multiplier}")

    @property
    def target_delta(self) -> float:
        """delta, by default 1/(10 N) for N devices (docs/privacy.md says why)."""
        if self.delta is not None:
            return self.delta
        return 1.0 / (DEFAULT_DELTA_FACTOR * self.clients)

    @property
    def sampling_rate(self) -> float:
        return self.clients_per_round / self.clients

    @property
    def private(self) -> bool:
        return math.isfinite(self.epsilon)

    def with_values(self, **changes: Any) -> RunSettings:
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["epsilon"] = None if not self.private else self.epsilon
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunSettings:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown run settings: {sorted(unknown)}")
        values = dict(data)
        if "epsilon" in values and values["epsilon"] is None:
            values["epsilon"] = math.inf
        return cls(**values)

    @classmethod
    def from_run_config(cls, config: dict[str, Any]) -> RunSettings:
        """From Flower's run config (kebab-case keys; ``epsilon = "inf"`` allowed)."""
        values: dict[str, Any] = {}
        types = {f.name: f.type for f in fields(cls)}
        for key, value in config.items():
            name = key.replace("-", "_")
            if name not in types:
                continue
            values[name] = _coerce(value, str(types[name]))
        return cls(**values)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: Path) -> RunSettings:
        return cls.from_json(json.loads(path.read_text()))


def _coerce(value: Any, type_name: str) -> Any:
    if value in ("", "none", "None") and "None" in type_name:
        return None
    if type_name.startswith("float"):
        return float(value)
    if type_name.startswith("int"):
        return int(value)
    if type_name.startswith("bool"):
        return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
    return str(value)
