"""A run's privacy ledger from its settings: the noise multiplier and the saved ledger.

Without an explicit noise multiplier, the smallest one that fits every configured round
into the budget is calibrated with the RDP accountant (the more conservative of the two
here), so a run that completes never trips the budget stop; an explicit, smaller one
makes the ledger stop the run early. ``epsilon = inf`` means no noise and no claim.
"""

from __future__ import annotations

from pathlib import Path

from privacy.calibration import calibrate_noise_multiplier
from privacy.ledger import LedgerSettings, PrivacyLedger, Sampling
from server.run_settings import RunSettings


def sampling_of(settings: RunSettings) -> Sampling:
    """What the ledger assumes: the real sampling (amplified), or each device's cap."""
    if settings.accounting == "unamplified":
        return Sampling(kind="unamplified", participation_cap=settings.participation_limit)
    if settings.sampling == "poisson":
        return Sampling(kind="poisson", sampling_probability=settings.sampling_rate)
    return Sampling(
        kind="fixed_size", clients_per_round=settings.clients_per_round, population=settings.clients
    )


def noise_multiplier_for(settings: RunSettings) -> float:
    if settings.noise_multiplier is not None:
        return settings.noise_multiplier
    if not settings.private:
        return 0.0
    sampling = sampling_of(settings)
    return calibrate_noise_multiplier(
        target_epsilon=settings.epsilon,
        delta=settings.target_delta,
        rounds=settings.rounds,
        sampling=sampling.kind,
        sampling_probability=sampling.sampling_probability,
        clients_per_round=sampling.clients_per_round,
        population=sampling.population,
        participation_cap=sampling.participation_cap,
    )


def ledger_settings_for(settings: RunSettings) -> LedgerSettings:
    return LedgerSettings(
        sampling=sampling_of(settings),
        noise_multiplier=noise_multiplier_for(settings),
        target_delta=settings.target_delta,
        budget_epsilon=settings.epsilon if settings.private else None,
    )


def open_ledger(settings: RunSettings, path: Path) -> PrivacyLedger:
    """The run's ledger: continued from ``path`` when it exists (never reset)."""
    expected = ledger_settings_for(settings)
    if path.is_file():
        return PrivacyLedger.load(path, expected=expected)
    return PrivacyLedger.from_settings(expected)
