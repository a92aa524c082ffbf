"""A federated run's settings: parsed once, validated, frozen, saved beside the run.

Keys are snake_case here and kebab-case in ``[tool.flwr.app.config]`` / ``--run-config``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, get_args, get_type_hints

SAMPLING = ("poisson", "fixed_size")
ACCOUNTING = ("amplified", "unamplified")
# Deployed runs (Flower's run config: `flwr run`, the deployment engine) rest on no claim
# about how devices are chosen: in a deployment they join when online and willing, so the
# server cannot guarantee random sampling (docs/privacy.md). `fedpersona simulate` samples
# for real and keeps the field's default, amplified.
DEPLOYED_DEFAULTS: dict[str, Any] = {"accounting": "unamplified"}
POPULATIONS = ("personachat", "msc", "synthetic", "synthetic-learned")
# What round 1 starts from: the shipped public head (models.public_head: trained centrally
# on public data, the head of issue 13's targets) or a fresh untrained head.
START_HEADS = ("public", "untrained")
# The default delta is 1 / (DEFAULT_DELTA_FACTOR * N): the chance that the epsilon
# guarantee fails for a person is then at most a tenth of one person's share.
DEFAULT_DELTA_FACTOR = 10


def setting(default: Any, help: str, **cli: Any) -> Any:
    """A field with its help text: the command line's flags and `--help` come from here
    (cli.settings_arguments), so a setting is declared once. ``cli`` may hold ``choices``,
    or ``flag`` with ``negate`` for a flag that sets the field to the opposite of its name."""
    return field(default=default, metadata={"help": help, **cli})


@dataclass(frozen=True, kw_only=True)
class RunSettings:
    population: str = setting(
        "synthetic",
        "who the simulated devices are: generated users (no data set needed) or real data",
        choices=POPULATIONS,
    )
    start_head: str | None = setting(
        None,
        "the head round 1 starts from: 'public', trained centrally on public data "
        "(models.public_head; costs no privacy), or 'untrained' (default: public, except "
        "with --population personachat, whose users it was trained on)",
        choices=START_HEADS,
    )
    # The defaults are `make run`'s: on the synthetic population 1,000 devices with 50 a round
    # learn visibly within epsilon 8 from the untrained head (held-out hits@1 18.3 -> 21.0,
    # 95% interval +-1.5; from the public head 18.4 -> 19.0, its gain being on real
    # conversations); 100 devices do not, at any setting tried, not even trained centrally
    # (docs/benchmarks.md).
    clients: int = setting(1000, "simulated devices, one user each (N)")
    rounds: int = setting(20, "rounds to run (fewer if the privacy budget ends first)")
    clients_per_round: int = setting(
        50, "devices per round: expected (Poisson, q = this / N) or exact (fixed-size)"
    )
    sampling: str = setting("poisson", "how each round's devices are drawn", choices=SAMPLING)
    accounting: str = setting(
        "amplified",
        "what epsilon rests on: 'amplified' credits the random sampling (true only where it is "
        "real: simulations); 'unamplified' holds however devices are chosen, each joining "
        "at most --participation-cap rounds (the default of deployed runs)",
        choices=ACCOUNTING,
    )
    participation_cap: int | None = setting(
        None,
        "with --accounting unamplified: the most rounds of the run a device joins, kept by "
        "the device itself (default: ceil(rounds * clients-per-round / clients), the rounds "
        "a device joins on average)",
    )
    epsilon: float = setting(8.0, "privacy budget; 'inf' trains without noise (no privacy)")
    delta: float | None = setting(None, "default 1/(10 N); must be below 1/N")
    noise_multiplier: float | None = setting(
        None, "default: the smallest that fits every round in the budget"
    )
    clipping_norm: float = setting(
        0.5, "L2 bound C of each device's release (the start with --adaptive-clipping)"
    )
    adaptive_clipping: bool = setting(
        False, "track a quantile of update norms (Andrew et al. 2021)"
    )
    target_quantile: float = setting(0.5, "with --adaptive-clipping: the quantile C tracks")
    clipping_learning_rate: float = setting(
        0.2, "with --adaptive-clipping: the geometric step of C"
    )
    # With about 100 devices a round a server step of 5 learns more (docs/benchmarks.md); at
    # 50 a round a larger step carries too much noise into the head.
    local_epochs: int = setting(5, "devices' local training epochs per round")
    learning_rate: float = setting(0.01, "devices' local learning rate")
    server_learning_rate: float = setting(1.5, "server step as a multiple of the mean update")
    # Both post-process the released means (server.server_steps): no privacy cost.
    server_momentum: float = setting(
        0.0,
        "server momentum beta in [0, 1): each step adds beta x the previous step "
        "(0: plain DP-FedAvg)",
    )
    head_averaging: float = setting(
        0.0,
        "publish a moving average of the rounds' heads, beta in [0, 1) (0: the last round's "
        "head); training goes on from the last one",
    )
    # SecAgg+: the server sees only the sum of each round's updates; the noise is then
    # distributed, each device adding its share (docs/privacy.md).
    secure_aggregation: bool = setting(
        True,
        "SecAgg+: the server sees only each round's sum and the devices add the noise; "
        "--no-secure-aggregation: the server sees each clipped release and adds the noise",
    )
    dropout_tolerance: float = setting(
        0.2, "with secure aggregation: the share of a round's devices that may drop out"
    )
    seed: int = setting(0, "seed of the population (and of the noise with --seeded-noise)")
    secure_noise: bool = setting(
        True,
        "reproducible noise from --seed (experiments and tests; not for production)",
        flag="seeded-noise",
        negate=True,
    )

    def __post_init__(self) -> None:
        if self.clients < 2:
            raise ValueError(f"clients must be at least 2, got {self.clients}")
        if not 1 <= self.clients_per_round <= self.clients:
            raise ValueError(
                f"clients_per_round must be in [1, {self.clients}], got {self.clients_per_round}"
            )
        if self.rounds < 1:
            raise ValueError(f"rounds must be positive, got {self.rounds}")
        if self.start_head is not None and self.start_head not in START_HEADS:
            raise ValueError(f"start_head must be one of {START_HEADS}, got {self.start_head!r}")
        if self.start_head == "public" and self.population == "personachat":
            raise ValueError(
                "start_head 'public' was trained on ConvAI2, the personachat population's "
                "users: use start_head 'untrained' with it"
            )
        if self.sampling not in SAMPLING:
            raise ValueError(f"sampling must be one of {SAMPLING}, got {self.sampling!r}")
        if self.accounting not in ACCOUNTING:
            raise ValueError(f"accounting must be one of {ACCOUNTING}, got {self.accounting!r}")
        if self.participation_cap is not None and self.accounting != "unamplified":
            raise ValueError(
                f"participation_cap ({self.participation_cap}) applies to unamplified "
                f"accounting only, not {self.accounting!r}"
            )
        if self.participation_cap is not None and self.participation_cap < 1:
            raise ValueError(f"participation_cap must be >= 1, got {self.participation_cap}")
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
        for name in ("server_momentum", "head_averaging"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if not 0 <= self.dropout_tolerance < 0.5:
            # SecAgg+ needs more than half of each device's neighbours to unmask.
            raise ValueError(f"dropout_tolerance must be in [0, 0.5), got {self.dropout_tolerance}")
        if self.noise_multiplier is not None and not 0 <= self.noise_multiplier < math.inf:
            raise ValueError(
                f"noise_multiplier must be finite and >= 0, got {self.noise_multiplier}"
            )
        for name in ("learning_rate", "server_learning_rate", "clipping_learning_rate"):
            value = getattr(self, name)
            if not 0 < value < math.inf:
                raise ValueError(f"{name} must be a positive finite number, got {value}")
        if not math.isfinite(self.clipping_norm):
            raise ValueError(f"The clipping norm should be finite, got {self.clipping_norm}")
        if self.local_epochs < 1:
            raise ValueError(f"local_epochs must be at least 1, got {self.local_epochs}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")

    @property
    def target_delta(self) -> float:
        """delta, by default 1/(10 N) for N devices (docs/privacy.md says why)."""
        if self.delta is not None:
            return self.delta
        return 1.0 / (DEFAULT_DELTA_FACTOR * self.clients)

    @property
    def participation_limit(self) -> int | None:
        """Rounds a device may join (unamplified accounting), else None: no cap."""
        if self.accounting != "unamplified":
            return None
        if self.participation_cap is not None:
            return self.participation_cap
        return max(1, math.ceil(self.rounds * self.clients_per_round / self.clients))

    @property
    def start_head_kind(self) -> str:
        """The head round 1 starts from (``START_HEADS``): ``start_head``, or by default the
        public head unless the devices are ConvAI2's users (the public head learned from them)."""
        if self.start_head is not None:
            return self.start_head
        return "untrained" if self.population == "personachat" else "public"

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
        # A run saved before these settings existed was accounted with amplification and
        # started from the untrained head.
        values = {"accounting": "amplified", "start_head": "untrained", **data}
        if "epsilon" in values and values["epsilon"] is None:
            values["epsilon"] = math.inf
        return cls(**values)

    @classmethod
    def from_run_config(cls, config: dict[str, Any]) -> RunSettings:
        """From Flower's run config (kebab-case keys; ``epsilon = "inf"`` allowed); keys that
        are not settings (``out``, ``data-dir``) are the apps' own. A deployed run's defaults
        (``DEPLOYED_DEFAULTS``) apply to what the config leaves out."""
        types = setting_types()
        values = {
            key.replace("-", "_"): parse_setting(value, types[key.replace("-", "_")])
            for key, value in config.items()
            if key.replace("-", "_") in types
        }
        return cls(**{**DEPLOYED_DEFAULTS, **values})

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: Path) -> RunSettings:
        return cls.from_json(json.loads(path.read_text()))


def setting_types() -> dict[str, type]:
    """Each setting's value type (``float | None`` -> float)."""
    hints = get_type_hints(RunSettings)
    return {
        f.name: next(t for t in (*get_args(hints[f.name]), hints[f.name]) if t is not type(None))
        for f in fields(RunSettings)
    }


def parse_setting(value: Any, kind: type) -> Any:
    """``value`` (from TOML or the command line) as a setting of type ``kind``."""
    if value is None or (isinstance(value, str) and value.lower() in ("", "none")):
        return None
    if kind is bool:
        return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
    return kind(value)
