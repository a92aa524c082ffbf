from __future__ import annotations

from dashboard.audit_facts import what_the_server_sees


def test_without_secure_aggregation_the_audit_says_central_dp():
    text = what_the_server_sees({"secure_aggregation": False})

    assert "Secure aggregation: off" in text
    assert "central" in text


def test_with_secure_aggregation_the_audit_says_the_server_sees_only_sums():
    text = what_the_server_sees({"secure_aggregation": True, "dropout_tolerance": 0.2})

    assert "Secure aggregation: on (SecAgg+)" in text
    assert "only the sum" in text
    assert "distributed" in text


def test_stores_written_before_secure_aggregation_existed_read_as_central_dp():
    assert "Secure aggregation: off" in what_the_server_sees({})
