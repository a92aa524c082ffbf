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

Under unamplified accounting only devices below the run's participation cap are sampled,
and each sampled device is counted (server.participation) before it is asked; the round
instructions carry the cap and the run's token, so each device keeps its own count too. A
run whose devices have all reached the cap ends as ``devices_exhausted``.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from copy import deepcopy
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from models.public_head import load_public_head
from models.reply_training import released_mask, released_size
from models.reranking_head import HeadConfig, RerankingHead
from models.training import new_head
from models.weights import (
    flatten,
    get_weights,
    read_checkpoint,
    save_checkpoint,
    set_weights,
    unflatten,
)
from privacy.clipping import AdaptiveClippingConfig
from privacy.device_release import payload_size
from privacy.ledger import PrivacyLedger, governing_epsilon
from privacy.noise import GaussianNoise
from privacy.secure_aggregation import MIN_SECURE_ROUND, SecureSum, halted_round, too_few_sampled
from protocol.round_instructions import RoundInstructions
from server.dp_fedavg import AdaptiveClipping, ClientReport, DpFedAvg, LocalTraining, RoundAggregate
from server.held_out import Evaluate, HeldOutScore
from server.metrics_store import MetricsStore, RoundRow
from server.participation import Participation
from server.privacy_budget import open_ledger
from server.run_folder import RunFolder
from server.run_settings import RunSettings
from server.sampling import fixed_size_sample, poisson_sample
from server.server_steps import ServerSteps

Arrays = list[npt.NDArray[np.float32]]
Vector = npt.NDArray[np.float64]


class Transport(Protocol):
    """Sends the round to ``nodes``; returns each device's reply, or under secure
    aggregation only their sum."""

    def node_ids(self) -> list[int]: ...

    def train(
        self, nodes: Sequence[int], weights: Arrays, instructions: RoundInstructions
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
    assumption: str  # what the epsilon rests on, in plain words (the ledger's)
    heldout_before: HeldOutScore | None = None  # this start's head, before its first round
    heldout_after: HeldOutScore | None = None  # the head after the last round


def run_federation(
    settings: RunSettings,
    folder: RunFolder,
    transport: Transport,
    *,
    noise: GaussianNoise,
    rng: random.Random,
    say: Callable[[str], None] = print,
    evaluate: Evaluate | None = None,
    reference_facts: Sequence[str] = (),
) -> RunOutcome:
    """Run (or resume) the federation in ``folder`` until its rounds or its budget end.

    ``evaluate`` scores the global head on held-out users before the first round and after
    each one; ``reference_facts`` (public) go to the devices for their uniqueness statistic,
    which is not reported without them. A run that raises is recorded as ``failed`` with
    the reason, then the error goes on.
    """
    run = _Run.start(
        settings, folder, noise=noise, say=say, evaluate=evaluate, reference_facts=reference_facts
    )
    try:
        state, detail = run.play(transport, rng)
        run.metrics.finish_run(state, detail)
    except BaseException as error:
        run.metrics.finish_run("failed", f"{type(error).__name__}: {error}")
        raise
    finally:
        run.metrics.close()
    said = run.ledger.describe()  # without noise it says NOT PRIVATE, and rests on nothing
    if run.ledger.is_private:
        said += f" It rests on this: {run.ledger.assumption()}."
    say(f"privacy: {said}")
    epsilons = run.ledger.epsilons()
    return RunOutcome(
        state,
        run.ledger.rounds,
        epsilons["rdp"],
        epsilons.get("pld", math.nan),
        settings.target_delta,
        run.ledger.settings.noise_multiplier,
        detail,
        run.ledger.assumption(),
        run.heldout_before,
        run.heldout_after,
    )


@dataclass
class _Run:
    """One run's state between rounds: settings, ledger, head, DP-FedAvg, metrics store."""

    settings: RunSettings
    folder: RunFolder
    ledger: PrivacyLedger
    model: RerankingHead
    dp: DpFedAvg
    metrics: MetricsStore
    participation: Participation
    noise: GaussianNoise
    say: Callable[[str], None]
    evaluate: Evaluate | None = None
    steps: ServerSteps = field(default_factory=ServerSteps)
    heldout_before: HeldOutScore | None = None
    heldout_after: HeldOutScore | None = None

    @classmethod
    def start(
        cls,
        settings: RunSettings,
        folder: RunFolder,
        *,
        noise: GaussianNoise,
        say: Callable[[str], None],
        evaluate: Evaluate | None,
        reference_facts: Sequence[str] = (),
    ) -> _Run:
        ledger = open_ledger(settings, folder.ledger_path)
        model, clipping_norm, saved = _load_or_new_head(folder, settings)
        steps = ServerSteps(settings.server_momentum, settings.head_averaging)
        published = model
        if saved is not None:  # resumed: the training head may differ
            published = deepcopy(model)
            training = steps.restore(flatten(get_weights(model)), saved)
            set_weights(model, unflatten(training, get_weights(model)))
        metrics = MetricsStore(folder.metrics_path)
        metrics.start_run(
            {
                **settings.to_json(),
                "noise_multiplier": ledger.settings.noise_multiplier,
                "delta": settings.target_delta,
                "neighbouring_relation": ledger.settings.sampling.relation.name,
                "participation_limit": settings.participation_limit,
            },
            accounting_assumption=ledger.assumption(),
        )
        dp = _dp_fedavg(settings, ledger.settings.noise_multiplier, clipping_norm)
        dp.reference_facts = tuple(reference_facts)
        participation = Participation.open(folder.participation_path)
        run = cls(
            settings,
            folder,
            ledger,
            model,
            dp,
            metrics,
            participation,
            noise,
            say,
            evaluate,
            steps,
        )
        if evaluate is not None:
            run.heldout_before = evaluate(published)
            if ledger.rounds == 0:  # a resumed run keeps the 'before' of its first start
                metrics.record_heldout(
                    before=100 * run.heldout_before.hits_at_1,
                    ci95=100 * run.heldout_before.ci95,
                )
            say(f"held-out users before round {ledger.rounds + 1}: {_score(run.heldout_before)}")
        return run

    def play(self, transport: Transport, rng: random.Random) -> tuple[str, str]:
        """Rounds until the configured number, or until the budget would be exceeded."""
        nodes = transport.node_ids()
        for round_number in range(self.ledger.rounds + 1, self.settings.rounds + 1):
            if self.ledger.would_exceed_budget():
                detail = (
                    f"stopped before round {round_number}: it would take epsilon past "
                    f"the budget of {self.settings.epsilon:g}"
                )
                self.say(f"privacy budget: {detail}")
                return "budget_exhausted", detail
            cap = self.settings.participation_limit
            eligible = self.participation.eligible(nodes, cap)
            if not eligible:
                detail = (
                    f"stopped before round {round_number}: every device has taken part in "
                    f"its cap of {cap} rounds"
                )
                self.say(detail)
                return "devices_exhausted", detail
            self.play_round(round_number, transport, _sample(self.settings, eligible, rng))
        return "completed", f"{self.settings.rounds} rounds"

    def play_round(self, round_number: int, transport: Transport, sampled: list[int]) -> None:
        started = time.perf_counter()
        weights = get_weights(self.model)
        local = LocalTraining(self.settings.local_epochs, self.settings.learning_rate)
        instructions = replace(
            self.dp.instructions(round_number, len(sampled), head=self.model.config, local=local),
            run_token=self.participation.token,
            participation_cap=self.settings.participation_limit or 0,
        )
        # Charged before any device is asked: whatever this round releases is accounted.
        self.ledger.record_round()
        self.ledger.save(self.folder.ledger_path)
        self.participation.record(sampled)
        replies = _train(transport, self.settings, sampled, weights, instructions)
        current = flatten(weights)
        # The devices release only what they train (models.reply_training.released_mask):
        # the round aggregates, and noises, those coordinates; the rest stays as it is.
        trained = released_mask(self.model.config)
        result = self.dp.aggregate(current[trained], replies, instructions, self.noise)
        if isinstance(replies, SecureSum) and replies.halted:
            self.say(f"round {round_number}: secure aggregation halted: {replies.halted}")
        if not result.released:
            self._withdraw_charge(round_number, replies)
        if result.rejected:
            self.say(f"round {round_number}: rejected {'; '.join(result.rejected)}")
        training = current
        if result.released:
            aggregated = current.copy()
            aggregated[trained] = result.weights
            training = self.steps.step(current, aggregated)
        set_weights(self.model, unflatten(training, weights))
        published = self._published(training)
        save_checkpoint(
            self.folder.checkpoint_path,
            published,
            extra={"rounds": round_number, "clipping_norm": self.dp.clipping_norm},
            state=self.steps.state(training),
        )
        heldout = self.evaluate(published) if self.evaluate is not None else None
        if heldout is not None:
            self.heldout_after = heldout
            self.metrics.record_heldout(after=100 * heldout.hits_at_1, ci95=100 * heldout.ci95)
        row = _row(
            instructions, sampled, result, self.ledger, time.perf_counter() - started, heldout
        )
        self.metrics.append_round(row)
        self.say(_line(row, self.settings))

    def _published(self, training: Vector) -> RerankingHead:
        """The head the run publishes: the training head, or its average over rounds."""
        if self.steps.average is None:
            return self.model
        published = deepcopy(self.model)
        set_weights(published, unflatten(self.steps.published(training), get_weights(self.model)))
        return published

    def _withdraw_charge(self, round_number: int, replies: list[ClientReport] | SecureSum) -> None:
        """Uncharge a round that released nothing (saved before anything else of the round,
        so a crash in between merely leaves it charged)."""
        if isinstance(replies, SecureSum):
            reason = f"secure aggregation halted before unmasking: {replies.halted}"
        else:
            reason = "no device's release was accepted, so nothing was noised or published"
        self.ledger.withdraw_last_round(reason)
        self.ledger.save(self.folder.ledger_path)
        self.say(f"round {round_number}: released nothing, not charged ({reason})")


def _dp_fedavg(settings: RunSettings, noise_multiplier: float, clipping_norm: float) -> DpFedAvg:
    adaptive = None
    if settings.adaptive_clipping:
        config = AdaptiveClippingConfig(
            target_quantile=settings.target_quantile,
            learning_rate=settings.clipping_learning_rate,
            initial_clipping_norm=settings.clipping_norm,
        )
        adaptive = AdaptiveClipping(config=config, expected_clients=settings.clients_per_round)
    return DpFedAvg(
        noise_multiplier=noise_multiplier,
        clipping_norm=clipping_norm,
        denominator=settings.clients_per_round,
        server_learning_rate=settings.server_learning_rate,
        secure_aggregation=settings.secure_aggregation,
        dropout_tolerance=settings.dropout_tolerance,
        adaptive=adaptive,
    )


def _load_or_new_head(
    folder: RunFolder, settings: RunSettings
) -> tuple[RerankingHead, float, dict[str, npt.NDArray[Any]] | None]:
    """The head, the clipping norm and the server's saved state to continue with (a fresh
    head: the configured norm, no state)."""
    if folder.checkpoint_path.is_file():
        saved = read_checkpoint(folder.checkpoint_path)
        norm = float(saved.extra.get("clipping_norm", settings.clipping_norm))
        return saved.model, norm, saved.state
    return initial_head(settings), settings.clipping_norm, None


def initial_head(settings: RunSettings) -> RerankingHead:
    """The head round 1 starts from (``RunSettings.start_head_kind``)."""
    if settings.start_head_kind == "public":
        return load_public_head()
    return new_head(HeadConfig(), seed=settings.seed)


def _train(
    transport: Transport,
    settings: RunSettings,
    sampled: Sequence[int],
    weights: Arrays,
    instructions: RoundInstructions,
) -> list[ClientReport] | SecureSum:
    """The round's replies; a secure round of too few devices is halted before any trains
    (with two, the sum would tell each device the other's update)."""
    if settings.secure_aggregation and len(sampled) < MIN_SECURE_ROUND:
        size = payload_size(released_size(instructions.head))
        return halted_round(size, len(sampled), too_few_sampled(len(sampled)))
    return transport.train(sampled, weights, instructions)


def _sample(settings: RunSettings, nodes: Sequence[int], rng: random.Random) -> list[int]:
    """The round's devices from ``nodes`` (those still eligible). Amplified accounting
    needs the sampling it assumes, over every node; unamplified takes no credit for it, so
    it aims for the configured round size among the devices still below their cap."""
    size = settings.clients_per_round
    if settings.accounting == "unamplified":
        if settings.sampling == "poisson":
            return poisson_sample(nodes, min(1.0, size / len(nodes)), rng)
        return fixed_size_sample(nodes, min(size, len(nodes)), rng)
    if settings.sampling == "poisson":
        return poisson_sample(nodes, settings.sampling_rate, rng)
    return fixed_size_sample(nodes, size, rng)


def _row(
    instructions: RoundInstructions,
    sampled: Sequence[int],
    result: RoundAggregate,
    ledger: PrivacyLedger,
    seconds: float,
    heldout: HeldOutScore | None,
) -> RoundRow:
    m = result.metrics
    epsilons = ledger.epsilons()
    return RoundRow(
        round=instructions.round,
        clients_sampled=len(sampled),
        clients_completed=result.accepted,
        clients_dropped=result.failed,
        clients_rejected=len(result.rejected),
        train_loss=m["train_loss"],
        eval_hits_at_1=m["eval_hits_at_1"],
        epsilon_rdp=epsilons["rdp"],
        epsilon_pld=epsilons.get("pld", math.nan),
        delta=ledger.settings.target_delta,
        noise_multiplier=ledger.settings.noise_multiplier,
        clipping_norm=instructions.clipping_norm,
        fraction_clipped=m["fraction_clipped"],
        statistic_noise_std=m["statistic_noise_std"],
        wall_seconds=seconds,
        heldout_hits_at_1=None if heldout is None else heldout.hits_at_1,
        heldout_ci95=None if heldout is None else heldout.ci95,
        persona_coverage=m["persona_coverage"],
        persona_depth=m["persona_depth"],
        prompt_justification=m["prompt_justification"],
        correction_rate=m["correction_rate"],
        # Without reference facts every device reports 0: nothing was measured.
        persona_uniqueness=m["persona_uniqueness"] if instructions.reference_facts else None,
        prompted_sum=m["prompted_sum"],
    )


def _score(score: HeldOutScore) -> str:
    return f"hits@1 {100 * score.hits_at_1:.1f} +- {100 * score.ci95:.1f} ({score.examples} turns)"


def _line(row: RoundRow, settings: RunSettings) -> str:
    """One round: the held-out measure first (when there is one), then the noisy statistic
    of the devices' own later turns, then the privacy spent."""
    budget = "inf" if not settings.private else f"{settings.epsilon:g}"
    governing = governing_epsilon(row.epsilon_rdp, row.epsilon_pld)
    spent = f"{governing:.2f}" if math.isfinite(governing) else "inf"
    own = "n/a" if row.eval_hits_at_1 is None else f"{100 * row.eval_hits_at_1:.0f}"
    heldout = ""
    if row.heldout_hits_at_1 is not None and row.heldout_ci95 is not None:
        heldout = (
            f"held-out hits@1 {100 * row.heldout_hits_at_1:5.1f} +-{100 * row.heldout_ci95:.1f}  "
        )
    return (
        f"round {row.round:3d}  clients {row.clients_completed:3d}/{row.clients_sampled:<3d} "
        f"{heldout}(their own turns, noisy: {own})  epsilon {spent} / {budget}"
    )
