"""The run's settings as an auditor reads them: plain words, one fact per row."""

from __future__ import annotations

from typing import Any

from dashboard.metrics_reader import RunData

RELATIONS = {
    "ADD_OR_REMOVE_ONE": "add or remove one user (Poisson sampling, or unamplified)",
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
    if settings.get("accounting") == "unamplified":
        return f"{described}, among devices below their cap; not credited by the accounting"
    if kind == "poisson" and clients and per_round:
        return f"{described}; q = {per_round}/{clients} = {per_round / clients:.3f}"
    return f"{described}; k = {per_round} of {clients}"


def _accountants(settings: dict[str, Any]) -> str:
    pld = settings.get("sampling") == "poisson" or settings.get("accounting") == "unamplified"
    return "RDP and PLD" if pld else "RDP"


def _clipping(settings: dict[str, Any]) -> str:
    norm = settings.get("clipping_norm", "?")
    if settings.get("adaptive_clipping"):
        quantile = settings.get("target_quantile", "?")
        return f"adaptive (Andrew et al. 2021), starting at {norm}, target quantile {quantile}"
    return f"fixed at {norm}"


CENTRAL_DP = (
    "**Secure aggregation: off.** The server sees each sampled client's *clipped* update "
    "individually and adds the noise itself: this is **central** differential privacy, which "
    "trusts the server to add the noise and to forget individual updates. It protects users "
    "from everyone who sees the released models (and from this dashboard), not from a server "
    "that keeps individual updates. "
)
DISTRIBUTED_DP = (
    "**Secure aggregation: on (SecAgg+).** The server sees only the sum of each round's "
    "updates, never one client's update or scalars; each client adds its share of the noise "
    "before masking, so the sum the server unmasks already carries the calibrated noise "
    "(**distributed** differential privacy). It assumes an honest-but-curious server and "
    "honest client code: the server cannot re-clip a single update inside the sum. "
)
SEE_ALSO = 'See docs/privacy.md, "What the server sees".'


def what_the_server_sees(settings: dict[str, Any]) -> str:
    return (DISTRIBUTED_DP if settings.get("secure_aggregation") else CENTRAL_DP) + SEE_ALSO


def _secure_aggregation(settings: dict[str, Any]) -> str:
    if settings.get("secure_aggregation"):
        tolerance = settings.get("dropout_tolerance", "?")
        return (
            "SecAgg+: the server sees only each round's sum; devices add the noise "
            f"(distributed DP), up to {tolerance} of a round may drop out"
        )
    return "off: the server sees individual clipped updates (central DP)"


def audit_rows(run: RunData, *, min_cohort: int) -> list[tuple[str, str]]:
    """(setting, value) pairs: privacy mechanism first, then training, then the store."""
    s = run.settings
    budget = s.get("epsilon")
    relation = str(s.get("neighbouring_relation", "?"))
    return [
        ("secure aggregation", _secure_aggregation(s)),
        ("privacy unit", "user level: one user = one client = all of that user's data"),
        (
            "privacy budget (epsilon)",
            "none: no noise, no privacy" if budget is None else f"{budget:g}",
        ),
        ("delta", f"{s['delta']:.3e}" if isinstance(s.get("delta"), float) else "?"),
        ("neighbouring relation", RELATIONS.get(relation, relation)),
        ("epsilon rests on", run.accounting_assumption or "not recorded (an older run)"),
        ("sampling", _sampling(s)),
        ("noise multiplier", f"{s.get('noise_multiplier', '?')}"),
        ("clipping", _clipping(s)),
        (
            "noise source",
            "OS entropy (secure)"
            if s.get("secure_noise", True)
            else "seeded (reproducible; experiments only, not for production)",
        ),
        ("accountants", _accountants(s)),
        (
            "clients / per round / rounds",
            f"{s.get('clients')} / {s.get('clients_per_round')} / {s.get('rounds')}",
        ),
        ("population", str(s.get("population", "?"))),
        ("run state", f"{run.state}: {run.detail}" if run.detail else run.state),
        ("dashboard minimum cohort", f"{min_cohort} clients"),
        ("metrics store", f"{run.path} (schema {run.schema_version}, opened read-only)"),
    ]


VERDICTS = {
    "consistent": "No contradiction found: the attack proved no more leakage than the ledger "
    "allows. This is a lower bound from one attack; passing does not prove the run private.",
    "violation": "VIOLATION: the attack proved more leakage than the ledger allows; the "
    "accounting or the mechanism is wrong. Stop the run and investigate.",
    "caught": "A deliberately broken configuration was audited and caught: the audit works.",
    "missed": "A deliberately broken configuration was NOT caught: this audit is too weak "
    "for that break.",
}


def audit_summary(audit: dict[str, Any]) -> str:
    """The latest empirical audit, in plain words, next to the ledger's epsilon."""
    broken = audit.get("broken") or ""
    what = f"a deliberately broken mechanism ({broken})" if broken else "the honest mechanism"
    mode = "secure aggregation" if audit.get("secure_aggregation") else "plain rounds"
    high = audit.get("ci_high")
    interval = "unbounded above" if high is None else f"at most {high:.2f}"
    return (
        f"**Empirical privacy audit** of {what} under {mode}, {audit.get('rounds')} round(s), "
        f"{audit.get('trials_per_arm')} runs with and without a canary device: the attack "
        f"proves epsilon >= **{audit.get('empirical_epsilon_lower', 0.0):.2f}** "
        f"({audit.get('confidence', 0.95):.0%} confidence; its estimate is {interval}); "
        f"the ledger's epsilon for that mechanism is **{audit.get('ledger_epsilon', 0.0):.2f}**. "
        f"Privacy-holes checks passed: {audit.get('checks_passed')}/{audit.get('checks_total')}. "
        + VERDICTS.get(str(audit.get("verdict")), str(audit.get("verdict")))
    )
