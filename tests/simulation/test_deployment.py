"""The deployment engine for real: superlink and supernodes on loopback, 2 SecAgg+ rounds,
no leftovers."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import tomllib
import zipfile

import pytest
from flwr.cli.build import build_fab_from_disk

from simulation.deployment import (
    APP_PACKAGES,
    LocalDeployment,
    PortInUseError,
    free_port,
    stage_app,
)
from tests.conftest import DEPLOYMENT, REPO_ROOT
from tests.simulation.deployed_run import check_deployed_run


# Under SecAgg+: the plain deployment's run and checks are those of the joined device's
# (tests/cli/test_client_join.py), one deployment fewer in the suite.
@DEPLOYMENT
def test_superlink_and_supernodes_run_two_secure_rounds_and_leave_no_process_behind(
    tmp_path, encoder_cache, monkeypatch
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    deployment = LocalDeployment(
        tmp_path / "deployment",
        supernodes=3,
        port=free_port(),
        supernode_ports=[free_port() for _ in range(3)],
    )
    run_dir = tmp_path / "run"

    with deployment:
        result = deployment.run(
            REPO_ROOT,
            {
                "out": str(run_dir),
                "population": "synthetic",
                "clients": 3,
                "rounds": 2,
                "clients-per-round": 3,
                "sampling": "fixed_size",
                "epsilon": 10.0,
                "local-epochs": 1,
                "secure-aggregation": True,
            },
        )
        started = deployment.process_tree()
        ended = deployment.stop()

    assert result.returncode == 0, result.stdout + result.stderr
    check_deployed_run(run_dir, devices=3, secure_aggregation=True, started=started, ended=ended)
    assert started <= ended | started


def test_a_port_in_use_gives_a_clear_error_and_starts_nothing(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        deployment = LocalDeployment(tmp_path, supernodes=2, port=taken)

        with pytest.raises(PortInUseError, match=f"port {taken} on 127.0.0.1 is already in use"):
            deployment.start()

    assert deployment.process_tree() == set()


def test_the_staged_app_bundles_what_pyproject_ships_and_nothing_else(tmp_path):
    flwr_app = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["flwr"]["app"]
    shipped = {pattern.split("/")[0] for pattern in flwr_app["fab-include"]}
    assert shipped == set(APP_PACKAGES)
    for component in flwr_app["components"].values():  # e.g. "simulation.server_app:app"
        assert component.split(".")[0] in APP_PACKAGES

    fab = build_fab_from_disk(stage_app(REPO_ROOT, tmp_path / "app"))

    names = zipfile.ZipFile(io.BytesIO(fab)).namelist()
    assert {name.split("/")[0] for name in names} == {*APP_PACKAGES, "pyproject.toml", ".info"}
    assert "simulation/client_app.py" in names
    assert "simulation/population/taxonomy.json" in names  # the synthetic population's data
    assert not [name for name in names if "__pycache__" in name or "/test_" in name]


def test_a_deployed_nodes_app_loads_without_torch():
    """A SuperNode starts one ClientApp process per message: SecAgg+'s three key stages
    must not pay for torch, which only the training stage imports."""
    script = (
        "import sys, simulation.client_app, protocol.round_instructions\n"
        "print(sorted(m for m in ('torch', 'onnxruntime') if m in sys.modules))\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
