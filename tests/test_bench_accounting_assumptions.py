"""bench.accounting_assumptions compares the accountings for a small run and writes them."""

import json

from bench import accounting_assumptions


def test_the_unamplified_rows_need_more_noise_as_the_cap_grows(tmp_path, capsys):
    out = tmp_path / "results" / "accounting.json"

    argv = ["--clients", "100", "--rounds", "5", "--clients-per-round", "10", "--out", str(out)]
    assert accounting_assumptions.main(argv) == 0

    report = json.loads(out.read_text(encoding="utf-8"))
    labels = [row["accounting"] for row in report["rows"]]
    assert labels == [
        "amplified, Poisson",
        "amplified, fixed-size",
        "unamplified, k = 1",
        "unamplified, k = 2",
        "unamplified, k = 5 (every round)",
    ]
    unamplified = [r["noise_multiplier"] for r in report["rows"][2:]]
    assert unamplified == sorted(unamplified)
    first = report["rows"][0]
    assert first["epsilon_at_reference_z"]["rdp"] <= report["config"]["epsilon"]
    assert "holds however devices are chosen" in report["rows"][2]["assumes"]
    assert "unamplified, k = 1" in capsys.readouterr().out
