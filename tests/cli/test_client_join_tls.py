"""`fedpersona client join` over TLS: a SuperLink with a certificate from a throwaway CA.

A device that trusts that CA (``--root-certificates``) joins and takes part in a real
SecAgg+ round (the deployed default) beside two simulated SuperNodes, which also connect
over TLS, and `flwr run` reaches the SuperLink over TLS too; a device that trusts another
CA is refused at the handshake and the command ends with an error. With SuperNode
authentication on, only a device whose public key the operator registered
(`flwr supernode register`) gets in.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from client.process_tree import alive, descendants, free_port
from server.metrics_store import MetricsStore
from simulation.deployment import LinkCertificates, LocalDeployment
from tests.cli.chat_driver import new_store
from tests.cli.join_driver import chat_session, join
from tests.cli.tls_certificates import make_certificates, make_node_key
from tests.conftest import REPO_ROOT, SECOND_DEPLOYMENT

# Starts a local deployment: at most two at once (tests/conftest.py).
pytestmark = SECOND_DEPLOYMENT


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
        supernodes=2,
        port=port,
        supernode_ports=[free_port(), free_port()],
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
                    "clients": 3,  # two simulated SuperNodes and the joined device
                    "rounds": 1,
                    "clients-per-round": 3,
                    "sampling": "fixed_size",
                    "epsilon": 10.0,
                    "local-epochs": 1,
                    "secure-aggregation": True,
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
    # Three masked releases were summed: the joined device's among them, over TLS.
    assert row["clients_completed"] == 3, joined_said


def _wait_for(log: Path, text: str, process, timeout: float = 90.0) -> bool:
    """Whether ``text`` shows in ``log`` before ``process`` ends or the time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return True
        if process.poll() is not None:
            return text in log.read_text(errors="replace")
        time.sleep(0.5)
    return False


@pytest.mark.slow
def test_with_supernode_authentication_only_a_registered_device_key_gets_in(
    tmp_path, encoder_cache
):
    certificates = make_certificates(tmp_path / "tls")
    registered, registered_public = make_node_key(tmp_path, "registered")
    stranger, _ = make_node_key(tmp_path, "stranger")
    store = new_store(tmp_path)
    port = free_port()
    deployment = LocalDeployment(
        tmp_path / "deployment",
        supernodes=0,
        port=port,
        tls=LinkCertificates(certificates.ca, certificates.certificate, certificates.key),
        supernode_auth=True,
    )
    superlink = f"127.0.0.1:{port}"
    tls = ("--root-certificates", str(certificates.ca))
    with deployment:
        registration = deployment.register_supernode(registered_public)
        assert registration.returncode == 0, registration.stdout + registration.stderr
        refused_log = tmp_path / "stranger.log"
        refused = join(
            store, superlink, encoder_cache, tmp_path / "h1", refused_log,
            *tls, "--auth-key", str(stranger),
        )  # fmt: skip
        refused_code = refused.wait(timeout=120)
        joined_log = tmp_path / "registered.log"
        joined = join(
            store, superlink, encoder_cache, tmp_path / "h2", joined_log,
            *tls, "--auth-key", str(registered),
        )  # fmt: skip
        try:
            connected = _wait_for(joined_log, "SuperNode ID:", joined)
            tree = {joined.pid} | descendants(joined.pid)
        finally:
            joined.send_signal(signal.SIGINT)  # Ctrl-C
            joined_code = joined.wait(timeout=60)

    refused_said = refused_log.read_text(errors="replace")
    assert refused_code == 1, refused_said
    assert "Failed to activate SuperNode" in refused_said
    assert "SuperNode ID:" not in refused_said
    assert connected, joined_log.read_text(errors="replace")
    assert joined_code == 0
    assert "left the federation" in joined_log.read_text(errors="replace")
    assert len(tree) >= 3  # the command, its SuperNode, the SuperExec
    assert not [pid for pid in tree if alive(pid)]
