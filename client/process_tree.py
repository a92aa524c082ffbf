"""Stopping a process and everything it spawned (Linux ``/proc``).

A Flower SuperNode starts a SuperExec, which starts a ClientApp process per run; the
SuperLink does the same for ServerApps. Killing only the process we started leaves the
others running, so whoever stops a SuperNode (``fedpersona client join``) or a whole local
deployment (``simulation.deployment``) collects the tree first, then ends it: SIGTERM,
a grace period, SIGKILL for what is left.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

GRACE_SECONDS = 15.0


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (Linux /proc), found before anything is killed."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's bookkeeping remains


def process_tree(processes: Sequence[subprocess.Popen[bytes]]) -> set[int]:
    """The pids of ``processes`` and of everything below them."""
    pids = {p.pid for p in processes}
    for process in processes:
        pids |= descendants(process.pid)
    return pids


def stop_tree(
    processes: Sequence[subprocess.Popen[bytes]], grace: float = GRACE_SECONDS
) -> set[int]:
    """Terminate ``processes`` and their descendants; returns the pids it ended."""
    tree = process_tree(processes)
    for pid in tree:
        send_signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while any(alive(pid) for pid in tree) and time.monotonic() < deadline:
        for process in processes:
            process.poll()  # reap ours, or they stay zombies (alive() says no anyway)
        time.sleep(0.2)
    for pid in tree:
        if alive(pid):
            send_signal(pid, signal.SIGKILL)
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    return tree


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on now, for a child process to serve on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def send_signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # it exited on its own
        os.kill(pid, sig)
