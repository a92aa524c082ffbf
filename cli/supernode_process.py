"""The Flower SuperNode a joined device runs, as a child process, and how it ends.

The SuperNode (``flower-supernode``) connects to the SuperLink, and for each run starts a
SuperExec and a ClientApp process, which open this device's store (client.device_opener).
The store's passphrase reaches them in the environment only. The child gets a session of
its own, so that Ctrl-C at the terminal reaches this process alone, which then stops the
whole tree (client.process_tree), SuperExec and ClientApps included.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from cli.superlink_address import SuperLinkAddress
from client.device_opener import PASSPHRASE_ENV, participation_cap_config, store_path_config
from client.process_tree import free_port, stop_tree


@dataclass(frozen=True)
class SuperNodeLaunch:
    superlink: SuperLinkAddress
    store: Path
    insecure: bool = False
    root_certificates: Path | None = None
    auth_key: Path | None = None  # the SuperNode's private key (Flower's node authentication)
    trusted_entities: Path | None = None  # keys whose signed apps alone may run here
    runtime_port: int = 0  # the SuperNode's local Runtime API; 0: a free one
    participation_cap: int | None = None  # the device's own ceiling on rounds per run
    give_up_after: float | None = None  # seconds without the SuperLink before leaving

    def command(self) -> list[str]:
        command = [_tool("flower-supernode"), "--superlink", str(self.superlink)]
        if self.insecure:
            command.append("--insecure")
        optional = (
            ("--root-certificates", self.root_certificates),
            ("--auth-supernode-private-key", self.auth_key),
            ("--trusted-entities", self.trusted_entities),
        )
        for flag, value in optional:
            if value is not None:
                command += [flag, str(value)]
        if self.give_up_after is not None:
            # Flower retries a lost SuperLink forever unless told otherwise.
            command += ["--max-wait-time", str(self.give_up_after)]
        port = self.runtime_port or free_port()
        # The Runtime API serves the SuperExec on this machine only.
        command += ["--host", "127.0.0.1", "--port", str(port)]
        node_config = [store_path_config(self.store)]
        if self.participation_cap is not None:
            node_config.append(participation_cap_config(self.participation_cap))
        return [*command, "--node-config", " ".join(node_config)]


def supernode_environment(passphrase: str) -> dict[str, str]:
    """Ours, plus the passphrase for the ClientApp, and this interpreter's scripts on PATH
    (the SuperNode finds ``flower-superexec`` and ``flwr-clientapp`` there)."""
    bin_dir = str(Path(sys.executable).parent)
    return {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        PASSPHRASE_ENV: passphrase,
    }


def run_supernode(launch: SuperNodeLaunch, passphrase: str) -> int:
    """Run the SuperNode until it ends, or until Ctrl-C / SIGTERM ends it and its children.

    Returns the SuperNode's exit code, or 0 when this process was asked to leave.
    """
    process = subprocess.Popen(
        launch.command(), env=supernode_environment(passphrase), start_new_session=True
    )
    previous = signal.signal(signal.SIGTERM, _interrupt)
    # Ctrl-C leaves even when this process was started with SIGINT ignored (as a background
    # job is, and Python then installs no KeyboardInterrupt handler of its own).
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return process.wait()
    except KeyboardInterrupt:
        stop_tree([process])
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
        if process.poll() is None:
            stop_tree([process])


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM leaves the federation the way Ctrl-C does


def _tool(name: str) -> str:
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() else name
