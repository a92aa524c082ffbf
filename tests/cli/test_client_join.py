"""`fedpersona client join`: a device built from a real chat session joins a real federation.

A real SuperLink and three simulated SuperNodes on loopback (simulation.deployment), and
beside them one device whose store a scripted `fedpersona chat --offline` session filled
(memories, /good, /bad, /pick), joined through `fedpersona client join --insecure` as a
process of its own, behind a recording TCP proxy that sees every byte it sends. `flwr run`
runs two plain rounds of four devices (and the checks of a plain deployment: its run
record, its accounting, no process left behind). Also the refusals that start nothing.
"""

from __future__ import annotations

import signal
import socket
import threading
from pathlib import Path

import pytest

from client.participation import participations
from client.process_tree import alive, descendants, free_port
from client.profile import Profile
from models.reranking_head import HeadConfig
from models.training import new_head
from models.weights import flatten, get_weights
from privacy.device_release import payload_size
from server.participation import Participation
from server.run_folder import RunFolder
from simulation.deployment import LocalDeployment
from tests.cli.chat_driver import new_store
from tests.cli.join_driver import PLAINTEXT, chat_session, join
from tests.conftest import DEPLOYMENT, PASSPHRASE, REPO_ROOT, cli_env, run_cli
from tests.simulation.deployed_run import check_deployed_run
from tests.simulation.tcp_proxy import RecordingProxy


@DEPLOYMENT
@pytest.mark.slow
def test_a_device_from_a_chat_session_joins_a_real_federation_and_sends_only_its_release(
    tmp_path, encoder_cache, monkeypatch
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    store = new_store(tmp_path)
    chat_session(store, encoder_cache)
    with Profile.open(store, PASSPHRASE) as profile:
        signals = profile.training.count()
    assert signals >= 3  # /good, /bad, /pick at least
    port = free_port()
    deployment = LocalDeployment(
        tmp_path / "deployment",
        supernodes=3,
        port=port,
        supernode_ports=[free_port() for _ in range(3)],
    )
    run_dir = tmp_path / "run"
    log = tmp_path / "join.log"
    with RecordingProxy(("127.0.0.1", port)) as proxy, deployment:
        joined = join(
            store, proxy.address, encoder_cache, tmp_path / "device-flwr", log, "--insecure"
        )
        try:
            result = deployment.run(
                REPO_ROOT,
                {
                    "out": str(run_dir),
                    "population": "synthetic",
                    "clients": 4,  # 3 simulated SuperNodes + the joined device
                    "rounds": 2,
                    "clients-per-round": 4,
                    "sampling": "fixed_size",
                    "epsilon": 10.0,
                    "local-epochs": 1,
                    "secure-aggregation": False,
                },
            )
            tree = {joined.pid} | descendants(joined.pid)
            started = deployment.process_tree()
        finally:
            joined.send_signal(signal.SIGTERM)
            code = joined.wait(timeout=60)
        ended = deployment.stop()
        sent = proxy.sent

    said = log.read_text(errors="replace")
    assert result.returncode == 0, result.stdout + result.stderr
    assert code == 0, said
    assert f"holds {signals} training signal(s)" in said
    assert "left the federation" in said
    assert not [pid for pid in tree if alive(pid)], said  # SuperNode and its children ended
    # The plain deployment itself (tests/simulation/test_deployment.py runs SecAgg+ rounds),
    # the joined device counted in both rounds.
    check_deployed_run(run_dir, devices=4, secure_aggregation=False, started=started, ended=ended)
    token = Participation.open(RunFolder(run_dir).participation_path).token
    with Profile.open(store, PASSPHRASE) as profile:
        assert participations(profile.store, token) == 2
    size = payload_size(flatten(get_weights(new_head(HeadConfig(), seed=0))).size)
    assert len(sent) > 2 * 4 * size  # two releases went through the proxy
    for text in PLAINTEXT:
        assert text.encode() not in sent, f"the device sent {text!r}"


def _refused(store: Path, cache: Path, *args: str, passphrase: str = PASSPHRASE):
    env = {**cli_env(FP_PASS=passphrase), "FEDPERSONA_CACHE_DIR": str(cache)}
    command = ["client", "join", "--store", str(store), "--passphrase-env", "FP_PASS", *args]
    result = run_cli(*command, env=env, timeout=60)
    return result.returncode, result.stdout + result.stderr


def test_a_wrong_passphrase_is_one_clear_line_and_starts_nothing(tmp_path, encoder_cache):
    store = new_store(tmp_path)
    with socket.create_server(("127.0.0.1", 0)) as listening:
        address = f"127.0.0.1:{listening.getsockname()[1]}"
        code, said = _refused(
            store, encoder_cache, "--superlink", address, "--insecure", passphrase="not it"
        )
        listening.setblocking(False)
        with pytest.raises(BlockingIOError):
            listening.accept()  # nothing connected: not even the reachability check ran
    assert code == 2, said
    assert "wrong passphrase" in said.lower()
    assert "Traceback" not in said
    assert "Starting Flower SuperNode" not in said


@pytest.mark.parametrize("host", ["192.0.2.7", "superlink.example.org", "10.0.0.1"])
def test_insecure_is_refused_for_a_superlink_off_this_machine(tmp_path, encoder_cache, host):
    store = new_store(tmp_path)
    code, said = _refused(store, encoder_cache, "--superlink", f"{host}:9092", "--insecure")
    assert code == 2, said
    assert f"--insecure is for loopback only, and {host} is not this machine" in said
    assert "--root-certificates" in said
    assert "Starting Flower SuperNode" not in said


def test_a_superlink_that_does_not_answer_is_a_clear_error(tmp_path, encoder_cache):
    store = new_store(tmp_path)
    closed = free_port()  # nothing listens there
    code, said = _refused(store, encoder_cache, "--superlink", f"127.0.0.1:{closed}", "--insecure")
    assert code == 2, said
    assert f"cannot reach a SuperLink at 127.0.0.1:{closed}" in said
    assert "nothing was started" in said
    assert "Starting Flower SuperNode" not in said


def test_a_superlink_lost_for_longer_than_give_up_after_ends_the_join(tmp_path, encoder_cache):
    """Something answers at the address (the reachability check passes) but hangs up on
    every connection, as a SuperLink going down does: the SuperNode retries for
    --give-up-after seconds, then the join ends and says so (Flower alone would retry
    forever)."""
    store = new_store(tmp_path)
    log = tmp_path / "join.log"
    with socket.create_server(("127.0.0.1", 0)) as hanging_up:
        stop = threading.Event()
        threading.Thread(target=_hang_up_until, args=(hanging_up, stop), daemon=True).start()
        address = f"127.0.0.1:{hanging_up.getsockname()[1]}"
        joined = join(
            store, address, encoder_cache, tmp_path / "flwr", log, "--insecure",
            "--give-up-after", "3",
        )  # fmt: skip
        try:
            code = joined.wait(timeout=180)
        finally:
            stop.set()
            if joined.poll() is None:
                joined.kill()
    said = log.read_text(errors="replace")
    assert code == 1, said
    assert "Giving up reconnection after" in said  # Flower's own words, not a crash
    assert "has left the federation; run `client join` again" in said


def _hang_up_until(server: socket.socket, stop: threading.Event) -> None:
    server.settimeout(0.2)
    while not stop.is_set():
        try:
            connection, _ = server.accept()
        except OSError:
            continue
        connection.close()
