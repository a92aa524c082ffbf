"""bench.generalisation_federated runs end to end on a few MSC pairs (structure and the split)."""

from __future__ import annotations

import json

from bench import generalisation_federated
from bench.generalisation_data import msc_sessions
from bench.generalisation_federated import (
    device_examples,
    device_population,
    held_out_rows,
    split_pairs,
)


def test_no_held_out_speaker_is_a_device():
    sessions = msc_sessions(None)
    pairs = sorted({s.pair_id for s in sessions})[:20]
    devices, held = split_pairs(pairs, seed=0)

    population = device_population(sessions, devices, seed=0)
    rows = held_out_rows(sessions, pairs, held, seed=0)

    assert devices.isdisjoint(held)
    assert len(held) == 4
    speakers = {c.user_id for c in population.clients}
    assert speakers
    assert rows
    assert speakers.isdisjoint({r.user_id for r in rows})
    assert {c.user_id.rsplit("-", 1)[0] for c in population.clients} <= devices


def test_federated_msc_bench_writes_every_method(tmp_path, encoder_cache, monkeypatch):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    out = tmp_path / "generalisation_federated.json"

    code = generalisation_federated.main(
        ["--users", "30", "--msc-pairs", "10", "--rounds", "1", "--out", str(out)]
    )

    assert code == 0
    rows = json.loads(out.read_text())["rows"]
    methods = {r["method"] for r in rows}
    assert methods == {
        "cosine",
        "persona_null",
        "head_null",
        "federated_msc",
        "federated_msc_from_central",
    }
    assert all(0.0 <= r["hits@1"] <= 100.0 for r in rows)


def test_each_device_example_carries_the_persona_its_device_holds():
    sessions = msc_sessions(None)
    devices, _ = split_pairs(sorted({s.pair_id for s in sessions})[:20], seed=0)

    held = device_examples(sessions, devices, seed=0)
    population = device_population(sessions, devices, seed=0)

    assert list(held) == [c.user_id for c in population.clients]
    for client in population.clients:
        own = held[client.user_id]
        assert {e.persona for e in own} == {tuple(row[2] for row in client.persona)}
        assert [e.context for e in own] == [p.context for p in client.train]


def test_with_the_term_the_bench_writes_the_pooled_bounds(tmp_path, encoder_cache, monkeypatch):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    out = tmp_path / "generalisation_federated.json"

    small = ["--users", "30", "--msc-pairs", "10", "--rounds", "1"]

    code = generalisation_federated.main([*small, "--reply-match", "--pooled", "--out", str(out)])

    assert code == 0
    methods = {r["method"] for r in json.loads(out.read_text())["rows"]}
    assert {"pooled_msc_reply", "pooled_msc_from_head_reply", "head_reply"} <= methods
