"""The run's settings as an auditor reads them: plain words, one fact per row."""

from __future__ import annotations

from typing import Any

from dashboard.store_reader import RunData

RELATIONS = {
    "ADD_OR_REMOVE_ONE": "add or remove one user (Poisson sampling)",
    "REPLACE_ONE": "replace one user (fixed-size sampling)",
}
SAMPLING = {
    "poisson": "Poisson: each client joins a round independently with probability q",
    "fixed_size": "fixed-size: exactly k clients a round, drawn without replacement",
}


def _sampling(settings: dict[str, Any]) -> str:
    kind = settings.get("sampling", "?")
    clients, per_round = settings.get("clients"), settings.get("clients_per_round")
    described = SAMPLING.get(kind, str(kind))
    if kind == "poisson" and clients and per_round:
        return f"{described}; q = {per_round}/{clients} = {per_round / clients:.3f}"
    return f"{described}; k = {per_round} of {clients}"


def _clipping(settings: dict[str, Any]) -> str:
    norm = settings.get("clipping_norm", "?")
    if settings.get("adaptive_clipping"):
        quantile = settings.get("target_quantile", "?")
        return f"adaptive (Andrew et al. 2021), starting at {norm}, target quantile {quantile}"
    return f"fixed at {norm}"


def audit_rows(run: RunData, *, min_cohort: int) -> list[tuple[str, str]]:
    """(setting, value) pairs: privacy mechanism first, then training, then the store."""
    s = run.settings
    budget = s.get("epsilon")
    relation = str(s.get("neighbouring_relation", "?"))
    return [
        ("secure aggregation", "off: the server sees individual clipped updates (central DP)"),
        ("privacy unit", "user level: one user = one client = all of that user's data"),
        (
            "privacy budget (epsilon)",
            "none: no noise, no privacy" if budget is None else f"{budget:g}",
        ),
        ("delta", f"{s['delta']:.3e}" if isinstance(s.get("delta"), float) else "?"),
        ("neighbouring relation", RELATIONS.get(relation, relation)),
        ("sampling", _sampling(s)),
        ("noise multiplier", f"{s.get('noise_multiplier', '?')}"),
        ("clipping", _clipping(s)),
        (
            "noise source",
            "OS entropy (secure)"
            if s.get("secure_noise", True)
            else "seeded (reproducible; experiments only, not for production)",
        ),
        ("accountants", "RDP and PLD" if s.get("sampling") == "poisson" else "RDP"),
        (
            "clients / per round / rounds",
            f"{s.get('clients')} / {s.get('clients_per_round')} / {s.get('rounds')}",
        ),
        ("population", str(s.get("population", "?"))),
        ("run state", f"{run.state}: {run.detail}" if run.detail else run.state),
        ("dashboard minimum cohort", f"{min_cohort} clients"),
        ("metrics store", f"{run.path} (schema {run.schema_version}, opened read-only)"),
    ]
