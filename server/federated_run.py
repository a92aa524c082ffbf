"""The server's round loop, independent of the transport (Flower here, anything in tests).

Per round: check the privacy budget *before* sampling (a round that would overshoot is
never run), sample clients secretly, send the head, aggregate the replies with DP-FedAvg,
record the round's DP event in the ledger and save it, save the head, append one row of
aggregates to the metrics store. The ledger is saved before the head: a crash between the
two over-counts privacy spent by one round, never under-counts it. A restarted run resumes
from the saved head and continues its ledger.
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
from privacy.ledger import PrivacyLedger
from privacy.noise import GaussianNoise
from server.dp_fedavg import ClientReport, RoundAggregate, aggregate_round
from server.metrics_store import MetricsStore, RoundRow
from server.privacy_budget import open_ledger
from server.run_settings import RunSettings
from server.run_workspace import Workspace
from server.sampling import fixed_size_sample, poisson_sample

Arrays = list[npt.NDArray[np.float32]]


class Transport(Protocol):
    def node_ids(self) -> list[int]: ...

    def train(
        self, nodes: Sequence[int], weights: Arrays, config: dict[str, float]
    ) -> list[ClientReport]: ...


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
    model = _load_or_new_head(workspace, settings.seed)
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
            reports = transport.train(
                sampled, get_weights(model), _round_config(settings, round_number)
            )
            current = flatten(get_weights(model))
            result = aggregate_round(
                current,
                reports,
                clipping_norm=settings.clipping_norm,
                noise_multiplier=ledger.settings.noise_multiplier,
                denominator=settings.clients_per_round,
                noise=noise,
                server_learning_rate=settings.server_learning_rate,
            )
            ledger.record_round()
            ledger.save(workspace.ledger_path)
            set_weights(model, unflatten(result.weights, get_weights(model)))
            save_checkpoint(workspace.checkpoint_path, model, extra={"rounds": round_number})
            row = _row(
                round_number, sampled, result, ledger, settings, time.perf_counter() - started
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


def _load_or_new_head(workspace: Workspace, seed: int) -> RerankingHead:
    if workspace.checkpoint_path.is_file():
        model, _ = load_checkpoint(workspace.checkpoint_path)
        return model
    return new_head(HeadConfig(), seed=seed)


def _sample(settings: RunSettings, nodes: Sequence[int], rng: random.Random) -> list[int]:
    if settings.sampling == "poisson":
        return poisson_sample(nodes, settings.sampling_rate, rng)
    return fixed_size_sample(nodes, settings.clients_per_round, rng)


def _round_config(settings: RunSettings, round_number: int) -> dict[str, float]:
    return {
        "round": round_number,
        "clipping-norm": settings.clipping_norm,
        "local-epochs": settings.local_epochs,
        "learning-rate": settings.learning_rate,
        "noise-share-std": 0.0,
    }


def _row(
    round_number: int,
    sampled: Sequence[int],
    result: RoundAggregate,
    ledger: PrivacyLedger,
    settings: RunSettings,
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
        eval_examples=int(m["eval_examples"] or 0),
        epsilon_rdp=epsilons["rdp"],
        epsilon_pld=epsilons.get("pld", math.nan),
        delta=settings.target_delta,
        noise_multiplier=ledger.settings.noise_multiplier,
        clipping_norm=settings.clipping_norm,
        fraction_clipped=m["fraction_clipped"],
        update_norm_p10=m["update_norm_p10"],
        update_norm_p50=m["update_norm_p50"],
        update_norm_p90=m["update_norm_p90"],
        wall_seconds=seconds,
    )


def _line(row: RoundRow, settings: RunSettings) -> str:
    hits = "  n/a" if row.eval_hits_at_1 is None else f"{100 * row.eval_hits_at_1:5.1f}"
    loss = "  n/a" if row.train_loss is None else f"{row.train_loss:.3f}"
    budget = "inf" if not settings.private else f"{settings.epsilon:g}"
    governing = max(e for e in (row.epsilon_rdp, row.epsilon_pld) if not math.isnan(e))
    spent = f"{governing:.2f}" if math.isfinite(governing) else "inf"
    return (
        f"round {row.round:3d}  clients {row.clients_completed:3d}/{row.clients_sampled:<3d} "
        f"loss {loss}  hits@1 {hits} (their later turns)  epsilon {spent} / {budget}"
    )
