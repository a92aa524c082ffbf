"""`fedpersona client join` over TLS: a SuperLink with a certificate from a throwaway CA.

A device that trusts that CA (``--root-certificates``) joins and takes part in a real
round beside a simulated SuperNode, which also connects over TLS, and `flwr run` reaches
the SuperLink over TLS too; a device that trusts another CA is refused at the handshake
and the command ends with an error.
"""

from __future__ import annotations

import signal

import pytest

from client.process_tree import free_port
from server.metrics_store import MetricsStore
from simulation.deployment import LinkCertificates, LocalDeployment
from tests.cli.chat_driver import new_store
from tests.cli.join_driver import chat_session, join
from tests.cli.tls_certificates import make_certificates
from tests.conftest import REPO_ROOT


@pytest.mark.slow
def test_a_device_joins_over_tls_and_one_trusting_another_ca_is_refused(
    tmp_path, encoder_cache, monkeypatch
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    ours = make_certificates(tmp_path / "tls")
    theirs = make_certificates(tmp_path / "other-tls", name="another")
    store = new_store(tmp_path)
    chat_session(store, encoder_cache)
    port = free_port()
    deployment = LocalDeployment(
        tmp_path / "deployment",
        supernodes=1,
        port=port,
        supernode_ports=[free_port()],
        tls=LinkCertificates(ours.ca, ours.certificate, ours.key),
    )
    superlink = f"127.0.0.1:{port}"
    run_dir = tmp_path / "run"
    with deployment:
        refused = join(
            store, superlink, encoder_cache, tmp_path / "h1", tmp_path / "refused.log",
            "--root-certificates", str(theirs.ca),
        )  # fmt: skip
        refused_code = refused.wait(timeout=120)
        joined = join(
            store, superlink, encoder_cache, tmp_path / "h2", tmp_path / "joined.log",
            "--root-certificates", str(ours.ca),
        )  # fmt: skip
        try:
            result = deployment.run(
                REPO_ROOT,
                {
                    "out": str(run_dir),
                    "clients": 2,  # the simulated SuperNode and the joined device
                    "rounds": 1,
                    "clients-per-round": 2,
                    "sampling": "fixed_size",
                    "epsilon": 10.0,
                    "local-epochs": 1,
                    "secure-aggregation": False,
                },
            )
        finally:
            joined.send_signal(signal.SIGTERM)
            joined_code = joined.wait(timeout=60)

    refused_said = (tmp_path / "refused.log").read_text(errors="replace")
    joined_said = (tmp_path / "joined.log").read_text(errors="replace")
    assert refused_code == 1, refused_said
    assert "CERTIFICATE_VERIFY_FAILED" in refused_said
    assert "the SuperNode stopped with exit code" in refused_said
    assert result.returncode == 0, result.stdout + result.stderr
    assert joined_code == 0, joined_said
    assert "Option `--insecure` was set" not in joined_said
    (row,) = MetricsStore(run_dir / "metrics.sqlite").rounds()
    assert row["clients_completed"] == 2, joined_said  # both releases arrived over TLS
