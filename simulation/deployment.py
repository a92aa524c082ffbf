"""The deployment engine on one machine: a real `flower-superlink`, N `flower-supernode`
processes on loopback, and `flwr run` of this project's apps against them.

Used by tests and by anyone trying the deployment path before spreading supernodes over
devices. Ports are checked before anything starts (a port in use is a clear error, not
a stack trace from a child process), every process gets its own session, and `stop()`
terminates the whole process tree, the runtime processes Flower spawns included.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from client.process_tree import free_port, process_tree, stop_tree

__all__ = [
    "APP_PACKAGES",
    "DeploymentError",
    "LocalDeployment",
    "PortInUseError",
    "check_port_free",
    "free_port",
    "stage_app",
]

CONNECTION = "fedpersona-local"
START_TIMEOUT_S = 60.0
# What the app bundle (FAB) carries: the packages the ServerApp and ClientApp import, as
# pyproject.toml's `fab-include` says (tests/simulation/test_deployment.py holds the two
# together). `flwr run DIR` walks all of DIR before it filters, a checkout's .venv
# included (about 60,000 files: 10-30 s a run here), so `run` stages these first.
APP_PACKAGES = ("client", "models", "privacy", "protocol", "server", "simulation")


class PortInUseError(RuntimeError):
    """A port the deployment needs is taken by another process."""


class DeploymentError(RuntimeError):
    """A deployment process failed to start or a run did not finish."""


def check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as error:
            raise PortInUseError(
                f"port {port} on {host} is already in use by another process; "
                f"stop it or choose another port"
            ) from error


@dataclass(frozen=True)
class LinkCertificates:
    """TLS for the SuperLink: its certificate and key, and the CA that signed them (which
    the supernodes and `flwr run` check it against)."""

    ca: Path
    certificate: Path
    key: Path

    def superlink_flags(self) -> list[str]:
        return [
            "--ssl-ca-certfile",
            str(self.ca),
            "--ssl-certfile",
            str(self.certificate),
            "--ssl-keyfile",
            str(self.key),
        ]


@dataclass
class LocalDeployment:
    root: Path
    supernodes: int
    host: str = "127.0.0.1"
    port: int = 9091
    supernode_ports: list[int] = field(default_factory=list)
    # Where the supernodes reach the SuperLink's Fleet API (default host:port); a test puts
    # a proxy there to see every byte the devices send.
    fleet_address: str | None = None
    # None: no TLS (loopback only); otherwise every link is TLS, checked against the CA.
    tls: LinkCertificates | None = None
    # Only SuperNodes whose public key is registered (`register_supernode`) may connect;
    # Flower allows this over TLS only.
    supernode_auth: bool = False
    _processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.supernode_ports:
            self.supernode_ports = [self.port + 10 + i for i in range(self.supernodes)]
        if len(self.supernode_ports) != self.supernodes:
            raise ValueError("one port per supernode, please")

    @property
    def flwr_home(self) -> Path:
        return self.root / "flwr-home"

    def environment(self) -> dict[str, str]:
        bin_dir = str(Path(sys.executable).parent)  # flower-superexec is found on PATH
        return {
            **os.environ,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "FLWR_HOME": str(self.flwr_home),
            "FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION": "1",
            "FLWR_TELEMETRY_ENABLED": "0",
            "FLWR_DISABLE_UPDATE_CHECK": "1",
        }

    def start(self) -> LocalDeployment:
        for port in (self.port, *self.supernode_ports):
            check_port_free(self.host, port)
        self.root.mkdir(parents=True, exist_ok=True)
        self._write_connection()
        self._spawn(
            "superlink",
            [
                "flower-superlink",
                *(self.tls.superlink_flags() if self.tls else ["--insecure"]),
                *(["--enable-supernode-auth"] if self.supernode_auth else []),
                "--isolation",
                "subprocess",
                "--host",
                self.host,
                "--port",
                str(self.port),
                "--database",
                str(self.root / "superlink.db"),
            ],
        )
        self._wait_listening(self.port, self._processes[0], "superlink")
        for index, port in enumerate(self.supernode_ports):
            self._spawn(
                f"supernode-{index}",
                [
                    "flower-supernode",
                    *(["--root-certificates", str(self.tls.ca)] if self.tls else ["--insecure"]),
                    "--superlink",
                    self.fleet_address or f"{self.host}:{self.port}",
                    "--node-config",
                    f"partition-id={index} num-partitions={self.supernodes}",
                    "--host",
                    self.host,
                    "--port",
                    str(port),
                ],
            )
        return self

    def run(
        self, project: Path, run_config: dict[str, Any], *, timeout: float = 600.0
    ) -> subprocess.CompletedProcess[str]:
        """`flwr run` the project's apps on this deployment and wait for the run to end."""
        overrides = " ".join(f"{key}={_toml(value)}" for key, value in run_config.items())
        app = stage_app(project, self.root / "app")
        return subprocess.run(
            ["flwr", "run", str(app), CONNECTION, "--run-config", overrides, "--stream"],
            env=self.environment(),
            cwd=app,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def register_supernode(self, public_key: Path) -> subprocess.CompletedProcess[str]:
        """`flwr supernode register`: let the SuperNode holding this key's private half in."""
        return subprocess.run(
            ["flwr", "supernode", "register", str(public_key), CONNECTION],
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def process_tree(self) -> set[int]:
        return process_tree(self._processes)

    def stop(self) -> set[int]:
        """Terminate every process this deployment started; returns the pids it ended."""
        tree = stop_tree(self._processes)
        self._processes.clear()
        return tree

    def __enter__(self) -> LocalDeployment:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _spawn(self, name: str, command: list[str]) -> None:
        log = (self.root / f"{name}.log").open("wb")
        self._processes.append(
            subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.environment(),
                start_new_session=True,
            )
        )

    def _wait_listening(self, port: int, process: subprocess.Popen[bytes], name: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if process.poll() is not None:
                log = (self.root / f"{name}.log").read_text(errors="replace")[-2000:]
                raise DeploymentError(f"{name} exited with {process.returncode}:\n{log}")
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                if probe.connect_ex((self.host, port)) == 0:
                    return
            time.sleep(0.2)
        raise DeploymentError(
            f"{name} did not listen on {self.host}:{port} within {START_TIMEOUT_S:.0f} s"
        )

    def _write_connection(self) -> None:
        self.flwr_home.mkdir(parents=True, exist_ok=True)
        (self.flwr_home / "config.toml").write_text(
            f'[superlink]\ndefault = "{CONNECTION}"\n\n[superlink.{CONNECTION}]\n'
            f'address = "{self.host}:{self.port}"\n'
            + (f'root-certificates = "{self.tls.ca}"\n' if self.tls else "insecure = true\n")
        )


def stage_app(project: Path, into: Path) -> Path:
    """A copy of ``project``'s pyproject.toml and app packages in ``into`` (replaced)."""
    if into.exists():
        shutil.rmtree(into)
    into.mkdir(parents=True)
    shutil.copy2(project / "pyproject.toml", into / "pyproject.toml")
    for package in APP_PACKAGES:
        shutil.copytree(
            project / package, into / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    return into


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "") + "'"
