"""The privacy ledger: one DP event per completed round, and the only source of epsilon.

Each completed round composes one dp-accounting event (``privacy.calibration`` says which,
for Poisson and fixed-size sampling, and how z maps onto the neighbouring relation). The
noise multiplier z may vary per round (adaptive clipping records the round's total z).
Epsilon at ``target_delta`` comes from the RDP accountant and, for Poisson sampling and
unamplified accounting, from the PLD accountant. Both are upper bounds on the true
epsilon; to stay conservative, the budget stop requires *both* to stay within the budget
(in practice RDP, the looser bound, governs). A round without noise makes epsilon infinite
for good: the ledger never claims privacy it cannot prove. What the epsilon rests on
(amplification by sampling, or each device's participation cap) is part of the settings,
saved with them, and said in plain words by ``assumption()``
(privacy.accounting_assumption).

Persistence: ``save`` writes JSON atomically and durably (temp file, fsync, ``os.replace``,
fsync of the folder, so the rename itself survives a power cut); ``load``
continues the saved rounds and refuses a ledger written under other settings.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass
from itertools import groupby
from pathlib import Path
from typing import Any

import dp_accounting  # type: ignore[import-untyped]

from privacy.accounting_assumption import describe_assumption
from privacy.calibration import (
    DEFAULT_PLD_DISCRETIZATION,
    MAX_PROJECTED_ROUNDS,
    AccountantKind,
    Sampling,
    SamplingKind,
    check_noise_multiplier,
    compute_epsilon,
    rounds_that_fit,
)

__all__ = [
    "DEFAULT_PLD_DISCRETIZATION",
    "AccountantKind",
    "LedgerMismatchError",
    "LedgerSettings",
    "PrivacyLedger",
    "Sampling",
    "SamplingKind",
]

LEDGER_FORMAT = "fedpersona-privacy-ledger"
LEDGER_VERSION = 1


class LedgerMismatchError(ValueError):
    """A saved ledger was written for different privacy settings than the resuming run."""


@dataclass(frozen=True, kw_only=True)
class LedgerSettings:
    """What a ledger was opened with; a resumed run must match it exactly."""

    sampling: Sampling
    noise_multiplier: float
    target_delta: float
    budget_epsilon: float | None = None
    pld_discretization: float = DEFAULT_PLD_DISCRETIZATION

    def __post_init__(self) -> None:
        check_noise_multiplier(self.noise_multiplier)
        if not 0.0 < self.target_delta < 1.0:
            raise ValueError(f"target_delta should be in (0, 1), got {self.target_delta!r}.")
        population = self.sampling.population
        if population is not None and self.target_delta >= 1.0 / population:
            raise ValueError(
                f"target_delta {self.target_delta!r} should be well below 1 / population "
                f"= {1.0 / population!r}; a larger delta allows releasing one user outright."
            )
        if self.budget_epsilon is not None and not self.budget_epsilon > 0.0:
            raise ValueError(f"budget_epsilon should be positive, got {self.budget_epsilon!r}.")
        if not 0.0 < self.pld_discretization <= 0.1:
            raise ValueError(
                f"pld_discretization should be in (0, 0.1], got {self.pld_discretization!r}."
            )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LedgerSettings:
        return cls(**{**data, "sampling": Sampling(**data["sampling"])})

    def differences(self, other: LedgerSettings) -> list[str]:
        """Human-readable ``name: mine != other`` for every setting that differs."""
        mine, theirs = self.to_json(), other.to_json()
        mine.update(mine.pop("sampling"))
        theirs.update(theirs.pop("sampling"))
        return [
            f"{key}: {mine[key]!r} != {theirs[key]!r}" for key in mine if mine[key] != theirs[key]
        ]


class PrivacyLedger:
    """Per-round DP events of one federated run, their epsilon, and the budget stop.

    Record (and save) a round *before* anything of it can be released: recording never
    refuses, and a crash after it leaves the round charged, whatever it then released. Call
    ``would_exceed_budget()`` before recording, to stop in time.

    A round that provably released nothing derived from any device (a secure round halted
    before unmasking; a plain round in which no release was accepted, so that nothing was
    noised and published) may then be *withdrawn*: it stays counted as a round (resume
    continues after it) but composes no DP event. Withdrawing is the only way down, it is
    saved like a charge, and a crash before it is saved merely leaves the round charged.
    """

    def __init__(
        self,
        *,
        sampling: SamplingKind,
        noise_multiplier: float,
        target_delta: float,
        sampling_probability: float | None = None,
        clients_per_round: int | None = None,
        population: int | None = None,
        participation_cap: int | None = None,
        budget_epsilon: float | None = None,
        pld_discretization: float = DEFAULT_PLD_DISCRETIZATION,
    ) -> None:
        self.settings = LedgerSettings(
            sampling=Sampling(
                kind=sampling,
                sampling_probability=sampling_probability,
                clients_per_round=clients_per_round,
                population=population,
                participation_cap=participation_cap,
            ),
            noise_multiplier=noise_multiplier,
            target_delta=target_delta,
            budget_epsilon=budget_epsilon,
            pld_discretization=pld_discretization,
        )
        self._noise_multipliers: list[float] = []
        self._withdrawn: dict[int, str] = {}  # round number (1-based) -> why nothing left

    @classmethod
    def from_settings(cls, settings: LedgerSettings) -> PrivacyLedger:
        return cls(
            sampling=settings.sampling.kind,
            noise_multiplier=settings.noise_multiplier,
            target_delta=settings.target_delta,
            sampling_probability=settings.sampling.sampling_probability,
            clients_per_round=settings.sampling.clients_per_round,
            population=settings.sampling.population,
            participation_cap=settings.sampling.participation_cap,
            budget_epsilon=settings.budget_epsilon,
            pld_discretization=settings.pld_discretization,
        )

    @property
    def rounds(self) -> int:
        return len(self._noise_multipliers)

    @property
    def noise_multipliers(self) -> tuple[float, ...]:
        """The noise multiplier of each recorded round, in order."""
        return tuple(self._noise_multipliers)

    @property
    def withdrawn(self) -> dict[int, str]:
        """Rounds that released nothing and are not charged: round number -> reason."""
        return dict(self._withdrawn)

    def _charged(self) -> list[float]:
        """The noise multipliers of the rounds that count towards epsilon, in order."""
        return [
            z
            for number, z in enumerate(self._noise_multipliers, 1)
            if number not in self._withdrawn
        ]

    @property
    def is_private(self) -> bool:
        """False once any charged round (or the configured default) had no noise."""
        return self.settings.noise_multiplier > 0.0 and 0.0 not in self._charged()

    def record_round(self, *, noise_multiplier: float | None = None) -> int:
        """Compose one completed round (default: the configured z); returns the round count."""
        z = self.settings.noise_multiplier if noise_multiplier is None else noise_multiplier
        self._noise_multipliers.append(check_noise_multiplier(z))
        return self.rounds

    def withdraw_last_round(self, reason: str) -> None:
        """Uncharge the last recorded round: call only when it released nothing at all."""
        if not self._noise_multipliers:
            raise ValueError("no round has been recorded, so none can be withdrawn")
        if self.rounds in self._withdrawn:
            raise ValueError(f"round {self.rounds} was already withdrawn")
        if not reason:
            raise ValueError("a withdrawn round needs its reason")
        self._withdrawn[self.rounds] = reason

    def events(self) -> list[dp_accounting.DpEvent]:
        """One dp-accounting event per charged round, in order."""
        return [self.settings.sampling.event(z) for z in self._charged()]

    def dp_event(self) -> dp_accounting.DpEvent:
        """The whole run as one ``ComposedDpEvent`` (for audit with any accountant)."""
        return dp_accounting.ComposedDpEvent(self.events())

    def epsilon(self, accountant: AccountantKind = "rdp") -> float:
        """Epsilon at ``target_delta`` so far; 0 before any round, inf after a no-noise one."""
        return self._epsilon_of(self._charged(), accountant)

    def epsilons(self) -> dict[AccountantKind, float]:
        """Epsilon from every accountant that supports the run's sampling."""
        return {kind: self.epsilon(kind) for kind in self.settings.sampling.accountants}

    def governing_epsilon(self) -> float:
        """The largest epsilon among the supported accountants: the one the budget checks."""
        return governing_epsilon(*self.epsilons().values())

    def describe(self) -> str:
        """One line for logs and dashboards; says plainly when there is no guarantee."""
        if not self.is_private:
            return f"NOT PRIVATE: a round without noise; epsilon = inf after {self.rounds} rounds."
        values = ", ".join(f"{eps:.2f} ({kind.upper()})" for kind, eps in self.epsilons().items())
        uncharged = (
            f" ({len(self._withdrawn)} released nothing and are not charged)"
            if self._withdrawn
            else ""
        )
        return (
            f"epsilon {values} at delta {self.settings.target_delta:g} after {self.rounds} "
            f"rounds{uncharged}."
        )

    def assumption(self) -> str:
        """What this ledger's epsilon rests on, and so when it holds, in plain words."""
        return describe_assumption(self.settings.sampling)

    def would_exceed_budget(self, *, next_noise_multiplier: float | None = None) -> bool:
        """True if one more round would take any accountant's epsilon above the budget."""
        budget = self.settings.budget_epsilon
        if budget is None:
            return False
        z = (
            self.settings.noise_multiplier
            if next_noise_multiplier is None
            else next_noise_multiplier
        )
        upcoming = [*self._charged(), check_noise_multiplier(z)]
        return any(
            self._epsilon_of(upcoming, kind) > budget for kind in self.settings.sampling.accountants
        )

    def rounds_left(self, cap: int = MAX_PROJECTED_ROUNDS) -> int | None:
        """How many more rounds at the configured z fit the budget (at most ``cap``), by the
        same rule as ``would_exceed_budget``; None without a budget or without noise."""
        budget, z = self.settings.budget_epsilon, self.settings.noise_multiplier
        if budget is None or z <= 0.0:
            return None
        return rounds_that_fit(
            self.settings.sampling,
            self._charged(),
            z,
            delta=self.settings.target_delta,
            budget=budget,
            cap=cap,
        )

    def _epsilon_of(self, noise_multipliers: list[float], accountant: AccountantKind) -> float:
        return compute_epsilon(
            self.settings.sampling,
            noise_multipliers,
            delta=self.settings.target_delta,
            accountant=accountant,
            pld_discretization=self.settings.pld_discretization,
        )

    def to_json(self) -> dict[str, Any]:
        """Settings and rounds (run-length encoded as ``[z, count]`` in round order)."""
        runs = [[z, len(list(group))] for z, group in groupby(self._noise_multipliers)]
        return {
            "format": LEDGER_FORMAT,
            "version": LEDGER_VERSION,
            "settings": self.settings.to_json(),
            "assumption": self.assumption(),  # for a reader of the file; not read back
            "rounds": runs,
            "withdrawn": [[number, why] for number, why in sorted(self._withdrawn.items())],
        }

    @classmethod
    def from_json(
        cls, data: dict[str, Any], *, expected: LedgerSettings | None = None
    ) -> PrivacyLedger:
        """Rebuild a ledger; with ``expected``, raise ``LedgerMismatchError`` if settings differ."""
        if data.get("format") != LEDGER_FORMAT or data.get("version") != LEDGER_VERSION:
            raise ValueError(
                f"Not a version {LEDGER_VERSION} privacy ledger: format={data.get('format')!r}, "
                f"version={data.get('version')!r}."
            )
        try:
            ledger = cls.from_settings(LedgerSettings.from_json(data["settings"]))
        except (KeyError, TypeError) as error:
            raise ValueError(f"Malformed privacy ledger settings: {error!r}.") from error
        if expected is not None and ledger.settings != expected:
            changes = "; ".join(ledger.settings.differences(expected))
            raise LedgerMismatchError(
                f"The saved ledger's privacy settings differ from this run's (saved != run): "
                f"{changes}. Resume with the saved settings or start a new run and ledger."
            )
        for z, count in data["rounds"]:
            if int(count) < 1:
                raise ValueError(f"A ledger run length should be >= 1, got {count!r}.")
            ledger._noise_multipliers.extend([check_noise_multiplier(z)] * int(count))
        for number, why in data.get("withdrawn", []):  # absent in ledgers before withdrawal
            if not 1 <= int(number) <= ledger.rounds or not why:
                raise ValueError(f"A withdrawn round should be a recorded one, got {number!r}.")
            ledger._withdrawn[int(number)] = str(why)
        return ledger

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write atomically: a temp file in the same folder, fsync, ``os.replace``, fsync the
        folder (without it a crash may roll the rename back, and the charge with it)."""
        target = Path(path)
        handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(self.to_json(), stream, indent=2)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temp_name, target)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        folder = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], *, expected: LedgerSettings | None
    ) -> PrivacyLedger:
        """Read a saved ledger to continue it.

        ``expected`` is required on purpose: a resuming run passes its own settings (a
        mismatch raises ``LedgerMismatchError``); only an audit tool passes None.
        """
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls.from_json(data, expected=expected)


def governing_epsilon(*epsilons: float | None) -> float:
    """The largest of the epsilons an accountant reported (None or NaN: not applicable)."""
    reported = [e for e in epsilons if e is not None and not math.isnan(e)]
    if not reported:
        raise ValueError("no accountant reported an epsilon")
    return max(reported)


def explain_delta(delta: float, population: int) -> str:
    """What ``delta`` means for a run over ``population`` people, in one sentence."""
    share = delta * population
    return (
        f"delta {delta:.2g}: each person's epsilon guarantee may fail with probability at "
        f"most delta, so across all {population:,} people the expected number for whom it "
        f"fails is at most {share:.2g} (delta must stay below 1/N = {1.0 / population:.2g})"
    )
