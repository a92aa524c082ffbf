"""The server's round loop, independent of the transport (Flower here, anything in tests).

Per round: check the privacy budget *before* sampling (a round that would overshoot is
never run), sample clients secretly, record the round's DP event in the ledger and save it
(synced to disk), and only then send the head, aggregate the replies with DP-FedAvg (or
unmask the secure sum), save the head and append one row of aggregates to the metrics
store. Charging before anything is released means that no sum the server has seen, or
could have seen, is ever missing from the ledger, wherever the process dies: a crash can
only over-count (a charged round that released nothing stays charged; refunding it would
need proof that nothing left the server's hands, which a crashed process cannot give). A
restarted run resumes from the saved head and continues its ledger.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from models.reranking_head import HeadConfig, RerankingHead
from models.training import new_head
from models.weights import (
    flatten,
    get_weights,
    load_checkpoint,
    save_checkpoint,
    set_weights,
    unflatten,
)
from privacy.adaptive_clipping import AdaptiveClippingConfig, next_clipping_norm
from privacy.device_release import payload_size
from privacy.ledger import PrivacyLedger, governing_epsilon
from privacy.noise import GaussianNoise, distributed_noise_share_std
from privacy.secure_payload import (
    MIN_SECURE_ROUND,
    SecureSum,
    halted_round,
    minimum_contributors,
    too_few_sampled,
)
from server.dp_fedavg import ClientReport, RoundAggregate, aggregate_round, aggregate_secure_sum
from server.metrics_store import MetricsStore, RoundRow
from server.privacy_budget import open_ledger
from server.run_settings import RunSettings
from server.run_workspace import Workspace
from server.sampling import fixed_size_sample, poisson_sample

Arrays = list[npt.NDArray[np.float32]]


class Transport(Protocol):
    """Sends the round to ``nodes``; returns each device's reply, or under secure
    aggregation only their sum."""

    def node_ids(self) -> list[int]: ...

    def train(
        self, nodes: Sequence[int], weights: Arrays, config: dict[str, float]
    ) -> list[ClientReport] | SecureSum: ...


@dataclass(frozen=True)
class RunOutcome:
    state: str  # "completed" or "budget_exhausted"
    rounds: int
    epsilon_rdp: float
    epsilon_pld: float
    delta: float
    noise_multiplier: float
    detail: str


def run_federation(
    settings: RunSettings,
    workspace: Workspace,
    transport: Transport,
    *,
    noise: GaussianNoise,
    rng: random.Random,
    say: Callable[[str], None] = print,
) -> RunOutcome:
    ledger = open_ledger(settings, workspace.ledger_path)
    model, clipping_norm = _load_or_new_head(workspace, settings)
    clipping = AdaptiveClipping.of(settings)
    metrics = MetricsStore(workspace.metrics_path)
    try:
        metrics.start_run(
            {
                **settings.to_json(),
                "noise_multiplier": ledger.settings.noise_multiplier,
                "delta": settings.target_delta,
                "neighbouring_relation": ledger.settings.sampling.relation.name,
            }
        )
        nodes = transport.node_ids()
        state, detail = "completed", f"{settings.rounds} rounds"
        for round_number in range(ledger.rounds + 1, settings.rounds + 1):
            if ledger.would_exceed_budget():
                state = "budget_exhausted"
                detail = (
                    f"stopped before round {round_number}: it would take epsilon past "
                    f"the budget of {settings.epsilon:g}"
                )
                say(f"privacy budget: {detail}")
                break
            started = time.perf_counter()
            sampled = _sample(settings, nodes, rng)
            config = _round_config(
                settings, round_number, clipping_norm, ledger.settings.noise_multiplier, sampled
            )
            # Charged before any device is asked: whatever this round releases is accounted.
            ledger.record_round()
            ledger.save(workspace.ledger_path)
            replies = _train(transport, settings, sampled, get_weights(model), config)
            result = _aggregate(
                flatten(get_weights(model)),
                replies,
                settings,
                clipping_norm=clipping_norm,
                noise_multiplier=ledger.settings.noise_multiplier,
                noise_share_std=config["noise-share-std"],
                noise=noise,
            )
            if isinstance(replies, SecureSum) and replies.halted:
                say(f"round {round_number}: secure aggregation halted: {replies.halted}")
            if result.rejected:
                say(f"round {round_number}: rejected {'; '.join(result.rejected)}")
            set_weights(model, unflatten(result.weights, get_weights(model)))
            row = _row(
                round_number,
                sampled,
                result,
                ledger,
                settings,
                clipping_norm,
                time.perf_counter() - started,
            )
            clipping_norm = clipping.next_norm(clipping_norm, result.metrics["unclipped_sum"])
            save_checkpoint(
                workspace.checkpoint_path,
                model,
                extra={"rounds": round_number, "clipping_norm": clipping_norm},
            )
            metrics.append_round(row)
            say(_line(row, settings))
        metrics.finish_run(state, detail)
    finally:
        metrics.close()
    epsilons = ledger.epsilons()
    return RunOutcome(
        state,
        ledger.rounds,
        epsilons["rdp"],
        epsilons.get("pld", math.nan),
        settings.target_delta,
        ledger.settings.noise_multiplier,
        detail,
    )


def _load_or_new_head(workspace: Workspace, settings: RunSettings) -> tuple[RerankingHead, float]:
    """The head and the clipping norm to continue with (a fresh head: the configured norm)."""
    if workspace.checkpoint_path.is_file():
        model, extra = load_checkpoint(workspace.checkpoint_path)
        return model, float(extra.get("clipping_norm", settings.clipping_norm))
    return new_head(HeadConfig(), seed=settings.seed), settings.clipping_norm


@dataclass(frozen=True)
class AdaptiveClipping:
    """Quantile-tracking clipping (Andrew et al. 2021), or a fixed norm when ``config`` is None.

    The count of devices whose update was within its bound is one of the statistics every
    device releases inside the round's Gaussian mechanism (privacy.device_release), so it
    arrives noised and already paid for: no separate count noise, no split of z.
    """

    config: AdaptiveClippingConfig | None
    expected_clients: float

    @classmethod
    def of(cls, settings: RunSettings) -> AdaptiveClipping:
        if not settings.adaptive_clipping:
            return cls(None, settings.clients_per_round)
        config = AdaptiveClippingConfig(
            target_quantile=settings.target_quantile,
            learning_rate=settings.clipping_learning_rate,
            initial_clipping_norm=settings.clipping_norm,
        )
        return cls(config, settings.clients_per_round)

    def next_norm(self, clipping_norm: float, unclipped_sum: float | None) -> float:
        """The next round's norm from the noisy count of devices within the bound (None:
        the round released nothing, so the norm stays)."""
        if self.config is None or unclipped_sum is None:
            return clipping_norm
        return next_clipping_norm(clipping_norm, unclipped_sum / self.expected_clients, self.config)


def _train(
    transport: Transport,
    settings: RunSettings,
    sampled: Sequence[int],
    weights: Arrays,
    config: dict[str, float],
) -> list[ClientReport] | SecureSum:
    """The round's replies; a secure round of too few devices is halted before any trains
    (with two, the sum would tell each device the other's update)."""
    if settings.secure_aggregation and len(sampled) < MIN_SECURE_ROUND:
        size = payload_size(flatten(weights).size)
        return halted_round(size, len(sampled), too_few_sampled(len(sampled)))
    return transport.train(sampled, weights, config)


def _aggregate(
    current: npt.NDArray[np.float64],
    replies: list[ClientReport] | SecureSum,
    settings: RunSettings,
    *,
    clipping_norm: float,
    noise_multiplier: float,
    noise_share_std: float,
    noise: GaussianNoise,
) -> RoundAggregate:
    if isinstance(replies, SecureSum) != settings.secure_aggregation:
        # Devices add noise shares only under secure aggregation, the server only without.
        raise RuntimeError(
            "the transport does not match the run's secure_aggregation setting "
            f"({settings.secure_aggregation})"
        )
    if isinstance(replies, SecureSum):
        return aggregate_secure_sum(
            current,
            replies,
            clipping_norm=clipping_norm,
            noise_share_std=noise_share_std,
            denominator=settings.clients_per_round,
            server_learning_rate=settings.server_learning_rate,
        )
    return aggregate_round(
        current,
        replies,
        clipping_norm=clipping_norm,
        noise_multiplier=noise_multiplier,
        denominator=settings.clients_per_round,
        noise=noise,
        server_learning_rate=settings.server_learning_rate,
    )


def _sample(settings: RunSettings, nodes: Sequence[int], rng: random.Random) -> list[int]:
    if settings.sampling == "poisson":
        return poisson_sample(nodes, settings.sampling_rate, rng)
    return fixed_size_sample(nodes, settings.clients_per_round, rng)


def _round_config(
    settings: RunSettings,
    round_number: int,
    clipping_norm: float,
    noise_multiplier: float,
    sampled: Sequence[int],
) -> dict[str, float]:
    """The round's instructions. Under secure aggregation the noise is distributed: each
    device adds a share sized so that any ``min-contributors`` of the sampled devices
    carry the full z*C between them (privacy.noise.distributed_noise_share_std)."""
    config: dict[str, float] = {
        "round": round_number,
        "clipping-norm": clipping_norm,
        "local-epochs": settings.local_epochs,
        "learning-rate": settings.learning_rate,
        "noise-share-std": 0.0,
    }
    if settings.secure_aggregation and sampled:
        minimum = minimum_contributors(len(sampled), settings.dropout_tolerance)
        config["min-contributors"] = minimum
        config["noise-share-std"] = distributed_noise_share_std(
            noise_multiplier * clipping_norm, len(sampled), min_surviving=minimum
        )
    return config


def _row(
    round_number: int,
    sampled: Sequence[int],
    result: RoundAggregate,
    ledger: PrivacyLedger,
    settings: RunSettings,
    clipping_norm: float,
    seconds: float,
) -> RoundRow:
    m = result.metrics
    epsilons = ledger.epsilons()
    return RoundRow(
        round=round_number,
        clients_sampled=len(sampled),
        clients_completed=result.accepted,
        clients_dropped=result.failed,
        clients_rejected=len(result.rejected),
        train_loss=m["train_loss"],
        eval_hits_at_1=m["eval_hits_at_1"],
        epsilon_rdp=epsilons["rdp"],
        epsilon_pld=epsilons.get("pld", math.nan),
        delta=settings.target_delta,
        noise_multiplier=ledger.settings.noise_multiplier,
        clipping_norm=clipping_norm,
        fraction_clipped=m["fraction_clipped"],
        statistic_noise_std=m["statistic_noise_std"],
        wall_seconds=seconds,
    )


def _line(row: RoundRow, settings: RunSettings) -> str:
    hits = "  n/a" if row.eval_hits_at_1 is None else f"{100 * row.eval_hits_at_1:5.1f}"
    loss = "  n/a" if row.train_loss is None else f"{row.train_loss:.3f}"
    budget = "inf" if not settings.private else f"{settings.epsilon:g}"
    governing = governing_epsilon(row.epsilon_rdp, row.epsilon_pld)
    spent = f"{governing:.2f}" if math.isfinite(governing) else "inf"
    return (
        f"round {row.round:3d}  clients {row.clients_completed:3d}/{row.clients_sampled:<3d} "
        f"loss {loss}  hits@1 {hits} (their later turns)  epsilon {spent} / {budget}"
    )
