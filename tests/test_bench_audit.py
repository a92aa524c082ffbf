"""bench.audit runs end to end at a small size: a row per mode and break, honest below."""

from __future__ import annotations

import json

from bench import audit


def test_audit_bench_writes_a_row_for_each_mode_and_break(tmp_path):
    out = tmp_path / "audit.json"

    code = audit.main(["--trials", "200", "--rounds", "1", "--no-checks", "--out", str(out)])

    rows = json.loads(out.read_text())["rows"]
    assert code == 0
    assert {(r["mode"], r["broken"]) for r in rows} == {
        (mode, broken)
        for mode in ("secagg+", "plain")
        for broken in (None, "no-noise", "wrong-scale", "no-clipping")
    }
    for row in rows:
        if row["broken"] is None:
            assert row["empirical_epsilon_lower"] <= row["ledger_epsilon"]
            assert row["verdict"] == "consistent"
    caught = {(r["mode"], r["broken"]) for r in rows if r["verdict"] == "caught"}
    assert ("secagg+", "no-clipping") in caught
    assert ("plain", "no-noise") in caught
