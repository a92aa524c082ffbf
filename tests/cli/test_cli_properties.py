"""Issue 12, the class of bugs: no input makes a command print a traceback or lose data.

Hypothesis feeds `store import` random and malformed export documents, and every command
random argument vectors, and checks the contract of cli.failures: a documented
exit code, one line on stderr when it fails, no traceback, and the store unchanged by a
command that failed. The work behind a valid `simulate`, `dashboard`, `demo` or `models`
command (a federated run, a web server, a tour, an encoder export) is replaced by a stub:
what is under test is everything before it. Examples are few and derandomized, so the
suite stays fast and CI sees the same examples every time.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli import demo_command, models_commands
from cli.failures import DOCUMENTED_EXIT_CODES
from client.export import SECTIONS
from client.profile import Profile
from simulation import simulate
from simulation.audit import canary_audit, one_run, privacy_holes
from simulation.audit.canary_audit import run_canary_audit
from simulation.audit.one_run import OneRunAudit
from tests.cli.cli_harness import Outcome, digest, one_line, run_main
from tests.conftest import PASSPHRASE, cli_env, fast_kdf

DETERMINISTIC = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty store, copied afresh for every example."""
    path = tmp_path_factory.mktemp("pristine") / "s.fpstore"
    Profile.create(path, PASSPHRASE, kdf=fast_kdf()).close()
    return path


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("work")


def _fresh(pristine: Path, work: Path) -> Path:
    for leftover in work.iterdir():
        if leftover.is_dir():
            shutil.rmtree(leftover)
        else:
            leftover.unlink()
    store = work / "s.fpstore"
    shutil.copyfile(pristine, store)
    return store


def _check_contract(outcome: Outcome) -> None:
    assert "Traceback" not in outcome.stderr + outcome.stdout
    assert outcome.code in DOCUMENTED_EXIT_CODES, outcome
    if outcome.code != 0:
        assert one_line(outcome.stderr), outcome


# --- export documents ---------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
VALID_RECORDS: dict[str, dict[str, Any]] = {
    "persona": {
        "category": "preferences", "name": "tea", "value": "green", "kind": "dynamic",
        "confidence": 0.5, "evidence": [], "first_seen": 1.0, "last_updated": 1.0,
        "value_since": 1.0, "history": [],
    },
    "turns": {"id": "t", "session_id": "s", "role": "user", "text": "hi", "at": 1.0},
    "summaries": {"id": "s", "session_id": "s", "text": "x", "turn_count": 1, "created_at": 1.0},
    "memories": {
        "id": "m", "text": "x", "kind": "fact", "source_session": None, "embedding": None,
        "links": [], "created_at": 1.0, "updated_at": 1.0,
    },
    "training_pairs": {
        "id": "p", "context": "c", "candidates": ["a", "b"], "chosen": 0, "signal": "picked",
        "weight": 1.0, "session_id": None, "created_at": 1.0,
    },
    "prompt_uses": {
        "id": "u", "session_id": "s", "items": 2, "backed": 1, "persona_keys": ["goals.x"],
        "corrected": False, "at": 1.0,
    },
}  # fmt: skip


@st.composite
def records(draw: st.DrawFn, section: str) -> dict[str, Any]:
    """A valid record of ``section``, with a few of its fields replaced, removed or added."""
    record = dict(VALID_RECORDS[section])
    # Few distinct ids and names, so repeats (which an import must refuse) are common.
    key = draw(st.sampled_from(["a", "b", "c"]) | st.text(min_size=1, max_size=6))
    record["name" if section == "persona" else "id"] = key
    for name in draw(st.lists(st.sampled_from(sorted(record)), max_size=3)):
        if draw(st.booleans()):
            record[name] = draw(json_values)
        else:
            record.pop(name, None)
    if draw(st.integers(0, 9)) == 0:
        record[draw(st.text(max_size=6))] = draw(json_values)
    return record


@st.composite
def documents(draw: st.DrawFn) -> object:
    """Mostly export-shaped documents with damaged parts; sometimes any JSON at all."""
    if draw(st.integers(0, 5)) == 0:
        return draw(json_values)
    document: dict[str, Any] = {"format": "fedpersona-export", "version": 1}
    for section in draw(st.sets(st.sampled_from(sorted(SECTIONS)))):
        if draw(st.integers(0, 7)) == 0:
            document[section] = draw(json_values)
        elif section == "turns" and draw(st.integers(0, 5)) == 0:
            # More turns than the store's ring keeps (50): kept whole or refused, never cut.
            document[section] = [{**VALID_RECORDS["turns"], "id": f"t{i}"} for i in range(51)]
        else:
            document[section] = draw(st.lists(records(section), max_size=4))
    if draw(st.integers(0, 7)) == 0:
        document[draw(st.sampled_from(["format", "version", "profile", "extra"]))] = draw(
            json_values
        )
    return document


def _stored(store: Path) -> dict[str, set[str]]:
    exported = run_main(
        ["store", "export", "--store", str(store), "--passphrase-env", "FP_PASS"], cli_env()
    )
    document = json.loads(exported.stdout)
    return {section: {_key(section, r) for r in document[section]} for section in SECTIONS}


def _key(section: str, record: dict[str, Any]) -> str:
    if section == "persona":
        return f"{record['category']}/{record['name']}"
    return str(record["id"])


@settings(DETERMINISTIC, max_examples=120)
@given(document=documents())
def test_import_of_any_document_keeps_it_whole_or_refuses_it(pristine, work, document):
    store = _fresh(pristine, work)
    file = work / "doc.json"
    file.write_text(json.dumps(document, allow_nan=True))
    before = digest(store)

    outcome = run_main(
        ["store", "import", str(file), "--store", str(store), "--passphrase-env", "FP_PASS"],
        cli_env(),
    )

    _check_contract(outcome)
    assert outcome.code in (0, 2), outcome
    if outcome.code != 0:
        assert digest(store) == before
        return
    assert isinstance(document, dict)
    stored = _stored(store)
    for section in SECTIONS:
        assert len(stored[section]) == len(document.get(section, [])), section
        assert f"{len(stored[section])} {section}" in outcome.stdout


@DETERMINISTIC
@given(raw=st.text(max_size=60) | st.binary(max_size=60).map(lambda b: b.decode("latin-1")))
def test_import_of_any_text_is_refused_cleanly(pristine, work, raw):
    store = _fresh(pristine, work)
    file = work / "doc.json"
    file.write_bytes(raw.encode("utf-8", "surrogatepass"))
    before = digest(store)

    outcome = run_main(
        ["store", "import", str(file), "--store", str(store), "--passphrase-env", "FP_PASS"],
        cli_env(),
    )

    _check_contract(outcome)
    assert outcome.code == 2
    assert digest(store) == before


# --- argument vectors ---------------------------------------------------------------------


@pytest.fixture
def stubbed_work(monkeypatch: pytest.MonkeyPatch, work: Path) -> list[str]:
    """Replace each command's heavy work once its arguments were accepted; record it.

    Relative paths (a drawn ``--out synthetic``, the default ``runs/``) land in ``work``,
    never in the repository.
    """
    monkeypatch.chdir(work)
    ran: list[str] = []

    def fake_simulate(settings: Any, out: Path, **_: Any) -> simulate.SimulationSummary:
        ran.append("simulate")
        return simulate.SimulationSummary("completed", "stub", [], None, None, None, 0, out)

    def fake_exec(*_: Any) -> None:
        ran.append("dashboard")
        raise SystemExit(0)  # execv never returns: the process becomes Streamlit

    def fake_tour(out: Path, *_: Any) -> dict[str, object]:
        ran.append("demo")
        return {
            "plaintext_occurrences": 0,
            "old_passphrase_unlocks": False,
            "forgotten_key_occurrences": 0,
            "integrity_ok": True,
        }

    def fake_export(out: Path | None, **_: Any) -> SimpleNamespace:
        ran.append("models")
        return SimpleNamespace(reused=True, directory=out, manifest=None)

    def fake_audit(plan: Any) -> Any:
        ran.append("audit")
        return run_canary_audit(replace(plan, trials=20, rounds=1))

    monkeypatch.setattr(simulate, "simulate", fake_simulate)
    # `fedpersona audit` imports its round code when it runs: patch it where it lives.
    monkeypatch.setattr(canary_audit, "run_canary_audit", fake_audit)
    monkeypatch.setattr(one_run, "run_one_run_audit", lambda plan: OneRunAudit(10, 2, 1, 0.0, 2.0))
    monkeypatch.setattr(privacy_holes, "run_checks", lambda full: [])
    monkeypatch.setattr("cli.dashboard_command.os.execv", fake_exec)
    monkeypatch.setattr(demo_command, "run_store_tour", fake_tour)
    monkeypatch.setattr(models_commands, "export_encoder", fake_export)
    return ran


def _values(work: Path) -> st.SearchStrategy[str]:
    paths = [
        work / "s.fpstore", work / "missing" / "x", work, work / "file.txt" / "x",
        work / "file.txt", Path("/proc/fedpersona-test"), work / "new.fpstore",
    ]  # fmt: skip
    numbers = st.one_of(
        st.integers(min_value=-3, max_value=12),
        st.sampled_from([10**7, 2**40, 10**30]),
        st.floats(allow_nan=True, allow_infinity=True),
    ).map(lambda n: "nan" if isinstance(n, float) and math.isnan(n) else str(n))
    return st.one_of(
        numbers,
        st.sampled_from([str(p) for p in paths]),
        st.sampled_from(["FP_PASS", "WRONG", "UNSET", "fixed_size", "poisson", "synthetic"]),
        st.text(max_size=8),
    )


COMMANDS: dict[tuple[str, ...], list[str]] = {
    ("store", "init"): ["--store", "--passphrase-env", "--kdf-memory-mib", "--kdf-iterations"],
    ("store", "status"): ["--store", "--passphrase-env", "--json"],
    ("store", "export"): ["--store", "--passphrase-env", "--out", "--skip-damaged"],
    ("store", "import"): ["--store", "--passphrase-env"],
    ("store", "forget"): ["--store", "--passphrase-env", "--item", "--category", "--tier",
                          "--everything", "--yes"],
    ("store", "passwd"): ["--store", "--passphrase-env", "--new-passphrase-env",
                          "--kdf-memory-mib", "--kdf-iterations"],
    ("simulate",): ["--clients", "--rounds", "--clients-per-round", "--sampling", "--epsilon",
                    "--delta", "--noise-multiplier", "--clipping-norm", "--local-epochs",
                    "--learning-rate", "--seed", "--dropout-tolerance", "--target-quantile",
                    "--out", "--population", "--preset"],
    ("dashboard",): ["--store", "--port", "--min-cohort", "--refresh-seconds"],
    ("demo",): ["--out"],
    ("audit",): ["--break", "--plain", "--quick", "--trials", "--rounds", "--epsilon", "--seed",
                 "--out", "--run"],
    ("models", "export-encoder"): ["--out", "--force"],
}  # fmt: skip


BASES = {
    "store": ("--store", "WORK/s.fpstore", "--passphrase-env", "FP_PASS"),
    "simulate": ("--out", "WORK/run", "--noise-multiplier", "1.0"),
    "demo": ("--out", "WORK/tour"),
}


@st.composite
def argument_vectors(draw: st.DrawFn, command: tuple[str, ...], work: Path) -> list[str]:
    options = COMMANDS[command]
    tokens: list[str] = []
    if draw(st.booleans()):  # half the vectors start from a working base, to get past it
        tokens += [t.replace("WORK", str(work)) for t in BASES.get(command[0], ())]
    for _ in range(draw(st.integers(0, 6))):
        if draw(st.integers(0, 4)) == 0:
            tokens.append(draw(_values(work)))  # a stray positional or a bad value
        else:
            tokens += [draw(st.sampled_from(options)), draw(_values(work))]
    return [*command, *tokens]


def _property_for(command: tuple[str, ...]) -> Any:
    @DETERMINISTIC
    @given(data=st.data())
    def check(pristine: Path, work: Path, stubbed_work: list[str], data: st.DataObject) -> None:
        store = _fresh(pristine, work)
        (work / "file.txt").write_text("a regular file")
        argv = data.draw(argument_vectors(command, work))
        before = digest(store)

        outcome = run_main(argv, {"FP_PASS": PASSPHRASE, "WRONG": "not it"})

        _check_contract(outcome)
        if outcome.code != 0:
            assert digest(store) == before, argv

    return check


test_store_init_arguments = _property_for(("store", "init"))
test_store_status_arguments = _property_for(("store", "status"))
test_store_export_arguments = _property_for(("store", "export"))
test_store_import_arguments = _property_for(("store", "import"))
test_store_forget_arguments = _property_for(("store", "forget"))
test_store_passwd_arguments = _property_for(("store", "passwd"))
test_simulate_arguments = _property_for(("simulate",))
test_dashboard_arguments = _property_for(("dashboard",))
test_demo_arguments = _property_for(("demo",))
test_audit_arguments = _property_for(("audit",))
test_models_arguments = _property_for(("models", "export-encoder"))
